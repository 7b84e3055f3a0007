"""ICE-TCP with headless Chromium: rtcpeer's UDP blocked (test hook), so the only working
pairs are RFC 6544 TCP ones; a pooled transport (iceCandidatePoolSize) is blocked before it
sends anything. Data channel traffic both ways over TCP."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))
from chromium_harness import Session, chromium
from playwright.async_api import BrowserContext

from rtcpeer import RTCPeerConnection

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


async def wait_until(predicate: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("python_offers", [True, False])
async def test_tcp_only_with_chromium(browser: BrowserContext, python_offers: bool) -> None:
    page = await browser.new_page()
    holder: dict[str, Session] = {}
    await page.expose_function("pySignal", lambda text: holder["s"].to_py.put_nowait(text))
    from chromium_harness import PAGE

    await page.set_content(PAGE)
    pc = RTCPeerConnection({"includeLoopback": True, "iceTcp": True, "iceCandidatePoolSize": 1})
    assert pc._ice is not None
    pc._ice.udp_blocked = True  # the pool made the transport: blocked before any check
    s = Session(page, pc, polite=not python_offers)
    holder["s"] = s
    await page.evaluate("p => window.start(p)", python_offers)
    try:
        if python_offers:
            channel = pc.createDataChannel("chat")
        else:
            await s.js("() => window.createChannel('chat')")
            await wait_until(lambda: "chat" in s.channels)
            channel = s.channels["chat"]
        await wait_until(lambda: channel.readyState == "open", 15)
        await s.wait_js("() => window.events.includes('open:chat')")
        pair = pc._ice.get_selected_pair()
        assert pair is not None
        assert pair[0].transport == "tcp" and pair[1].transport == "tcp"
        channel.send("over tcp")
        await s.wait_js("() => window.received.chat.length == 1")
        assert await s.js("() => window.received.chat") == ["over tcp"]
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        await s.js("() => window.send('chat', 'back over tcp')")
        await wait_until(lambda: got == ["back over tcp"])
    finally:
        await s.close()
