"""DCEP codec (RFC 8832 section 5): exact bytes, round trips and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.sctp.chunks import ParseError
from rtcpeer.sctp.dcep import ChannelType, DataChannelAck, DataChannelOpen, parse_dcep


def test_open_exact_bytes() -> None:
    msg = DataChannelOpen.for_channel("chat", "proto", ordered=False, max_retransmits=3)
    raw = msg.encode()
    assert raw == struct.pack("!BBHIHH", 3, 0x81, 256, 3, 4, 5) + b"chatproto"
    parsed = parse_dcep(raw)
    assert parsed == msg
    assert isinstance(parsed, DataChannelOpen)
    assert not parsed.ordered and parsed.max_retransmits == 3
    assert parsed.max_packet_life_time is None


def test_open_timed_and_reliable() -> None:
    timed = DataChannelOpen.for_channel("t", max_packet_life_time=150)
    assert timed.channel_type == ChannelType.PARTIAL_RELIABLE_TIMED
    assert timed.max_packet_life_time == 150 and timed.max_retransmits is None and timed.ordered
    rel = DataChannelOpen.for_channel("")
    assert rel.channel_type == ChannelType.RELIABLE and rel.reliability == 0
    assert parse_dcep(rel.encode()) == rel
    with pytest.raises(ValueError):
        DataChannelOpen.for_channel("x", max_retransmits=1, max_packet_life_time=1)


def test_ack_exact_bytes() -> None:
    assert DataChannelAck().encode() == b"\x02"
    assert isinstance(parse_dcep(b"\x02"), DataChannelAck)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x02\x00",
        b"\x07",
        b"\x03\x00",
        struct.pack("!BBHIHH", 3, 0x05, 0, 0, 0, 0),  # unknown channel type
        struct.pack("!BBHIHH", 3, 0, 0, 0, 4, 0) + b"abc",  # label shorter than announced
        struct.pack("!BBHIHH", 3, 0, 0, 0, 1, 0) + b"ab",  # trailing bytes
        struct.pack("!BBHIHH", 3, 0, 0, 0, 2, 0) + b"\xff\xfe",  # not UTF-8
    ],
)
def test_malformed(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_dcep(raw)


channel_types = st.sampled_from([int(t) for t in ChannelType])


@given(
    channel_types,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.text(max_size=40),
    st.text(max_size=40),
)
def test_open_round_trip(ctype: int, prio: int, rel: int, label: str, protocol: str) -> None:
    msg = DataChannelOpen(ctype, prio, rel, label, protocol)
    assert parse_dcep(msg.encode()) == msg


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_parse_error(raw: bytes) -> None:
    try:
        parse_dcep(raw)
    except ParseError:
        pass


@given(st.binary(max_size=60))
def test_open_header_with_random_tail(tail: bytes) -> None:
    raw = struct.pack("!BBHIHH", 3, 0, 256, 0, len(tail) // 2, len(tail) - len(tail) // 2) + tail
    try:
        msg = parse_dcep(raw)
    except ParseError:
        return
    assert isinstance(msg, DataChannelOpen)
    assert msg.encode() == raw
