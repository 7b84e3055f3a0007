"""The CLI end to end: ``rtcpeer chat`` between two processes, and ``rtcpeer demo``'s one URL
opened as is in headless Chromium (no button pressed) chatting with the Python echo peer."""

from __future__ import annotations

import asyncio
import sys
import tempfile

import pytest
from signaling_helpers import server_process

pytestmark = pytest.mark.slow


async def _chat_process(url: str, room: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcpeer", "chat", room, "--server", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _until_line(proc: asyncio.subprocess.Process, text: str, timeout: float = 20) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, f"process ended before printing {text!r}"
            if text in line:
                return line.strip()


async def test_rtcpeer_chat_between_two_processes() -> None:
    async with server_process() as server:
        alice = await _chat_process(server.url, "cli-chat")
        bob = None
        try:
            first = await _until_line(alice, "in room cli-chat as ")
            alice_id = first.split(" as ", 1)[1].split(";", 1)[0]
            bob = await _chat_process(server.url, "cli-chat")
            second = await _until_line(bob, "in room cli-chat as ")
            bob_id = second.split(" as ", 1)[1].split(";", 1)[0]
            await _until_line(alice, f"* connected to {bob_id}")
            await _until_line(bob, f"* connected to {alice_id}")
            assert alice.stdin is not None and bob.stdin is not None
            alice.stdin.write(b"hello from alice\n")
            await alice.stdin.drain()
            assert await _until_line(bob, "hello from alice") == f"{alice_id}: hello from alice"
            bob.stdin.write("grüße from bob\n".encode())
            await bob.stdin.drain()
            assert await _until_line(alice, "from bob") == f"{bob_id}: grüße from bob"
            bob.stdin.close()  # Ctrl-D: bob leaves, alice is told
            assert await asyncio.wait_for(bob.wait(), 10) == 0
            await _until_line(alice, f"* {bob_id} left")
            alice.stdin.close()
            assert await asyncio.wait_for(alice.wait(), 10) == 0
        finally:
            for proc in (alice, bob):
                if proc is not None and proc.returncode is None:
                    proc.kill()
                    await proc.wait()


@pytest.mark.interop
async def test_demo_prints_one_url_that_works_as_is() -> None:
    from playwright.async_api import async_playwright
    from test_signaling_chromium import ARGS, CHROMIUM

    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcpeer", "demo", "--port", "0", "--turn-port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        line = await _until_line(demo, "Open ")
        assert line.endswith(" in a browser")
        url = line.split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("room=demo&connect=1")
        with tempfile.TemporaryDirectory(prefix="rtcpeer-chromium-") as profile:
            async with async_playwright() as p:
                context = await p.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, headless=False, args=ARGS
                )
                try:
                    page = await context.new_page()
                    await page.goto(url)  # nothing clicked: the link joins by itself
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
    finally:
        if demo.returncode is None:
            demo.terminate()
        await asyncio.wait_for(demo.wait(), 10)
