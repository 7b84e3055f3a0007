"""rtcpeer resolves Firefox's ``<uuid>.local`` host candidates over mDNS.

Firefox's responder (firefox-esr 153) ignores legacy unicast (RFC 6762 section 6.7) and answers
by multicast from port 5353 to port 5353, so ``rtcpeer.aio.mdns.resolve`` also listens on the
group's port (a regression test: before that, resolution timed out and calls only connected
through peer-reflexive candidates).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from firefox_harness import Browser, browser, session

from rtcpeer.aio.mdns import resolve

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


async def test_resolves_firefox_mdns_name(ff_mdns: Browser) -> None:
    async with session(ff_mdns, python_polite=True) as s:
        await s.js("window.createChannel('mdns')")
        await wait_until(lambda: "mdns" in s.channels)
        await wait_until(lambda: s.channels["mdns"].readyState == "open")
        candidates = await s.js("return window.candidates")
        names = [c.split()[4] for c in candidates if c and ".local" in c.split()[4]]
        assert names, candidates
        address = await resolve(names[0], timeout=1.5)
        assert address is not None, names[0]
        ipaddress.ip_address(address)  # a real address, not another name
