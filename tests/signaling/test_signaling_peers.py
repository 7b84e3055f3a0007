"""Python peers meeting through the signaling server: chat, a file with SHA-256, a browser."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path

import pytest

from rtcpeer.signaling.peers import recv_file, run_chat, send_file
from rtcpeer.signaling.server import run_server


async def test_file_arrives_with_the_same_sha256(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with source.open("wb") as f:
        for i in range(16):  # the CLI test (tests/test_cli.py) sends 50 MiB
            f.write(hashlib.sha256(bytes([i])).digest() + block[32:])
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    async with await run_server() as server:
        receiving = asyncio.create_task(
            recv_file(server.url, "files", tmp_path / "out", timeout=60, progress=io.StringIO())
        )
        await asyncio.sleep(0.1)
        bar = io.StringIO()
        reply = await send_file(server.url, "files", source, timeout=60, progress=bar)
        path, ok, digest = await receiving
    assert ok and digest == expected
    assert reply == {
        "type": "received",
        "name": "big.bin",
        "size": 16 << 20,
        "sha256": expected,
        "ok": True,
    }
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected
    assert "100.0%" in bar.getvalue()


async def test_two_python_chat_peers() -> None:
    async with await run_server() as server:
        lines_a: asyncio.Queue[str | None] = asyncio.Queue()
        lines_b: asyncio.Queue[str | None] = asyncio.Queue()
        out_a, out_b = io.StringIO(), io.StringIO()
        a = asyncio.create_task(run_chat(server.url, "talk", lines=lines_a, out=out_a))
        await asyncio.sleep(0.1)
        b = asyncio.create_task(run_chat(server.url, "talk", lines=lines_b, out=out_b))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while "* connected" not in out_a.getvalue() or "* connected" not in out_b.getvalue():
            assert loop.time() < deadline, (out_a.getvalue(), out_b.getvalue())
            await asyncio.sleep(0.02)
        await lines_a.put("hello from a")
        while "hello from a" not in out_b.getvalue():
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        await lines_b.put(None)
        await asyncio.wait_for(b, 5)
        while "left" not in out_a.getvalue():
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        await lines_a.put(None)
        await asyncio.wait_for(a, 5)


@pytest.mark.interop
async def test_chromium_chat_page_talks_to_the_python_echo_peer() -> None:
    import tempfile

    from playwright.async_api import async_playwright
    from test_signaling_chromium import ARGS, CHROMIUM

    from rtcpeer.signaling.peers import run_echo_peer

    async with await run_server() as server:
        echo = asyncio.create_task(run_echo_peer(server.url, "demo"))
        await asyncio.sleep(0.2)
        with tempfile.TemporaryDirectory(prefix="rtcpeer-chromium-") as profile:
            async with async_playwright() as p:
                context = await p.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, headless=False, args=ARGS
                )
                try:
                    page = await context.new_page()
                    await page.goto(f"{server.url}/static/chat.html?room=demo")
                    await page.click("#connect")
                    await page.wait_for_function(
                        "document.getElementById('log').textContent.includes('Hello from Python')",
                        timeout=15000,
                    )
                    await page.fill("#message", "ping")
                    await page.click("#send")
                    await page.wait_for_function(
                        "document.getElementById('log').textContent.includes('echo: ping')",
                        timeout=5000,
                    )
                finally:
                    await context.close()
        echo.cancel()
        await asyncio.gather(echo, return_exceptions=True)
