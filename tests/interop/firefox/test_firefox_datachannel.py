"""rtcpeer against headless Firefox (firefox-esr over Marionette): data channels."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from firefox_harness import Browser, browser, session

from rtcpeer import RTCDataChannel
from rtcpeer.peerconnection import LOCAL_MAX_MESSAGE_SIZE

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ff() -> AsyncIterator[Browser]:
    async with browser() as b:
        yield b


async def wait_until(predicate: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def opened(channel: RTCDataChannel) -> None:
    await wait_until(lambda: channel.readyState == "open")


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


async def test_python_offers(ff: Browser) -> None:
    async with session(ff, python_polite=False) as s:
        channel = s.pc.createDataChannel("chat")
        await opened(channel)
        assert s.pc.localDescription is not None and s.pc.localDescription.type == "offer"
        await s.wait_js("return window.events.includes('open:chat')")
        channel.send("hello firefox")
        channel.send(b"\x01\x02\x03")
        await s.wait_js("return window.received.chat.length == 2")
        assert await s.js("return window.received.chat") == ["hello firefox", "bin:3"]
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        await s.js("window.send('chat', 'hello python')")
        await s.js("window.sendBytes('chat', 5)")
        await wait_until(lambda: len(got) == 2)
        assert got == ["hello python", b"\x00\x01\x02\x03\x04"]
        assert s.pc.connectionState == "connected"
        assert (await s.state())["connection"] == "connected"
        # Trickle both ways: candidates went one by one in each direction.
        assert s.candidates_sent >= 1
        assert s.candidates_received >= 1


async def test_firefox_offers(ff: Browser) -> None:
    async with session(ff, python_polite=True) as s:
        await s.js("window.createChannel('echo-firefox')")
        await wait_until(lambda: "echo-firefox" in s.channels)
        channel = s.channels["echo-firefox"]
        await opened(channel)
        assert s.pc.localDescription is not None and s.pc.localDescription.type == "answer"
        await echo_round_trip(channel, ["ping", b"pong"])
        state = await s.state()
        assert state["signaling"] == "stable" and state["connection"] == "connected"
        assert s.candidates_sent >= 1 and s.candidates_received >= 1


@pytest.mark.parametrize("python_polite", [True, False])
async def test_glare(ff: Browser, python_polite: bool) -> None:
    async with session(ff, python_polite=python_polite) as s:
        s.hold()
        mine = s.pc.createDataChannel("echo-py")
        await s.js("window.createChannel('from-firefox')")
        await wait_until(lambda: s.pc.signalingState == "have-local-offer")
        await s.wait_js("return window.state().signaling == 'have-local-offer'")
        s.release()  # both offers cross: glare, resolved by the polite side's rollback
        await opened(mine)
        await wait_until(lambda: "from-firefox" in s.channels)
        await opened(s.channels["from-firefox"])
        await echo_round_trip(mine, ["after glare"])
        s.channels["from-firefox"].send("to firefox")
        await s.wait_js("return window.received['from-firefox'].length == 1")
        await wait_until(lambda: s.pc.signalingState == "stable")
        errors = [e for e in await s.js("return window.events") if e.startswith("error")]
        assert not errors, errors


async def test_message_sizes(ff: Browser) -> None:
    async with session(ff, python_polite=False) as s:
        channel = s.pc.createDataChannel("echo-sizes")
        await opened(channel)
        # Each side honours the other's a=max-message-size: Firefox announces 1073741823,
        # rtcpeer 262144 (LOCAL_MAX_MESSAGE_SIZE); Firefox refuses to send more than that.
        assert await s.js("return window.maxMessageSize()") == LOCAL_MAX_MESSAGE_SIZE
        assert s.pc.sctp is not None and s.pc.sctp.maxMessageSize >= 262144
        too_big = "try { window.sendBytes('echo-sizes', arguments[0]); return 'sent'; }"
        too_big += " catch (e) { return e.name; }"
        assert await s.js(too_big, LOCAL_MAX_MESSAGE_SIZE + 1) == "TypeError"
        sizes = [1, 2, 1000, 1200, 16384, 65536, 100000, 262144]
        payloads: list[Any] = []
        for n in sizes:
            payloads.append(os.urandom(n))
            payloads.append("z" * n)
        await echo_round_trip(channel, payloads, timeout=30)
        got: list[Any] = []
        channel.onmessage = lambda e: got.append(e.data)
        await s.js("window.sendBytes('echo-sizes', 262144)")
        await s.js("window.send('echo-sizes', 'é'.repeat(100000))")
        await wait_until(lambda: len(got) == 2)
        assert got[0] == bytes(i & 255 for i in range(262144))
        assert got[1] == "é" * 100000


async def test_thousand_ordered_messages(ff: Browser) -> None:
    async with session(ff, python_polite=False) as s:
        channel = s.pc.createDataChannel("echo-bulk")
        await opened(channel)
        payloads: list[Any] = [f"message {i:04d}" for i in range(1000)]
        payloads[::7] = [f"bytes {i}".encode() for i in range(0, 1000, 7)]
        await echo_round_trip(channel, payloads, timeout=30)


async def test_channel_kinds(ff: Browser) -> None:
    async with session(ff, python_polite=False) as s:
        ordered = s.pc.createDataChannel("echo-ordered")
        unordered = s.pc.createDataChannel("echo-unordered", {"ordered": False})
        rtx0 = s.pc.createDataChannel("echo-rtx0", {"ordered": False, "maxRetransmits": 0})
        negotiated = s.pc.createDataChannel("echo-neg", {"negotiated": True, "id": 5})
        await s.js("window.createChannel('echo-neg', {negotiated: true, id: 5})")
        for ch in (ordered, unordered, rtx0, negotiated):
            await opened(ch)
        await s.wait_js(
            "return ['echo-ordered','echo-unordered','echo-rtx0'].every(l => l in window.received)"
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
        assert sorted(got_r) == sorted(f"r{i}" for i in range(20))
        assert negotiated.id == 5
        await echo_round_trip(negotiated, ["over negotiated id 5", b"\x05"])


async def test_channels_from_firefox_with_options(ff: Browser) -> None:
    async with session(ff, python_polite=True) as s:
        await s.js("window.createChannel('echo-ff-unordered', {ordered: false})")
        await s.js("window.createChannel('echo-ff-rtx0', {ordered: false, maxRetransmits: 0})")
        await s.js("window.createChannel('echo-ff-life', {maxPacketLifeTime: 500})")
        await wait_until(lambda: len(s.channels) == 3)
        unordered = s.channels["echo-ff-unordered"]
        rtx0 = s.channels["echo-ff-rtx0"]
        life = s.channels["echo-ff-life"]
        for ch in (unordered, rtx0, life):
            await opened(ch)
        assert unordered.ordered is False
        assert rtx0.maxRetransmits == 0 and rtx0.ordered is False
        assert life.maxPacketLifeTime == 500
        got: list[Any] = []
        rtx0.onmessage = lambda e: got.append(e.data)
        for i in range(20):
            rtx0.send(f"x{i}")
        await wait_until(lambda: len(got) == 20)
        assert sorted(got) == sorted(f"x{i}" for i in range(20))
        await echo_round_trip(life, ["within lifetime"])


@pytest.mark.parametrize("first_offer", ["python", "firefox"])
@pytest.mark.parametrize("initiator", ["firefox", "python"])
async def test_ice_restart(ff: Browser, initiator: str, first_offer: str) -> None:
    async with session(ff, python_polite=initiator == "firefox") as s:
        if first_offer == "python":
            channel = s.pc.createDataChannel("echo-restart")
        else:
            await s.js("window.createChannel('restart-from-firefox')")
            await wait_until(lambda: "restart-from-firefox" in s.channels)
            await opened(s.channels["restart-from-firefox"])
            channel = s.pc.createDataChannel("echo-restart")
        await opened(channel)
        await s.wait_js("return 'echo-restart' in window.received")
        before = await s.state()
        py_before = ufrag(s.pc.localDescription.sdp if s.pc.localDescription else None)
        if initiator == "firefox":
            await s.js("window.restart()")
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

        for _ in range(250):
            if await changed():
                break
            await asyncio.sleep(0.02)
        assert await changed()
        assert ufrag(s.pc.localDescription.sdp if s.pc.localDescription else None) != py_before
        await wait_until(lambda: s.pc.iceConnectionState in ("connected", "completed"))
        channel.onmessage = None
        await echo_round_trip(channel, ["after restart", b"after restart"])


async def test_close_from_python(ff: Browser) -> None:
    async with session(ff, python_polite=False) as s:
        keep = s.pc.createDataChannel("keep")
        gone = s.pc.createDataChannel("gone")
        await opened(keep)
        await opened(gone)
        await s.wait_js("return window.events.includes('open:gone')")
        closed: list[str] = []
        gone.onclose = lambda e: closed.append("gone")
        gone.close()
        await s.wait_js("return window.events.includes('close:gone')")
        await wait_until(lambda: gone.readyState == "closed" and closed == ["gone"])
        keep.send("still here")
        await s.wait_js("return window.received.keep.length == 1")
        assert (await s.state())["channels"] == {"keep": "open", "gone": "closed"}
        task = s.pc.close()
        if task is not None:
            await task
        assert keep.readyState == "closed"
        await s.wait_js("return window.events.includes('close:keep')")


async def test_close_from_firefox(ff: Browser) -> None:
    async with session(ff, python_polite=True) as s:
        await s.js("window.createChannel('a')")
        await s.js("window.createChannel('b')")
        await wait_until(lambda: len(s.channels) == 2)
        a, b = s.channels["a"], s.channels["b"]
        await opened(a)
        await opened(b)
        closed: list[str] = []
        a.onclose = lambda e: closed.append("a")
        b.onclose = lambda e: closed.append("b")
        await s.js("window.closeChannel('a')")
        await wait_until(lambda: closed == ["a"])
        assert a.readyState == "closed" and b.readyState == "open"
        b.send("b still open")
        await s.wait_js("return window.received.b.length == 1")
        await s.js("window.closePc()")
        # Firefox's close aborts the SCTP association; the channel and peer must notice.
        await wait_until(lambda: closed == ["a", "b"], timeout=10)
        assert b.readyState == "closed"
