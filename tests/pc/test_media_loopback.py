"""Media over RTCPeerConnection between two Python peers (loopback UDP, real codecs)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")

from pchelpers import close_all, negotiate, new_pc, trickle, wait_for

from rtcpeer import MediaStream, RTCPeerConnection
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

pytestmark = pytest.mark.timeout(60)


class Collector:
    """Records track events and counts decoded frames per kind."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.events: list[Any] = []
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.tasks: list[asyncio.Task[None]] = []
        pc.addEventListener("track", self.on_track)

    def on_track(self, event: Any) -> None:
        self.events.append(event)
        self.tasks.append(asyncio.ensure_future(self.read(event.track)))

    async def read(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                assert frame is not None
                self.frames[track.kind] += 1
        except Exception:
            return

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def test_audio_video_both_ways() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    ca, cb = Collector(a), Collector(b)
    stream_a = MediaStream()
    video_a, audio_a = VideoTestTrack(160, 120), AudioToneTrack()
    a.addTrack(video_a, stream_a)
    a.addTrack(audio_a, stream_a)
    b.addTrack(VideoTestTrack(160, 120))
    b.addTrack(AudioToneTrack())
    channel = a.createDataChannel("chat")
    b_channels: list[Any] = []
    b.addEventListener("datachannel", lambda e: b_channels.append(e.channel))
    try:
        await negotiate(a, b)
        offer = a.localDescription
        assert offer is not None
        assert "a=group:BUNDLE 0 1 2" in offer.sdp
        assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97" in offer.sdp
        assert "a=rtpmap:111 opus/48000/2" in offer.sdp
        assert "a=fmtp:97 apt=96" in offer.sdp
        assert f"a=msid:{stream_a.id} {video_a.id}" in offer.sdp
        assert [t.mid for t in a.getTransceivers()] == ["0", "1"]
        assert [t.currentDirection for t in a.getTransceivers()] == ["sendrecv", "sendrecv"]
        assert [t.currentDirection for t in b.getTransceivers()] == ["sendrecv", "sendrecv"]
        # the track event carried the remote stream
        assert len(cb.events) == 2
        assert [e.streams[0].id for e in cb.events] == [stream_a.id, stream_a.id]
        assert {e.track.kind for e in cb.events} == {"audio", "video"}
        assert cb.events[0].transceiver in b.getTransceivers()
        await wait_for(
            lambda: (
                min(*ca.frames.values(), *cb.frames.values()) >= 30 and channel.readyState == "open"
            ),
            timeout=20,
        )
        stats = await b.getStats()
        inbound = [s for s in stats.values() if s["type"] == "inbound-rtp"]
        outbound = [s for s in stats.values() if s["type"] == "outbound-rtp"]
        assert {s["kind"] for s in inbound} == {"audio", "video"}
        video_in = next(s for s in inbound if s["kind"] == "video")
        assert video_in["framesDecoded"] >= 30 and video_in["packetsReceived"] > 0
        assert all(s["bytesSent"] > 0 and s["packetsSent"] > 0 for s in outbound)
        # data still flows beside media on the bundled transport
        got = asyncio.get_running_loop().create_future()
        await wait_for(lambda: bool(b_channels))
        b_channels[0].addEventListener("message", lambda e: got.done() or got.set_result(e.data))
        channel.send("hello")
        assert await asyncio.wait_for(got, 5) == "hello"
        # RTCP: b's receiver reports answer a's sender reports (RTT measured)
        for _ in range(60):
            stats = await a.getStats()
            rtts = [s.get("roundTripTime") for s in stats.values() if s["type"] == "outbound-rtp"]
            if rtts and all(r is not None for r in rtts):
                break
            await asyncio.sleep(0.05)
        assert rtts and all(r is not None and 0 <= r < 1 for r in rtts), rtts
    finally:
        ca.stop()
        cb.stop()
        await close_all(a, b)


async def test_track_added_mid_call_renegotiates() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    cb = Collector(b)
    a.addTrack(AudioToneTrack())
    try:
        await negotiate(a, b)
        await wait_for(lambda: cb.frames["audio"] >= 10, timeout=10)
        needed = asyncio.get_running_loop().create_future()
        a.addEventListener("negotiationneeded", lambda e: needed.done() or needed.set_result(1))
        sender = a.addTrack(VideoTestTrack(160, 120))
        await asyncio.wait_for(needed, 2)
        await negotiate(a, b)
        assert [t.kind for t in b.getTransceivers()] == ["audio", "video"]
        await wait_for(lambda: cb.frames["video"] >= 30, timeout=15)
        assert len(cb.events) == 2
        # removeTrack: direction becomes recvonly, negotiation again, the remote track mutes
        needed2 = asyncio.get_running_loop().create_future()
        a.addEventListener("negotiationneeded", lambda e: needed2.done() or needed2.set_result(1))
        a.removeTrack(sender)
        await asyncio.wait_for(needed2, 2)
        await negotiate(a, b)
        video_t = a.getTransceivers()[1]
        assert video_t.direction == "recvonly" and video_t.currentDirection == "inactive"
        assert cb.events[1].track.muted
    finally:
        cb.stop()
        await close_all(a, b)


async def test_media_added_to_a_data_only_call() -> None:
    """DTLS is up before media exists: SRTP is keyed from the stored handshake keys."""
    a, b = new_pc(), new_pc()
    trickle(a, b)
    cb = Collector(b)
    channel = a.createDataChannel("chat")
    try:
        await negotiate(a, b)
        await wait_for(lambda: channel.readyState == "open")
        a.addTrack(VideoTestTrack(160, 120))
        await negotiate(a, b)
        await wait_for(lambda: cb.frames["video"] >= 30, timeout=15)
        assert a.getTransceivers()[0].mid == "1"  # after the data section's mid "0"
    finally:
        cb.stop()
        await close_all(a, b)


async def test_video_loss_is_repaired_by_nack_and_rtx() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    cb = Collector(b)
    a.addTrack(VideoTestTrack(160, 120))
    rng = random.Random(7)
    dropped = [0]
    try:
        await negotiate(a, b)
        conn = a._conn
        assert conn is not None
        original = conn.ice.send

        def lossy(data: bytes) -> Any:
            # 8 % of our VP8 RTP packets (payload type 96; SRTP leaves the header readable)
            if len(data) > 12 and 127 < data[0] < 192 and data[1] & 0x7F == 96:
                if rng.random() < 0.08:
                    dropped[0] += 1
                    return True
            return original(data)

        conn.ice.send = lossy  # type: ignore[method-assign]
        await wait_for(lambda: cb.frames["video"] >= 60, timeout=20)

        async def repaired() -> bool:
            stats = await a.getStats()
            out = next(s for s in stats.values() if s["type"] == "outbound-rtp")
            return bool(out["nackCount"] > 0 and out["retransmittedPacketsSent"] > 0)

        for _ in range(100):
            if await repaired():
                break
            await asyncio.sleep(0.05)
        assert dropped[0] > 0
        assert await repaired()
        stats = await b.getStats()
        inbound = next(s for s in stats.values() if s["type"] == "inbound-rtp")
        assert inbound["retransmittedPacketsReceived"] > 0
        assert inbound["framesDecoded"] >= 60
    finally:
        cb.stop()
        await close_all(a, b)


async def test_h264_by_codec_preference() -> None:
    from rtcpeer.pc.transceivers import RTCRtpSender

    caps = RTCRtpSender.getCapabilities("video")
    assert caps is not None
    h264 = [c for c in caps["codecs"] if c["mimeType"] in ("video/H264", "video/rtx")]
    if len(h264) < 2:
        pytest.skip("the installed FFmpeg has no H.264 encoder")
    a, b = new_pc(), new_pc()
    trickle(a, b)
    cb = Collector(b)
    t = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    t.setCodecPreferences(h264)
    try:
        await negotiate(a, b)
        assert t.send_codec is not None and t.send_codec.name == "H264"
        assert b.getTransceivers()[0].currentDirection == "recvonly"
        await wait_for(lambda: cb.frames["video"] >= 30, timeout=15)
    finally:
        cb.stop()
        await close_all(a, b)


async def test_glare_with_tracks_on_both_sides() -> None:
    """Both peers addTrack at once under perfect negotiation: the polite one rolls back and
    its addTrack transceiver takes the impolite one's m= section (webrtc-pc 4.4.1.6)."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    from perfect_negotiation import PerfectNegotiation

    a, b = new_pc(), new_pc()
    ca, cb = Collector(a), Collector(b)
    box_a: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    box_b: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    polite = PerfectNegotiation(a, True, box_b.put_nowait)
    impolite = PerfectNegotiation(b, False, box_a.put_nowait)

    async def pump(box: asyncio.Queue[dict[str, Any]], peer: Any) -> None:
        while True:
            await peer.on_message(await box.get())

    pumps = [
        asyncio.ensure_future(pump(box_a, polite)),
        asyncio.ensure_future(pump(box_b, impolite)),
    ]
    rollbacks: list[str] = []
    original = a._rollback

    def rollback(fire: bool = True) -> None:
        rollbacks.append("a")
        original(fire)

    a._rollback = rollback  # type: ignore[method-assign]
    try:
        a.addTrack(VideoTestTrack(160, 120))
        b.addTrack(VideoTestTrack(160, 120))
        await wait_for(lambda: ca.frames["video"] >= 30 and cb.frames["video"] >= 30, timeout=15)
        for pc in (a, b):
            assert [(t.mid, t.currentDirection) for t in pc.getTransceivers()] == [
                ("0", "sendrecv")
            ]
        assert a.signalingState == b.signalingState == "stable"
        assert rollbacks, "no glare happened"
    finally:
        for task in pumps:
            task.cancel()
        ca.stop()
        cb.stop()
        await close_all(a, b)
