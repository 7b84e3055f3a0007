"""Media over RTCPeerConnection against headless Firefox (fake getUserMedia streams).

"firefox-first": Firefox offers its fake camera and microphone; Python answers (recvonly),
decodes >= 30 video frames and receives audio, then adds a VP8 test pattern and a tone mid-call
(perfect negotiation renegotiates) and Firefox must decode >= 30 of Python's frames (getStats
framesDecoded). "python-first": the other way round.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from firefox_harness import Browser, Session, browser, session

from rtcpeer import MediaStream
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(90),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ff() -> AsyncIterator[Browser]:
    async with browser() as b:
        yield b


async def wait_until(predicate: Any, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def firefox_decodes(s: Session, count: int, timeout: float = 20) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    got: dict[str, Any] = {}
    while loop.time() < end:
        got = await s.js_async("window.inboundVideo()")
        if got["frames"] >= count:
            return str(got["codec"])
        await asyncio.sleep(0.25)
    events = await s.js("return window.events")
    raise AssertionError(f"Firefox decoded {got} of Python's video frames; events {events}")


@pytest.mark.parametrize("python_first", [False, True], ids=["firefox-first", "python-first"])
async def test_firefox_and_python_exchange_media(ff: Browser, python_first: bool) -> None:
    async with session(ff, python_polite=True) as s:
        pc = s.pc
        frames = {"audio": 0, "video": 0}
        events: list[Any] = []
        readers: list[asyncio.Task[None]] = []

        async def read(track: Any) -> None:
            while True:
                await track.recv()
                frames[track.kind] += 1

        def on_track(event: Any) -> None:
            events.append(event)
            readers.append(asyncio.ensure_future(read(event.track)))

        pc.addEventListener("track", on_track)
        try:
            stream = MediaStream()
            if python_first:
                pc.addTrack(VideoTestTrack(320, 240), stream)
                pc.addTrack(AudioToneTrack(), stream)
                codec = await firefox_decodes(s, 30)
                assert await s.js_async("window.addMedia()") == 2
                await wait_until(lambda: frames["video"] >= 30 and frames["audio"] >= 30, 20)
            else:
                assert await s.js_async("window.addMedia()") == 2
                await wait_until(lambda: frames["video"] >= 30 and frames["audio"] >= 30, 20)
                assert [t.currentDirection for t in pc.getTransceivers()] == ["recvonly"] * 2
                pc.addTrack(VideoTestTrack(320, 240), stream)
                pc.addTrack(AudioToneTrack(), stream)
                assert len(pc.getTransceivers()) == 2
                codec = await firefox_decodes(s, 30)
            assert codec.lower() == "video/vp8"
            await wait_until(
                lambda: [t.currentDirection for t in pc.getTransceivers()] == ["sendrecv"] * 2
            )
            assert {e.track.kind for e in events} == {"audio", "video"}
            stats = await pc.getStats()
            inbound = {v["kind"]: v for v in stats.values() if v["type"] == "inbound-rtp"}
            outbound = {v["kind"]: v for v in stats.values() if v["type"] == "outbound-rtp"}
            assert inbound["video"]["framesDecoded"] >= 30
            assert inbound["audio"]["packetsReceived"] > 0
            assert outbound["video"]["bytesSent"] > 0 and outbound["audio"]["packetsSent"] > 0
            errors = [e for e in await s.js("return window.events") if "error" in e]
            assert not errors, errors
        finally:
            for task in readers:
                task.cancel()
