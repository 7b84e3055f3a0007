"""rtcpeer against Chromium with its default mDNS-hidden host candidates (".local" names)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from chromium_harness import MDNS_ARGS, chromium, session
from playwright.async_api import BrowserContext

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium(MDNS_ARGS) as context:
        yield context


@pytest.mark.parametrize("python_offers", [True, False])
async def test_connects_with_mdns_candidates(browser: BrowserContext, python_offers: bool) -> None:
    async with session(browser, python_polite=not python_offers) as s:
        seen: list[str] = []
        original = s.negotiator.on_message

        async def spy(msg: dict[str, object]) -> None:
            cand = msg.get("candidate")
            if isinstance(cand, dict):
                seen.append(str(cand.get("candidate", "")))
            await original(msg)

        s.negotiator.on_message = spy  # type: ignore[method-assign]
        if python_offers:
            channel = s.pc.createDataChannel("echo-mdns")
        else:
            await s.js("() => window.createChannel('echo-mdns')")
            for _ in range(1000):
                if "echo-mdns" in s.channels:
                    break
                await asyncio.sleep(0.01)
            channel = s.channels["echo-mdns"]
        for _ in range(1000):
            if channel.readyState == "open":
                break
            await asyncio.sleep(0.01)
        assert channel.readyState == "open"
        got: list[object] = []
        channel.onmessage = lambda e: got.append(e.data)
        channel.send("via mdns")  # the page echoes it
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == ["via mdns"]
        # Chromium's candidates arrive trickled (seen by the spy) or, when it gathered before
        # its description was sent, inside the description itself.
        remote = s.pc.remoteDescription
        signalled = [*seen, remote.sdp if remote is not None else ""]
        assert any(".local" in c for c in signalled), signalled
