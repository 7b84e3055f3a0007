"""RTCRtpReceiver.getSynchronizationSources/getContributingSources and the RFC 6464 audio
level extension (issue 8 follow-up)."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")

from pchelpers import close_all, negotiate, new_pc, trickle, wait_for

from rtcpeer.media.pipeline import audio_level
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack
from rtcpeer.pc.transceivers import _linear_level
from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS
from rtcpeer.rtp.packet import EXT_AUDIO_LEVEL, RtpPacket
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.sender import RtpSenderCore

pytestmark = pytest.mark.timeout(60)

LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def test_audio_level_of_frames() -> None:
    import av

    silent = av.AudioFrame(format="s16", layout="stereo", samples=960)
    for plane in silent.planes:
        plane.update(bytes(plane.buffer_size))
    assert audio_level(silent) == 127
    tone = AudioToneTrack(frequency=440).next_frame()
    level = audio_level(tone)
    assert level is not None and 0 < level < 60
    assert _linear_level(127) == 0.0 and _linear_level(0) == 1.0
    assert abs(_linear_level(20) - 0.1) < 1e-9


def test_level_extension_from_sender_core_to_receiver_core() -> None:
    opus = AUDIO_CODECS[0]
    sender = RtpSenderCore(opus, 1234, extensions={EXT_AUDIO_LEVEL: 5})
    assert sender.sends_audio_level
    sender.audio_level = 30
    sender.send_frame(b"\x01\x02", 960, 1.0)
    (data,) = sender.packets_to_send()
    packet = RtpPacket.parse(data)
    assert packet.extensions[5] == bytes([0x80 | 30])  # V flag: voice
    receiver = RtpReceiverCore(opus, audio_level_id=5)
    packet.csrcs = [77, 88]
    receiver.receive_rtp(packet, 2.0)
    assert receiver.last_audio_level == 30
    assert receiver.last_rtp_timestamp == packet.timestamp
    assert receiver.contributing_sources == {
        77: (2.0, packet.timestamp),
        88: (2.0, packet.timestamp),
    }
    # a video sender never writes the audio level
    video = RtpSenderCore(VIDEO_CODECS[0], 5678, extensions={EXT_AUDIO_LEVEL: 5})
    assert not video.sends_audio_level


async def test_synchronization_sources_with_audio_level() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    a.addTrack(AudioToneTrack(frequency=440))
    a.addTrack(VideoTestTrack(160, 120))
    try:
        offer = await a.createOffer()
        assert f"a=extmap:4 {LEVEL}" in offer.sdp
        assert offer.sdp.count(LEVEL) == 1  # audio only
        await negotiate(a, b)
        audio_rx, video_rx = (t.receiver for t in b.getTransceivers())
        assert audio_rx.getSynchronizationSources() == []  # nothing heard yet
        await wait_for(lambda: bool(audio_rx.getSynchronizationSources()), timeout=10)
        await wait_for(lambda: bool(video_rx.getSynchronizationSources()), timeout=10)
        await asyncio.sleep(0.1)
        (source,) = audio_rx.getSynchronizationSources()
        assert (
            source["source"]
            == a.getTransceivers()[0].sender.getParameters()["encodings"][0]["ssrc"]
        )
        assert abs(source["timestamp"] - time.time() * 1000) < 2000
        assert isinstance(source["rtpTimestamp"], int)
        assert 0.05 < source["audioLevel"] <= 1.0  # a full-scale-ish tone, not silence
        (vsource,) = video_rx.getSynchronizationSources()
        assert "audioLevel" not in vsource
        assert audio_rx.getContributingSources() == []
    finally:
        await close_all(a, b)


@given(st.binary(max_size=4), st.lists(st.integers(0, 2**32 - 1), max_size=15))
@settings(max_examples=200, deadline=None)
def test_any_level_extension_and_csrcs_are_taken(level: bytes, csrcs: list[int]) -> None:
    receiver = RtpReceiverCore(AUDIO_CODECS[0], audio_level_id=3)
    packet = RtpPacket(
        payload_type=AUDIO_CODECS[0].payload_type,
        sequence_number=1,
        timestamp=99,
        ssrc=5,
        payload=b"\x00",
        csrcs=csrcs,
        extensions={3: level} if level else {},
    )
    receiver.receive_rtp(RtpPacket.parse(packet.serialize()), 1.0)
    assert receiver.last_audio_level == (level[0] & 0x7F if level else None)
    assert set(receiver.contributing_sources) == set(csrcs)
