"""Firefox's default: host candidates hidden behind mDNS names (``<uuid>.local``).

Firefox answers mDNS queries itself (its own responder on port 5353); the data channel must
open and carry data in both offer directions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from firefox_harness import Browser, browser, session

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ff_mdns() -> AsyncIterator[Browser]:
    async with browser({"media.peerconnection.ice.obfuscate_host_addresses": True}) as b:
        yield b


async def wait_until(predicate: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("python_polite", [False, True], ids=["python-offers", "firefox-offers"])
async def test_mdns_host_candidates(ff_mdns: Browser, python_polite: bool) -> None:
    async with session(ff_mdns, python_polite=python_polite) as s:
        if python_polite:
            await s.js("window.createChannel('echo-mdns')")
            await wait_until(lambda: "echo-mdns" in s.channels)
            channel = s.channels["echo-mdns"]
        else:
            channel = s.pc.createDataChannel("echo-mdns")
        await wait_until(lambda: channel.readyState == "open")
        candidates = await s.js("return window.candidates")
        assert candidates and all(".local " in c for c in candidates if " typ host" in c)
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        channel.send("over mdns")
        await wait_until(lambda: got == ["over mdns"])
        # rtcpeer cannot resolve Firefox's names yet (see test_firefox_pending.py): the pair
        # uses the peer-reflexive candidate learnt from Firefox's checks.
        stats = await s.pc.getStats()
        pair = next(v for v in stats.values() if v["type"] == "candidate-pair" and v["nominated"])
        assert stats[pair["remoteCandidateId"]]["candidateType"] in ("host", "prflx")
