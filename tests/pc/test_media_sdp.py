"""Transceivers and the media part of offers/answers (no network: descriptions only)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    MediaStream,
    NotSupportedError,
    RTCPeerConnection,
)
from rtcpeer.media.track import MediaStreamTrack
from rtcpeer.pc.transceivers import (
    RTCRtpSender,
    answer_direction,
    choose_codecs,
    local_codecs,
    media_lines,
    read_remote_media,
    reverse_direction,
)
from rtcpeer.rtp.codecs import RtpCodec
from rtcpeer.sdp.jsep import parse_description

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "sdp")


def chromium_offer() -> str:
    with open(os.path.join(DATA, "chromium_audio_video_offer.sdp"), encoding="utf-8") as f:
        return f.read()


def lines_of(sdp: str, mid: str) -> list[str]:
    """The lines of the m= section with ``a=mid:<mid>``."""
    sections: list[list[str]] = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            sections.append([])
        if sections:
            sections[-1].append(line)
    for section in sections:
        if f"a=mid:{mid}" in section:
            return section
    raise AssertionError(f"no m= section with mid {mid}")


class Track(MediaStreamTrack):
    async def _recv(self) -> Any:
        await asyncio.sleep(3600)


async def close(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        task = pc.close()
        if task is not None:
            await task


async def test_offer_lines() -> None:
    pc = RTCPeerConnection()
    stream = MediaStream()
    video = Track("video")
    sender = pc.addTrack(video, stream)
    pc.addTransceiver("audio", {"direction": "recvonly"})
    pc.createDataChannel("x")
    offer = await pc.createOffer()
    sdp = offer.sdp
    assert "a=group:BUNDLE 0 1 2" in sdp
    v = lines_of(sdp, "0")
    assert v[0].startswith("m=video 9 UDP/TLS/RTP/SAVPF 96 97")
    for line in (
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        f"a=msid:{stream.id} {video.id}",
        f"a=ssrc-group:FID {sender._ssrc} {sender._rtx_ssrc}",
    ):
        assert line in v, line
    a = lines_of(sdp, "1")
    assert a[0] == "m=audio 9 UDP/TLS/RTP/SAVPF 111"
    assert "a=recvonly" in a and "a=rtpmap:111 opus/48000/2" in a
    assert "a=rtcp-fb:111 transport-cc" in a
    assert not any(line.startswith(("a=msid", "a=ssrc")) for line in a)  # not sending
    assert lines_of(sdp, "2")[0] == "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"
    # the mid becomes visible once the offer is applied
    assert pc.getTransceivers()[0].mid is None
    await pc.setLocalDescription(offer)
    assert [t.mid for t in pc.getTransceivers()] == ["0", "1"]
    assert [t.currentDirection for t in pc.getTransceivers()] == [None, None]
    await close(pc)


async def test_answer_chromium_offer_uses_remote_payload_types_and_ids() -> None:
    pc = RTCPeerConnection()
    events: list[Any] = []
    pc.addEventListener("track", events.append)
    await pc.setRemoteDescription({"type": "offer", "sdp": chromium_offer()})
    # webrtc-pc: the remote offer created recvonly transceivers and fired track events
    ts = pc.getTransceivers()
    assert [(t.kind, t.mid, t.direction) for t in ts] == [
        ("audio", "0", "recvonly"),
        ("video", "1", "recvonly"),
    ]
    assert [e.track.kind for e in events] == ["audio", "video"]
    assert events[0].streams[0].id == "ef73f6a5-86a2-4109-9e19-7cbf3a453cf7"
    assert events[0].streams[0] is events[1].streams[0]
    assert events[1].track.muted and events[1].track.readyState == "live"
    # the answerer adds a track: it reuses the video transceiver (W3C addTrack)
    sender = pc.addTrack(Track("video"))
    assert sender is ts[1].sender and ts[1].direction == "sendrecv"
    answer = await pc.createAnswer()
    a = lines_of(answer.sdp, "0")
    assert a[0] == "m=audio 9 UDP/TLS/RTP/SAVPF 111"
    assert "a=recvonly" in a
    assert "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid" in a
    assert (
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" in a
    )
    # RFC 6464 audio level is accepted with the offer's id (for getSynchronizationSources)
    assert "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level" in a
    v = lines_of(answer.sdp, "1")
    # every common codec in the offer's order, each with its RTX (VP8 first: it is sent)
    assert v[0] == "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109"
    assert "a=sendrecv" in v and "a=fmtp:97 apt=96" in v
    assert not any("toffset" in line for line in v)
    await pc.setLocalDescription(answer)
    assert [t.currentDirection for t in ts] == ["recvonly", "sendrecv"]
    assert ts[1].send_codec is not None and ts[1].send_codec.payload_type == 96
    assert ts[1].rtx_payload_type(ts[1].send_codec) == 97
    await close(pc)


async def test_offer_answer_directions_between_two_peers() -> None:
    a, b = RTCPeerConnection(), RTCPeerConnection()
    ta = a.addTransceiver("video", {"direction": "sendonly"})
    offer = await a.createOffer()
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(a.localDescription)
    tb = b.getTransceivers()[0]
    assert tb.direction == "recvonly"
    answer = await b.createAnswer()
    assert "a=recvonly" in lines_of(answer.sdp, "0")
    await b.setLocalDescription(answer)
    await a.setRemoteDescription(b.localDescription)
    assert ta.currentDirection == "sendonly" and tb.currentDirection == "recvonly"
    # direction change: negotiationneeded, then inactive both ways
    fired = asyncio.get_running_loop().create_future()
    a.addEventListener("negotiationneeded", lambda e: fired.done() or fired.set_result(True))
    ta.direction = "inactive"
    assert await asyncio.wait_for(fired, 1)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    assert ta.currentDirection == "inactive" and tb.currentDirection == "inactive"
    # stop(): the section is rejected (port 0) in the next offer
    ta.stop()
    offer = await a.createOffer()
    assert lines_of(offer.sdp, "0")[0].startswith("m=video 0 ")
    await close(a, b)


async def test_rollback_forgets_remote_transceivers() -> None:
    pc = RTCPeerConnection()
    await pc.setRemoteDescription({"type": "offer", "sdp": chromium_offer()})
    assert len(pc.getTransceivers()) == 2
    track = pc.getTransceivers()[0].receiver.track
    await pc.setRemoteDescription({"type": "rollback"})
    assert pc.getTransceivers() == []
    assert track.readyState == "ended"
    await close(pc)


async def test_w3c_errors() -> None:
    pc = RTCPeerConnection()
    track = Track("audio")
    pc.addTrack(track)
    with pytest.raises(InvalidAccessError):
        pc.addTrack(track)
    with pytest.raises(TypeError):
        pc.addTransceiver("text")
    with pytest.raises(TypeError):
        pc.addTransceiver("audio", {"direction": "sideways"})
    other = RTCPeerConnection()
    foreign = other.addTrack(Track("video"))
    with pytest.raises(InvalidAccessError):
        pc.removeTrack(foreign)
    sender = pc.getSenders()[0]
    with pytest.raises(TypeError):
        await sender.replaceTrack(Track("video"))
    replacement = Track("audio")
    await sender.replaceTrack(replacement)
    assert sender.track is replacement
    caps = RTCRtpSender.getCapabilities("video")
    assert caps is not None and caps["codecs"][0]["mimeType"] == "video/VP8"
    t = pc.getTransceivers()[0]
    with pytest.raises(InvalidModificationError):
        t.setCodecPreferences([{"mimeType": "audio/PCMU", "clockRate": 8000}])
    await close(pc, other)
    with pytest.raises(InvalidStateError):
        pc.addTrack(Track("audio"))
    assert t.currentDirection == "stopped"


async def test_codec_preferences_order_the_offer() -> None:
    pc = RTCPeerConnection()
    t = pc.addTransceiver("video")
    caps = RTCRtpSender.getCapabilities("video")
    assert caps is not None
    h264 = [c for c in caps["codecs"] if c["mimeType"] in ("video/H264", "video/rtx")]
    if len(h264) < 2:
        pytest.skip("no H.264 encoder in this FFmpeg")
    t.setCodecPreferences(h264)
    offer = await pc.createOffer()
    assert lines_of(offer.sdp, "0")[0] == "m=video 9 UDP/TLS/RTP/SAVPF 102 103"
    await close(pc)


def test_direction_rules() -> None:
    assert reverse_direction("sendonly") == "recvonly"
    assert reverse_direction("sendrecv") == "sendrecv"
    assert answer_direction("sendrecv", "sendonly") == "recvonly"
    assert answer_direction("sendonly", "sendonly") == "inactive"
    assert answer_direction("recvonly", "sendrecv") == "recvonly"
    assert answer_direction("sendrecv", "inactive") == "inactive"


def test_offer_answer_codecs_round_trip() -> None:
    pc = RTCPeerConnection()
    t = pc.addTransceiver("video")
    codecs = local_codecs("video")
    lines = media_lines(t, codecs, {"urn:ietf:params:rtp-hdrext:sdes:mid": 9}, "sendrecv", "c")
    attrs = [(line.partition(":")[0], line.partition(":")[2] or None) for line in lines]
    info = read_remote_media("video", [str(c.payload_type) for c in codecs], attrs)
    assert info.codecs == codecs
    assert info.extensions == {"urn:ietf:params:rtp-hdrext:sdes:mid": 9}
    assert info.ssrcs == [t.sender._ssrc, t.sender._rtx_ssrc]
    chosen = choose_codecs(codecs, info.codecs)
    assert [c.name for c in chosen] == [c.name for c in codecs]
    assert chosen[1].parameter("apt") == str(chosen[0].payload_type)


def test_remote_media_from_chromium() -> None:
    remote = parse_description(chromium_offer())
    video = remote.media[1]
    info = read_remote_media(video.kind, video.fmt, video.attributes)
    assert info.direction == "sendrecv"
    assert info.stream_ids == ["ef73f6a5-86a2-4109-9e19-7cbf3a453cf7"]
    assert info.ssrcs == [1636951440, 2476091707]
    chosen = choose_codecs(local_codecs("video"), info.codecs)
    assert [(c.name, c.payload_type) for c in chosen][:2] == [("VP8", 96), ("rtx", 97)]
    for primary, rtx in zip(chosen[::2], chosen[1::2], strict=True):
        assert rtx.name == "rtx" and rtx.parameter("apt") == str(primary.payload_type)


_attr = st.tuples(
    st.sampled_from(["rtpmap", "fmtp", "rtcp-fb", "extmap", "msid", "ssrc", "sendonly", "x"]),
    st.one_of(st.none(), st.text(max_size=40)),
)


@given(
    st.sampled_from(["audio", "video"]),
    st.lists(st.text(max_size=5), max_size=6),
    st.lists(_attr, max_size=20),
)
@settings(max_examples=300, deadline=None)
def test_remote_media_never_raises(kind: str, fmt: list[str], attrs: list[Any]) -> None:
    info = read_remote_media(kind, fmt, attrs)
    assert all(isinstance(c, RtpCodec) for c in info.codecs)
    choose_codecs(local_codecs(kind), info.codecs)


async def test_without_the_media_extra_media_sections_are_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rtcpeer.pc import media_session

    monkeypatch.setattr(media_session, "_available", False)
    pc = RTCPeerConnection()
    await pc.setRemoteDescription({"type": "offer", "sdp": chromium_offer()})
    assert pc.getTransceivers() == []
    answer = await pc.createAnswer()
    assert lines_of(answer.sdp, "0")[0].startswith("m=audio 0 ")
    assert lines_of(answer.sdp, "1")[0].startswith("m=video 0 ")
    with pytest.raises(NotSupportedError):
        pc.addTransceiver("audio")
    await close(pc)


async def test_implicit_offer_is_recreated_after_add_track() -> None:
    pc = RTCPeerConnection()
    pc.createDataChannel("x")
    await pc.createOffer()
    pc.addTrack(Track("audio"))
    await pc.setLocalDescription()
    local = pc.localDescription
    assert local is not None and "m=audio" in local.sdp
    await close(pc)
