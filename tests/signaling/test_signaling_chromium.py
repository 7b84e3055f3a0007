"""Headless Chromium: the demo pages join a room through the server and talk over WebRTC."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from rtcpeer.signaling.server import ServerConfig, ServerHandle, run_server

pytestmark = pytest.mark.interop

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
    # Host candidates as plain addresses, not mDNS names nothing here could resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def server() -> AsyncIterator[ServerHandle]:
    async with await run_server("127.0.0.1", 0, ServerConfig()) as handle:
        yield handle


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-chromium-") as profile:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=False, args=ARGS
            )
            try:
                yield context
            finally:
                await context.close()


async def open_page(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    return page


async def test_chat_between_two_pages(server: ServerHandle, browser: BrowserContext) -> None:
    room = "chat-test-room"
    first = await open_page(browser, f"{server.url}/static/chat.html?room={room}")
    second = await open_page(browser, f"{server.url}/static/chat.html?room={room}")
    await first.click("#connect")
    await first.wait_for_function(
        "document.getElementById('status').textContent.includes('in room')"
    )
    await second.click("#connect")
    for page in (first, second):
        await page.wait_for_selector("#send:not([disabled])", timeout=15000)
    members = await server.hub.bus.members(room)
    first_id, second_id = (m.peer for m in members)

    await first.fill("#message", "hello over a data channel")
    await first.click("#send")
    await second.wait_for_function(
        f"document.getElementById('log').textContent.includes('{first_id}: hello over a data channel')",
        timeout=5000,
    )
    await second.fill("#message", "and back")
    await second.press("#message", "Enter")
    await first.wait_for_function(
        f"document.getElementById('log').textContent.includes('{second_id}: and back')",
        timeout=5000,
    )
    # the first page is impolite (it was there first), the second polite
    assert "(impolite)" in await first.text_content("#log")  # type: ignore[operator]
    assert "(polite)" in await second.text_content("#log")  # type: ignore[operator]

    # The server drops the first page's signaling socket: it reconnects under the same id, the
    # other page hears nothing of it, and the data channel never noticed.
    ws = server.hub.rooms[room][first_id].ws
    assert ws is not None
    await ws.close(code=1012, message=b"service restart")
    await first.wait_for_function(
        "document.getElementById('log').textContent.split('in room as').length === 3",
        timeout=5000,
    )
    assert "reconnecting" in (await first.text_content("#log") or "")
    await first.fill("#message", "still here")
    await first.click("#send")
    await second.wait_for_function(
        f"document.getElementById('log').textContent.includes('{first_id}: still here')",
        timeout=5000,
    )
    assert "left" not in (await second.text_content("#log") or "")

    # Disconnect: the other side sees the peer leave through the server.
    await second.click("#disconnect")
    await first.wait_for_function(
        f"document.getElementById('log').textContent.includes('{second_id} left')", timeout=5000
    )


async def test_file_transfer_with_sha256(server: ServerHandle, browser: BrowserContext) -> None:
    room = "files-test-room"
    sender = await open_page(browser, f"{server.url}/static/files.html?room={room}")
    receiver = await open_page(browser, f"{server.url}/static/files.html?room={room}")
    await sender.click("#connect")
    await receiver.click("#connect")
    for page in (sender, receiver):
        await page.wait_for_selector("#send:not([disabled])", timeout=15000)
    payload = bytes((i * 7 + i // 256) % 256 for i in range(300_000))
    digest = hashlib.sha256(payload).hexdigest()
    await sender.set_input_files(
        "#file",
        files=[{"name": "data.bin", "mimeType": "application/octet-stream", "buffer": payload}],
    )
    await sender.click("#send")
    await receiver.wait_for_function(
        "document.getElementById('log').textContent.includes('SHA-256 matches')", timeout=10000
    )
    log = await receiver.text_content("#log")
    assert log is not None and f"data.bin: 300000 bytes, SHA-256 matches ({digest})" in log
    # The receiver confirms over the channel; the sender page reports it.
    await sender.wait_for_function(
        "document.getElementById('log').textContent.includes('the other side got 300000 bytes')",
        timeout=5000,
    )
    sent_log = await sender.text_content("#log")
    assert sent_log is not None and "300000 bytes, SHA-256 matches" in sent_log


async def test_video_call_between_two_pages(server: ServerHandle, browser: BrowserContext) -> None:
    room = "call-test-room"
    first = await open_page(browser, f"{server.url}/static/call.html?room={room}")
    second = await open_page(browser, f"{server.url}/static/call.html?room={room}")
    await first.click("#start")
    await first.wait_for_function(
        "document.getElementById('status').textContent.includes('in room')"
    )
    await second.click("#start")
    for page in (first, second):
        # Chromium's fake camera is 640x480; a decoded remote frame proves media flowed.
        # (Software VP8 in two pages: slow on a busy 2-core machine, hence the long timeout.)
        await page.wait_for_function(
            "document.getElementById('remote').videoWidth === 640", timeout=30000
        )
    await first.click("#hangup")
    await second.wait_for_function(
        "document.getElementById('remote').srcObject === null", timeout=5000
    )
