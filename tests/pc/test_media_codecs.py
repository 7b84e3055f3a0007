"""Codec negotiation follow-ups (issue 8): answers carry every common codec, a re-offer with a
different first codec switches the codec mid-call, setCodecPreferences/getCapabilities."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")

from pchelpers import close_all, negotiate, new_pc, trickle, wait_for

from rtcpeer import InvalidModificationError, RTCPeerConnection
from rtcpeer.media.sources import VideoTestTrack
from rtcpeer.pc.transceivers import RTCRtpReceiver, RTCRtpSender

pytestmark = pytest.mark.timeout(60)


def caps(kind: str) -> list[dict[str, Any]]:
    capabilities = RTCRtpSender.getCapabilities(kind)
    assert capabilities is not None
    return list(capabilities["codecs"])


def has_h264() -> bool:
    return any(c["mimeType"] == "video/H264" for c in caps("video"))


def m_line(sdp: str, kind: str) -> str:
    return next(line for line in sdp.splitlines() if line.startswith(f"m={kind} "))


def test_capabilities_have_the_w3c_shape() -> None:
    for kind in ("audio", "video"):
        for getter in (RTCRtpSender.getCapabilities, RTCRtpReceiver.getCapabilities):
            capabilities = getter(kind)
            assert capabilities is not None
            for codec in capabilities["codecs"]:
                assert set(codec) <= {"mimeType", "clockRate", "channels", "sdpFmtpLine"}
                assert codec["mimeType"].startswith(kind + "/")
                assert isinstance(codec["clockRate"], int)
            uris = [e["uri"] for e in capabilities["headerExtensions"]]
            assert "urn:ietf:params:rtp-hdrext:sdes:mid" in uris
    assert RTCRtpSender.getCapabilities("text") is None
    opus = caps("audio")[0]
    assert opus["mimeType"] == "audio/opus" and opus["channels"] == 2
    assert opus["clockRate"] == 48000
    video = caps("video")
    assert [c["mimeType"] for c in video].count("video/rtx") == 1  # listed once, no apt
    assert "sdpFmtpLine" not in next(c for c in video if c["mimeType"] == "video/rtx")


async def test_set_codec_preferences_validation() -> None:
    pc = RTCPeerConnection()
    t = pc.addTransceiver("video")
    vp8 = next(c for c in caps("video") if c["mimeType"] == "video/VP8")
    rtx = next(c for c in caps("video") if c["mimeType"] == "video/rtx")
    bad: list[list[dict[str, Any]]] = [
        [{"mimeType": "video/AV2", "clockRate": 90000}],
        [dict(vp8, clockRate=8000)],
        [dict(vp8, sdpFmtpLine="max-fr=5")],
        [rtx],  # only a resiliency codec
        [caps("audio")[0]],  # an audio codec on a video transceiver
    ]
    for codecs in bad:
        with pytest.raises(InvalidModificationError):
            t.setCodecPreferences(codecs)
    # mimeType matching is case-insensitive; without rtx no RTX is offered
    t.setCodecPreferences([dict(vp8, mimeType="video/vp8")])
    offer = await pc.createOffer()
    assert m_line(offer.sdp, "video") == "m=video 9 UDP/TLS/RTP/SAVPF 96"
    assert "rtx/90000" not in offer.sdp
    t.setCodecPreferences([vp8, rtx])
    offer = await pc.createOffer()
    assert m_line(offer.sdp, "video") == "m=video 9 UDP/TLS/RTP/SAVPF 96 97"
    t.setCodecPreferences([])  # reset: everything again
    offer = await pc.createOffer()
    assert m_line(offer.sdp, "video").startswith("m=video 9 UDP/TLS/RTP/SAVPF 96 97")
    pc.close()


async def test_answer_lists_every_common_codec_and_sender_uses_the_first() -> None:
    if not has_h264():
        pytest.skip("no H.264 encoder in this FFmpeg")
    a, b = new_pc(), new_pc()
    t = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    await a.setLocalDescription(await a.createOffer())
    assert a.localDescription is not None
    await b.setRemoteDescription(a.localDescription)
    answer = await b.createAnswer()
    assert m_line(answer.sdp, "video") == "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103"
    assert "a=fmtp:103 apt=102" in answer.sdp and "a=fmtp:97 apt=96" in answer.sdp
    await b.setLocalDescription(answer)
    await a.setRemoteDescription(answer)
    assert t.send_codec is not None and t.send_codec.name == "VP8"
    assert [c["mimeType"] for c in t.sender.getParameters()["codecs"]] == [
        "video/VP8",
        "video/rtx",
        "video/H264",
        "video/rtx",
    ]
    await close_all(a, b)


async def test_remote_reoffer_with_another_first_codec_switches_mid_call() -> None:
    if not has_h264():
        pytest.skip("no H.264 encoder in this FFmpeg")
    a, b = new_pc(), new_pc()
    trickle(a, b)
    frames: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def read(track: Any) -> None:
        while True:
            frames.append(await track.recv())

    b.addEventListener("track", lambda e: tasks.append(asyncio.ensure_future(read(e.track))))
    ta = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    try:
        await negotiate(a, b)
        assert ta.send_codec is not None and ta.send_codec.name == "VP8"
        await wait_for(lambda: len(frames) >= 10, timeout=15)
        tb = b.getTransceivers()[0]
        video = caps("video")
        h264 = [c for c in video if c["mimeType"] == "video/H264"]
        rest = [c for c in video if c["mimeType"] != "video/H264"]
        tb.setCodecPreferences(h264 + rest)
        await negotiate(b, a)  # the remote (b) re-offers with H.264 first
        assert m_line(b.localDescription.sdp, "video").endswith(" 102 103 96 97")  # type: ignore[union-attr]
        assert ta.send_codec is not None and ta.send_codec.name == "H264"
        assert tb.send_codec is not None and tb.send_codec.name == "H264"
        before = len(frames)
        await wait_for(lambda: len(frames) >= before + 20, timeout=15)
        stats = await b.getStats()
        inbound = next(s for s in stats.values() if s["type"] == "inbound-rtp")
        assert inbound["framesDecoded"] >= 20
        rt = b._media._runtime[id(tb)]
        assert rt.rx_codec is not None and rt.rx_codec.name == "H264"
        assert tb.receiver.track.readyState == "live"  # no BYE on the switch
    finally:
        for task in tasks:
            task.cancel()
        await close_all(a, b)


async def test_receiver_follows_another_negotiated_codec_without_renegotiation() -> None:
    """RFC 3264 5.1: a sender may switch among the negotiated codecs at any time; the
    receiver rebuilds its depayloader/decoder when a packet of another one arrives."""
    if not has_h264():
        pytest.skip("no H.264 encoder in this FFmpeg")
    a, b = new_pc(), new_pc()
    trickle(a, b)
    frames: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def read(track: Any) -> None:
        while True:
            frames.append(await track.recv())

    b.addEventListener("track", lambda e: tasks.append(asyncio.ensure_future(read(e.track))))
    ta = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    try:
        await negotiate(a, b)
        await wait_for(lambda: len(frames) >= 5, timeout=15)
        # a switches its sender to H.264 on its own (no new offer/answer)
        h264_first = [c for c in ta._codecs if c.name == "H264"]
        ta._codecs = [
            h264_first[0],
            *[c for c in ta._codecs if c.name == "rtx" and c.parameter("apt") == "102"],
            *[c for c in ta._codecs if c.payload_type not in (102, 103)],
        ]
        a._media._configure(ta)
        a._media._start_senders()
        assert ta.send_codec is not None and ta.send_codec.name == "H264"
        tb = b.getTransceivers()[0]
        rt = b._media._runtime[id(tb)]
        await wait_for(lambda: rt.rx_codec is not None and rt.rx_codec.name == "H264", 10)
        before = len(frames)
        await wait_for(lambda: len(frames) >= before + 20, timeout=15)
        assert tb.receiver.track.readyState == "live"
    finally:
        for task in tasks:
            task.cancel()
        await close_all(a, b)


async def test_answerer_codec_preferences_order_the_answer() -> None:
    """RFC 8829 5.3.1: the answer lists the codecs in the answerer's preference order; both
    sides then send (and decode) the answerer's first choice."""
    if not has_h264():
        pytest.skip("no H.264 encoder in this FFmpeg")
    a, b = new_pc(), new_pc()
    trickle(a, b)
    frames: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def read(track: Any) -> None:
        while True:
            frames.append(await track.recv())

    a.addEventListener("track", lambda e: tasks.append(asyncio.ensure_future(read(e.track))))
    ta = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendrecv"})
    try:
        await a.setLocalDescription(await a.createOffer())
        assert a.localDescription is not None
        await b.setRemoteDescription(a.localDescription)
        tb = b.getTransceivers()[0]
        video = caps("video")
        tb.setCodecPreferences(
            [c for c in video if c["mimeType"] == "video/H264"]
            + [c for c in video if c["mimeType"] != "video/H264"]
        )
        tb.direction = "sendrecv"
        await tb.sender.replaceTrack(VideoTestTrack(160, 120))
        answer = await b.createAnswer()
        assert m_line(answer.sdp, "video") == "m=video 9 UDP/TLS/RTP/SAVPF 102 103 96 97"
        await b.setLocalDescription(answer)
        await a.setRemoteDescription(answer)
        assert ta.send_codec is not None and ta.send_codec.name == "H264"
        assert tb.send_codec is not None and tb.send_codec.name == "H264"
        await wait_for(lambda: len(frames) >= 10, timeout=15)
    finally:
        for task in tasks:
            task.cancel()
        await close_all(a, b)
