"""rtcpeer against headless Chromium, both sides running MDN's perfect negotiation."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from chromium_harness import chromium, session
from playwright.async_api import BrowserContext

from rtcpeer import RTCDataChannel

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


async def opened(channel: RTCDataChannel, pc: Any = None) -> None:
    try:
        await wait_until(lambda: channel.readyState == "open")
    except TimeoutError:
        state = f"channel {channel.label!r} id={channel.id} is {channel.readyState}"
        if pc is not None:
            state += (
                f"; pc signaling={pc.signalingState} ice={pc.iceConnectionState}"
                f" connection={pc.connectionState} gathering={pc.iceGatheringState}"
                f" local={pc.localDescription.sdp.count('a=candidate') if pc.localDescription else None}"
                f" remote={pc.remoteDescription.sdp.count('a=candidate') if pc.remoteDescription else None}"
            )
        raise TimeoutError(state) from None


async def echo_round_trip(
    channel: RTCDataChannel, payloads: list[Any], timeout: float = 20
) -> None:
    got: list[Any] = []
    done = asyncio.get_running_loop().create_future()

    def on_message(event: Any) -> None:
        got.append(event.data)
        if len(got) == len(payloads) and not done.done():
            done.set_result(None)

    channel.addEventListener("message", on_message)
    for p in payloads:
        channel.send(p)
    await asyncio.wait_for(done, timeout)
    channel.removeEventListener("message", on_message)
    assert got == payloads


def ufrag(sdp: str | None) -> str:
    assert sdp is not None
    match = re.search(r"a=ice-ufrag:(\S+)", sdp)
    assert match is not None
    return match.group(1)


async def test_python_offers(browser: BrowserContext) -> None:
    async with session(browser, python_polite=False) as s:
        channel = s.pc.createDataChannel("chat")
        await opened(channel)
        assert s.pc.localDescription is not None and s.pc.localDescription.type == "offer"
        await s.wait_js("() => window.events.includes('open:chat')")
        channel.send("hello chromium")
        channel.send(b"\x01\x02\x03")
        await s.wait_js("() => window.received.chat.length == 2")
        assert await s.js("() => window.received.chat") == ["hello chromium", "bin:3"]
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        await s.js("() => window.send('chat', 'hello python')")
        await wait_until(lambda: got == ["hello python"])
        assert s.pc.connectionState == "connected"
        assert s.candidates_sent >= 1  # trickled one by one
        stats = await s.pc.getStats()
        assert any(v["type"] == "candidate-pair" for v in stats.values())


async def test_chromium_offers(browser: BrowserContext) -> None:
    async with session(browser, python_polite=True) as s:
        await s.js("() => window.createChannel('echo-chrome')")
        await wait_until(lambda: "echo-chrome" in s.channels)
        channel = s.channels["echo-chrome"]
        await opened(channel)
        assert s.pc.localDescription is not None and s.pc.localDescription.type == "answer"
        await echo_round_trip(channel, ["ping", b"pong"])
        state = await s.state()
        assert state["signaling"] == "stable" and state["connection"] == "connected"


@pytest.mark.parametrize("python_polite", [True, False])
async def test_glare(browser: BrowserContext, python_polite: bool) -> None:
    async with session(browser, python_polite=python_polite) as s:
        s.hold()
        mine = s.pc.createDataChannel("echo-py")
        await s.js("() => window.createChannel('from-chrome')")
        await wait_until(lambda: s.pc.signalingState == "have-local-offer")
        await s.wait_js("() => window.state().signaling == 'have-local-offer'")
        s.release()  # both offers cross: glare
        await opened(mine)
        await wait_until(lambda: "from-chrome" in s.channels)
        await opened(s.channels["from-chrome"])
        await echo_round_trip(mine, ["after glare"])
        s.channels["from-chrome"].send("to chrome")
        await s.wait_js("() => window.received['from-chrome'].length == 1")
        await wait_until(lambda: s.pc.signalingState == "stable")


@pytest.mark.parametrize("first_offer", ["python", "chromium"])
@pytest.mark.parametrize("initiator", ["chromium", "python"])
async def test_ice_restart(browser: BrowserContext, initiator: str, first_offer: str) -> None:
    async with session(browser, python_polite=initiator == "chromium") as s:
        if first_offer == "python":
            channel = s.pc.createDataChannel("echo-restart")
        else:
            await s.js("() => window.createChannel('restart-from-chrome')")
            await wait_until(lambda: "restart-from-chrome" in s.channels)
            await opened(s.channels["restart-from-chrome"])
            # A second channel from Python needs no new negotiation (data is negotiated).
            channel = s.pc.createDataChannel("echo-restart")
        await opened(channel)
        await s.wait_js("() => 'echo-restart' in window.received")
        before = await s.state()
        py_before = ufrag(s.pc.localDescription.sdp if s.pc.localDescription else None)
        if initiator == "chromium":
            await s.js("() => window.restart()")
        else:
            s.pc.restartIce()
        payloads = [f"during restart {i}" for i in range(100)]
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        for p in payloads:
            channel.send(p)
            await asyncio.sleep(0.002)
        await wait_until(lambda: len(got) == len(payloads))
        assert got == payloads

        async def changed() -> bool:
            st = await s.state()
            return bool(
                st["localUfrag"] != before["localUfrag"]
                and st["remoteUfrag"] != before["remoteUfrag"]
                and st["signaling"] == "stable"
            )

        for _ in range(500):
            if await changed():
                break
            await asyncio.sleep(0.02)
        assert await changed()
        assert ufrag(s.pc.localDescription.sdp if s.pc.localDescription else None) != py_before
        await wait_until(lambda: s.pc.iceConnectionState in ("connected", "completed"))
        channel.onmessage = None
        await echo_round_trip(channel, ["after restart"])


async def test_channel_kinds(browser: BrowserContext) -> None:
    async with session(browser, python_polite=False) as s:
        ordered = s.pc.createDataChannel("echo-ordered")
        unordered = s.pc.createDataChannel("echo-unordered", {"ordered": False})
        rtx0 = s.pc.createDataChannel("echo-rtx0", {"maxRetransmits": 0})
        negotiated = s.pc.createDataChannel("echo-neg", {"negotiated": True, "id": 5})
        await s.js("() => window.createChannel('echo-neg', {negotiated: true, id: 5})")
        for ch in (ordered, unordered, rtx0, negotiated):
            await opened(ch, s.pc)
        await s.wait_js(
            "() => ['echo-ordered','echo-unordered','echo-rtx0'].every(l => l in window.received)"
        )
        await echo_round_trip(ordered, [f"o{i}" for i in range(50)])
        msgs = [f"u{i}" for i in range(50)]
        got: list[Any] = []
        unordered.onmessage = lambda e: got.append(e.data)
        for m in msgs:
            unordered.send(m)
        await wait_until(lambda: len(got) == 50)
        assert sorted(got) == sorted(msgs)
        got_r: list[Any] = []
        rtx0.onmessage = lambda e: got_r.append(e.data)
        for i in range(20):
            rtx0.send(f"r{i}")
        await wait_until(lambda: len(got_r) == 20)  # loopback loses nothing
        assert negotiated.id == 5
        await echo_round_trip(negotiated, ["over negotiated id 5"])


async def test_ten_thousand_ordered_messages(browser: BrowserContext) -> None:
    async with session(browser, python_polite=False) as s:
        channel = s.pc.createDataChannel("echo-bulk")
        await opened(channel)
        await echo_round_trip(channel, [f"message {i:05d}" for i in range(10000)], timeout=60)


async def test_message_sizes(browser: BrowserContext) -> None:
    async with session(browser, python_polite=False) as s:
        channel = s.pc.createDataChannel("echo-sizes")
        await opened(channel)
        sizes = [1, 2, 1000, 1200, 16384, 65536, 100000, 262144]
        payloads: list[Any] = []
        for n in sizes:
            payloads.append(os.urandom(n))
            payloads.append("z" * n)
        await echo_round_trip(channel, payloads, timeout=30)
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        await s.js("() => window.sendBytes('echo-sizes', 262144)")
        await wait_until(lambda: len(got) == 1)
        assert got[0] == bytes(i & 255 for i in range(262144))
