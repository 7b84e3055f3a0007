"""Closing data channels against headless Chromium: RFC 6525 stream resets in both directions
(dcsctp checks the re-configuration request sequence numbers) and stream id reuse.

Uses the page and harness of tests/interop (the peer-connection tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))
from chromium_harness import chromium, session

pytestmark = [pytest.mark.interop]


async def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def test_close_both_ways_and_reuse_the_id() -> None:
    async with chromium() as browser, session(browser, python_polite=False) as s:
        mine = s.pc.createDataChannel("py-closes")
        theirs = s.pc.createDataChannel("browser-closes")
        await wait_until(lambda: mine.readyState == theirs.readyState == "open")
        await s.wait_js(
            "() => 'py-closes' in window.received && 'browser-closes' in window.received"
        )
        first_id = mine.id
        mine.close()
        await s.wait_js("() => window.events.includes('close:py-closes')")
        await wait_until(lambda: mine.readyState == "closed")
        assert await s.js("() => { channels['browser-closes'].close(); return true }")
        await wait_until(lambda: theirs.readyState == "closed")
        await s.wait_js("() => window.events.includes('close:browser-closes')")
        again = s.pc.createDataChannel("after-close")
        await wait_until(lambda: again.readyState == "open")
        assert again.id == first_id  # the reset stream is free again on both sides
        again.send("ping")
        await s.wait_js("() => (window.received['after-close'] || []).includes('ping')")
