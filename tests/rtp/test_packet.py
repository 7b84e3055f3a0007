"""RTP header codec: known layouts, RFC 8285 extensions, hypothesis round trips, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.packet import (
    ParseError,
    RtpPacket,
    decode_abs_send_time,
    decode_transport_cc_seq,
    encode_abs_send_time,
    encode_transport_cc_seq,
    is_rtcp,
    seq_diff,
    seq_gt,
)


def test_known_layout_minimal() -> None:
    data = bytes.fromhex("80e0123400000064deadbeef") + b"hi"
    p = RtpPacket.parse(data)
    assert p.payload_type == 96 and p.marker and p.sequence_number == 0x1234
    assert p.timestamp == 100 and p.ssrc == 0xDEADBEEF and p.payload == b"hi"
    assert p.serialize() == data


def test_csrcs_padding_and_one_byte_extension() -> None:
    # V=2 P=1 X=1 CC=2; one-byte extensions: id 1 "a" (mid), id 3 two bytes; one pad byte.
    ext = bytes.fromhex("bede00021061310102000000")
    data = (
        bytes.fromhex("b2 6f 0001 00000002 00000003".replace(" ", ""))
        + bytes.fromhex("0000000a0000000b")
        + ext
        + b"xyz"
        + b"\x00\x02"
    )
    p = RtpPacket.parse(data)
    assert p.csrcs == [10, 11]
    assert p.extensions == {1: b"a", 3: b"\x01\x02"}
    assert p.payload == b"xyz" and p.padding == 2 and p.payload_type == 111 and not p.marker
    assert RtpPacket.parse(p.serialize()) == p


def test_two_byte_extension_chosen_for_long_or_zero_length_elements() -> None:
    p = RtpPacket(payload_type=96, extensions={1: b"", 20: b"x" * 20}, payload=b"p")
    raw = p.serialize()
    assert raw[12:14] == b"\x10\x00"
    assert RtpPacket.parse(raw).extensions == {1: b"", 20: b"x" * 20}


def test_unknown_extension_profile_kept_raw() -> None:
    p = RtpPacket(extension_profile=0xABCD, extension_data=b"12345678", payload=b"z")
    q = RtpPacket.parse(p.serialize())
    assert q.extension_profile == 0xABCD and q.extension_data == b"12345678" and q.payload == b"z"


def test_extension_value_helpers() -> None:
    assert decode_transport_cc_seq(encode_transport_cc_seq(70000)) == 70000 & 0xFFFF
    t = decode_abs_send_time(encode_abs_send_time(12.25))
    assert t == pytest.approx(12.25)
    with pytest.raises(ParseError):
        decode_abs_send_time(b"\x00")
    with pytest.raises(ParseError):
        decode_transport_cc_seq(b"\x00")


def test_seq_arithmetic_and_demux() -> None:
    assert seq_diff(1, 65535) == 2 and seq_gt(1, 65535) and not seq_gt(65535, 1)
    assert is_rtcp(b"\x80\xc8") and not is_rtcp(b"\x80\x60")


def test_one_byte_element_with_reserved_id_zero_stops_parsing() -> None:
    # id 0 with a non-zero length is neither padding nor an element (RFC 8285 4.2)
    data = bytes.fromhex("900000010000000100000001bede000105aa1061")
    p = RtpPacket.parse(data)
    assert p.extensions == {} and RtpPacket.parse(p.serialize()) == p


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80" * 11,
        b"\x40" + bytes(11),
        b"\x8f" + bytes(20),
        b"\x90" + bytes(13),
        b"\xa0" + bytes(11),
        b"\x90" + bytes(11) + b"\xbe\xde\x00\x01\x1f",
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(ParseError):
        RtpPacket.parse(data)


ext_one = st.dictionaries(st.integers(1, 14), st.binary(min_size=1, max_size=16), max_size=5)
ext_two = st.dictionaries(st.integers(1, 255), st.binary(max_size=40), max_size=5)

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extensions=st.one_of(ext_one, ext_two),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(p: RtpPacket) -> None:
    assert RtpPacket.parse(p.serialize()) == p


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        p = RtpPacket.parse(data)
    except ParseError:
        return
    assert RtpPacket.parse(p.serialize()) == p  # whatever parses can be written back


def test_extension_profile_zero_is_skipped() -> None:
    # fuzzer find: X bit with profile 0x0000 is not RFC 8285 and not a profile to keep
    data = bytes.fromhex("90000001000000010000000100000001bede0004") + b"pay"
    p = RtpPacket.parse(data)
    assert p.extensions == {} and p.extension_data == b"" and p.payload == b"pay"
    assert RtpPacket.parse(p.serialize()) == p


@given(packets, st.integers(0, 400), st.integers(0, 255))
def test_corrupted_packets_raise_only_parse_error(p: RtpPacket, pos: int, value: int) -> None:
    raw = bytearray(p.serialize())
    raw[pos % len(raw)] = value
    try:
        RtpPacket.parse(bytes(raw))
    except ParseError:
        pass
