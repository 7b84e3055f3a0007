"""Nothing from the network raises: receiver cores, the jitter buffer and the decoders under
random, lossy, duplicated and reordered input."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS
from rtcpeer.rtp.codecs.encoders import AudioDecoder, VideoDecoder
from rtcpeer.rtp.jitterbuffer import JitterBuffer
from rtcpeer.rtp.packet import RtpPacket
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.rtcp import parse_rtcp

rtp_packets = st.builds(
    RtpPacket,
    payload_type=st.sampled_from([96, 97, 111, 0]),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.sampled_from([1, 2]),
    payload=st.binary(max_size=40),
    marker=st.booleans(),
)


@given(st.lists(st.tuples(rtp_packets, st.floats(0, 0.3)), max_size=60))
def test_receiver_core_survives_arbitrary_packets(items: list[tuple[RtpPacket, float]]) -> None:
    for codec in (VIDEO_CODECS[0], VIDEO_CODECS[1], AUDIO_CODECS[0]):
        r = RtpReceiverCore(codec, rtx_payload_type=97, remb_bitrate=500_000)
        now = 0.0
        for p, dt in items:
            now += dt
            r.receive_rtp(p, now)
            t = r.next_timeout()
            if t is not None and t <= now:
                r.timeout(now)
            for raw in r.packets_to_send():
                parse_rtcp(raw)  # whatever it emits is valid RTCP
            r.frames()
        r.timeout(now + 10)


@given(
    st.integers(0, 0xFFFF),
    st.lists(st.integers(1, 4), min_size=1, max_size=30),
    st.floats(0, 0.3),
    st.floats(0, 0.2),
    st.floats(0, 0.5),
    st.integers(0, 2**32),
)
def test_jitter_buffer_under_loss_duplication_and_reordering(
    start: int, sizes: list[int], loss: float, dup: float, reorder: float, seed: int
) -> None:
    rng = random.Random(seed)
    packets: list[RtpPacket] = []
    seq = start
    for f, n in enumerate(sizes):
        for i in range(n):
            packets.append(
                RtpPacket(96, seq & 0xFFFF, f * 3000, 1, bytes((f & 0xFF, i)), i == n - 1)
            )
            seq += 1
    wire = [p for p in packets if rng.random() >= loss]
    wire += [p for p in wire if rng.random() < dup]
    wire.sort(key=lambda p: packets.index(p) + (rng.random() * 5 if rng.random() < reorder else 0))
    jb = JitterBuffer(max_delay=0.05)
    now = 0.0
    frames = []
    for p in wire:
        now += 0.01
        jb.insert(p, now)
        jb.timeout(now)
        jb.nacks(now)
        frames += jb.pop_frames()
    jb.timeout(now + 1)
    frames += jb.pop_frames()
    firsts = [f.first_sequence for f in frames]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts)
    for f in frames:
        frame_no = f.payloads[0][0]
        # a frame never mixes packets of two frames
        assert all(p[0] == frame_no for p in f.payloads)
        if not f.discontinuity:
            assert [p[1] for p in f.payloads] == list(range(len(f.payloads)))
    if loss == 0 and reorder == 0:
        assert len(frames) == len(sizes)


@settings(max_examples=40)
@given(st.lists(st.binary(min_size=1, max_size=300), max_size=5))
def test_decoders_survive_garbage(blobs: list[bytes]) -> None:
    vp8, h264, opus = VideoDecoder("VP8"), VideoDecoder("H264"), AudioDecoder()
    for i, blob in enumerate(blobs):
        for dec in (vp8, h264, opus):
            assert isinstance(dec.decode(blob, i * 3000), list)
    # a real key frame after the garbage still decodes
    assert len(vp8.decode(_KEYFRAME, 99000)) == 1


def _keyframe() -> bytes:
    from rtcpeer.media.sources import VideoTestTrack
    from rtcpeer.rtp.codecs.encoders import VideoEncoder

    ((data, _),) = VideoEncoder("VP8").encode(VideoTestTrack(64, 48).next_frame())
    return data


_KEYFRAME = _keyframe()
