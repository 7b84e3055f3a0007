"""ChannelData framing (RFC 8656 section 12) and the TCP stream framer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.stun import Attr, MessageClass, Method, ParseError, StunMessage
from rtcpeer.stun.channeldata import (
    ChannelData,
    StreamFramer,
    encode_channel_data,
    is_channel_data,
    parse_channel_data,
)


def test_exact_bytes() -> None:
    assert encode_channel_data(0x4001, b"hello") == b"\x40\x01\x00\x05hello"
    assert encode_channel_data(0x4FFF, b"hello", pad=True) == b"\x4f\xff\x00\x05hello\x00\x00\x00"
    assert encode_channel_data(0x4000, b"", pad=True) == b"\x40\x00\x00\x00"
    channel, data = parse_channel_data(b"\x40\x01\x00\x05hello\x00\x00\x00")
    assert (channel, bytes(data)) == (0x4001, b"hello")
    assert ChannelData.parse(b"\x40\x02\x00\x01x") == ChannelData(0x4002, b"x")
    assert ChannelData(0x4002, b"x").encode(pad=True) == b"\x40\x02\x00\x01x\x00\x00\x00"
    assert is_channel_data(b"\x40\x00\x00\x00")
    assert not is_channel_data(b"\x00\x01\x00\x00")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x40\x00\x00",
        b"\x3f\xff\x00\x00",
        b"\x50\x00\x00\x00",
        b"\x40\x00\x00\x05abcd",
        b"\x40\x00\x00\x01abcde",
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_channel_data(data)


def test_encode_rejects_bad_channel() -> None:
    with pytest.raises(ValueError):
        encode_channel_data(0x3FFF, b"x")
    with pytest.raises(ValueError):
        encode_channel_data(0x5000, b"x")


@given(st.integers(0x4000, 0x4FFF), st.binary(max_size=300), st.booleans())
def test_round_trip(channel: int, payload: bytes, pad: bool) -> None:
    data = encode_channel_data(channel, payload, pad)
    assert len(data) % 4 == 0 or not pad
    got_channel, got = parse_channel_data(data)
    assert got_channel == channel and bytes(got) == payload


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_random_bytes_only_parse_error(data: bytes) -> None:
    try:
        parse_channel_data(data)
    except ParseError:
        pass
    framer = StreamFramer()
    try:
        framer.feed(data)
    except ParseError:
        pass


@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(0x4000, 0x4FFF), st.binary(max_size=50)),
            st.binary(max_size=40),
        ),
        max_size=8,
    ),
    st.integers(1, 17),
)
def test_stream_framer_splits_any_chunking(items: list[object], chunk: int) -> None:
    expected: list[bytes] = []
    for item in items:
        if isinstance(item, tuple):
            expected.append(encode_channel_data(item[0], item[1], pad=True))
        else:
            assert isinstance(item, bytes)
            expected.append(
                StunMessage(Method.SEND, MessageClass.INDICATION).add(Attr.DATA, item).encode()
            )
    stream = b"".join(expected)
    framer = StreamFramer()
    got: list[bytes] = []
    for i in range(0, len(stream), chunk):
        got.extend(framer.feed(stream[i : i + chunk]))
    assert got == expected
    assert framer.buffered == 0


def test_stream_framer_rejects_garbage() -> None:
    with pytest.raises(ParseError):
        StreamFramer().feed(b"\x80\x00\x00\x00")
    with pytest.raises(ParseError):
        StreamFramer().feed(b"\x00\x01\x00\x00\x00\x00\x00\x00")
