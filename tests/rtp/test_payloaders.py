"""VP8 (RFC 7741), Opus (RFC 7587) and H.264 (RFC 6184 mode 1) payload formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS, depayloader_for, payloader_for, rtx_codec
from rtcpeer.rtp.codecs.h264 import H264Depayloader, H264Payloader, split_annexb
from rtcpeer.rtp.codecs.opus import OpusDepayloader, OpusPayloader
from rtcpeer.rtp.codecs.vp8 import Vp8Depayloader, Vp8Payloader, parse_descriptor
from rtcpeer.rtp.packet import ParseError


def test_vp8_descriptor_layout() -> None:
    pay = Vp8Payloader(picture_id=0x1234)
    packets = pay.packetize(b"\x10" + bytes(20), max_size=12)
    assert packets[0][:4] == bytes((0x90, 0x80, 0x80 | 0x12, 0x34))
    assert all(p[:4] == bytes((0x80, 0x80, 0x92, 0x34)) for p in packets[1:])
    assert all(len(p) <= 12 for p in packets) and len(packets) == 3
    assert pay.packetize(b"x", 100)[0][2:4] == bytes((0x92, 0x35))  # picture id increments
    dep = Vp8Depayloader()
    assert dep.depacketize(packets) == b"\x10" + bytes(20)
    assert dep.is_keyframe(packets[0]) and not dep.is_keyframe(packets[1])
    assert not dep.is_keyframe(Vp8Payloader().packetize(b"\x01abc", 100)[0])


def test_vp8_descriptor_shapes() -> None:
    # X=1, I=1 (7-bit pid 5), L=1, T=1: descriptor is 5 bytes
    assert parse_descriptor(bytes((0x90, 0xE0, 0x05, 0x01, 0x20)) + b"f") == (5, True, 0, 5)
    assert parse_descriptor(b"\x10f") == (1, True, 0, None)
    with pytest.raises(ParseError):
        parse_descriptor(bytes((0x90, 0x80, 0x80)))
    with pytest.raises(ParseError):
        Vp8Depayloader().depacketize([b"\x00abc"])  # not a start of partition


def test_opus() -> None:
    assert OpusPayloader().packetize(b"abc", 10) == [b"abc"]
    assert OpusDepayloader().depacketize([b"abc"]) == b"abc"
    with pytest.raises(ParseError):
        OpusDepayloader().depacketize([b"a", b"b"])


SPS = bytes((0x67, 0x42, 0xE0, 0x1F, 0x8C))
PPS = bytes((0x68, 0xCE, 0x3C, 0x80))
IDR = bytes((0x65,)) + bytes(range(1, 200))


def test_h264_stap_a_and_fu_a_layout() -> None:
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    assert split_annexb(stream) == [SPS, PPS, IDR]
    packets = H264Payloader().packetize(stream, max_size=100)
    # STAP-A of SPS and PPS: NRI is the max of both (3), type 24
    assert packets[0] == bytes((0x78,)) + b"\x00\x05" + SPS + b"\x00\x04" + PPS
    # FU-A: indicator keeps F|NRI of the IDR, header has S and the IDR type
    assert packets[1][:2] == bytes((0x7C, 0x85)) and len(packets[1]) == 100
    assert packets[-1][1] == 0x45  # E bit
    assert all(p[1] & 0x1F == 5 for p in packets[1:])
    dep = H264Depayloader()
    assert dep.depacketize(packets) == b"".join(b"\x00\x00\x00\x01" + n for n in (SPS, PPS, IDR))
    assert dep.is_keyframe(packets[0]) and dep.is_keyframe(packets[1])
    assert not dep.is_keyframe(packets[2])


def test_h264_single_nal_and_errors() -> None:
    nal = bytes((0x41, 1, 2, 3))
    assert H264Payloader().packetize(b"\x00\x00\x01" + nal, 100) == [nal]
    dep = H264Depayloader()
    for bad in (
        [b""],
        [bytes((0x7C, 0x05, 1))],
        [bytes((0x7C, 0x85, 1))],
        [b"\x78\x00\x09ab"],
        [b"\x1e"],
    ):
        with pytest.raises(ParseError):
            dep.depacketize(bad)


def test_registry_and_sdp_strings() -> None:
    assert isinstance(payloader_for("VP8"), Vp8Payloader)
    assert isinstance(depayloader_for("h264"), H264Depayloader)
    with pytest.raises(ValueError):
        payloader_for("nope")
    opus = AUDIO_CODECS[0]
    assert opus.rtpmap == "111 opus/48000/2" and opus.fmtp == "111 minptime=10;useinbandfec=1"
    vp8 = VIDEO_CODECS[0]
    assert vp8.rtpmap == "96 VP8/90000" and vp8.fmtp is None and "nack pli" in vp8.rtcp_feedback
    rtx = rtx_codec(vp8, 97)
    assert rtx.rtpmap == "97 rtx/90000" and rtx.fmtp == "97 apt=96"
    assert VIDEO_CODECS[1].parameter("packetization-mode") == "1"


@given(st.binary(max_size=3000), st.integers(5, 1200))
def test_vp8_round_trip(frame: bytes, max_size: int) -> None:
    packets = Vp8Payloader().packetize(frame, max_size)
    assert all(len(p) <= max_size for p in packets)
    if frame:
        assert Vp8Depayloader().depacketize(packets) == frame


nal_units = st.builds(
    lambda kind, nri, body: bytes(((nri << 5) | kind,)) + body,
    st.integers(1, 23),
    st.integers(0, 3),
    st.binary(max_size=400).map(lambda b: bytes(x or 1 for x in b)),  # no start-code emulation
)


@given(st.lists(nal_units, min_size=1, max_size=8), st.integers(10, 1200))
def test_h264_round_trip(nals: list[bytes], max_size: int) -> None:
    stream = b"".join(b"\x00\x00\x00\x01" + n for n in nals)
    packets = H264Payloader().packetize(stream, max_size)
    assert all(len(p) <= max_size for p in packets)
    assert H264Depayloader().depacketize(packets) == stream


@given(st.lists(st.binary(max_size=50), max_size=5))
def test_depayloaders_raise_only_parse_error(payloads: list[bytes]) -> None:
    for dep in (Vp8Depayloader(), H264Depayloader(), OpusDepayloader()):
        try:
            assert isinstance(dep.depacketize(payloads), bytes)
        except ParseError:
            pass
        for p in payloads:
            assert dep.is_keyframe(p) in (True, False)


def test_codec_from_sdp_and_negotiation_against_chromium_offer() -> None:
    from rtcpeer.rtp.codecs import RtpCodec, negotiate_codecs

    # a trimmed Chromium video m-section: VP8 96/97, VP9, H264 high 100/101, H264 cb 102/103
    remote = [
        RtpCodec.from_sdp(
            "video", "96 VP8/90000", None, ["96 goog-remb", "96 nack", "96 nack pli"]
        ),
        RtpCodec.from_sdp("video", "97 rtx/90000", "97 apt=96"),
        RtpCodec.from_sdp("video", "98 VP9/90000", "98 profile-id=0"),
        RtpCodec.from_sdp(
            "video",
            "100 H264/90000",
            "100 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f",
        ),
        RtpCodec.from_sdp(
            "video",
            "102 H264/90000",
            "102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ["102 nack", "102 transport-cc"],
        ),
        RtpCodec.from_sdp("video", "103 rtx/90000", "103 apt=102"),
        RtpCodec.from_sdp(
            "video", "104 H264/90000", "104 packetization-mode=0;profile-level-id=42e01f"
        ),
    ]
    got = negotiate_codecs(VIDEO_CODECS, remote)
    assert [(c.name, c.payload_type) for c in got] == [
        ("VP8", 96),
        ("H264", 102),
        ("rtx", 97),
        ("rtx", 103),
    ]
    assert got[0].rtcp_feedback == ("goog-remb", "nack", "nack pli")
    assert got[1].parameter("profile-level-id") == "42e01f"
    opus = RtpCodec.from_sdp("audio", "109 opus/48000/2", "109 minptime=10;useinbandfec=1")
    assert negotiate_codecs(AUDIO_CODECS, [opus])[0].payload_type == 109
    assert negotiate_codecs(AUDIO_CODECS, [RtpCodec.from_sdp("audio", "0 PCMU/8000")]) == []
    with pytest.raises(ValueError):
        RtpCodec.from_sdp("video", "x VP8")
