"""Codec tests for rtcpeer.sctp.chunks: exact encodings, round trips and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.sctp import ParseError
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    AbortChunk,
    AddStreamsRequest,
    CauseCode,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IDataChunk,
    IForwardTsnChunk,
    IncomingSsnResetRequest,
    InitAckChunk,
    InitChunk,
    OutgoingSsnResetRequest,
    Packet,
    Param,
    ParamType,
    ReconfigChunk,
    ReconfigResponse,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    SsnTsnResetRequest,
    UnknownChunk,
    crc32c,
    parse_packet,
    verify_checksum,
)


def test_crc32c_check_value() -> None:
    # RFC 3720 B.4 / the standard CRC-32C check value.
    assert crc32c(b"123456789") == 0xE3069283


def test_data_chunk_exact_bytes() -> None:
    chunk = DataChunk(0x01020304, 5, 6, 51, b"abcde", FLAG_BEGIN | FLAG_END)
    assert chunk.encode() == (
        bytes([0, 3, 0, 21]) + bytes.fromhex("01020304 0005 0006 00000033") + b"abcde\0\0\0"
    )


def test_packet_header_and_checksum_little_endian() -> None:
    pkt = Packet(5000, 5000, 0xDEADBEEF, [CookieAckChunk()])
    raw = pkt.encode()
    assert raw[:8] == struct.pack("!HHI", 5000, 5000, 0xDEADBEEF)
    body = raw[:8] + b"\0\0\0\0" + raw[12:]
    assert raw[8:12] == struct.pack("<I", crc32c(body))
    assert raw[12:] == bytes([11, 0, 0, 4])
    assert verify_checksum(raw)
    assert parse_packet(raw) == pkt


def test_bad_checksum_rejected() -> None:
    raw = bytearray(Packet(1, 2, 3, [CookieAckChunk()]).encode())
    raw[8] ^= 1
    assert not verify_checksum(bytes(raw))
    with pytest.raises(ParseError, match="CRC32c"):
        parse_packet(bytes(raw))


SAMPLES: list[Chunk] = [
    DataChunk(1, 2, 3, 53, b"x" * 7, FLAG_UNORDERED | FLAG_BEGIN),
    InitChunk(
        0x11223344,
        1 << 20,
        65535,
        65535,
        42,
        [
            Param(ParamType.SUPPORTED_EXTENSIONS, bytes([130, 192])),
            Param(ParamType.FORWARD_TSN_SUPPORTED, b""),
        ],
    ),
    InitAckChunk(9, 8, 7, 6, 5, [Param(ParamType.STATE_COOKIE, b"cookie!")]),
    SackChunk(100, 5000, [(2, 3), (5, 9)], [99, 98]),
    SackChunk(0xFFFFFFFF, 0),
    HeartbeatChunk(b"hb-info"),
    HeartbeatAckChunk(b"hb-info-2"),
    AbortChunk([Param(CauseCode.USER_INITIATED_ABORT, b"bye")], t_bit=True),
    AbortChunk(),
    ShutdownChunk(77),
    ShutdownAckChunk(),
    ShutdownCompleteChunk(t_bit=True),
    ErrorChunk([Param(CauseCode.STALE_COOKIE, b"\0\0\0\1")]),
    CookieEchoChunk(b"c" * 33),
    CookieAckChunk(),
    ForwardTsnChunk(1234, [(1, 2), (3, 4)]),
    ReconfigChunk([OutgoingSsnResetRequest(1, 2, 3, [4, 5, 6])]),
    ReconfigChunk([IncomingSsnResetRequest(7, [8]), ReconfigResponse(9, 1)]),
    ReconfigChunk([ReconfigResponse(10, 1, 11, 12)]),
    ReconfigChunk([SsnTsnResetRequest(3)]),
    ReconfigChunk([AddStreamsRequest(4, 16, incoming=True)]),
    ReconfigChunk([AddStreamsRequest(5, 2)]),
    UnknownChunk(0xBF, 3, b"zz"),
    IDataChunk(1, 2, 3, 51, b"first", FLAG_BEGIN),
    IDataChunk(0xFFFFFFFF, 65535, 0xFFFFFFFF, 7, b"x", FLAG_UNORDERED | FLAG_END),
    IForwardTsnChunk(99, [(1, False, 5), (2, True, 0xFFFFFFFF)]),
]


@pytest.mark.parametrize("chunk", SAMPLES, ids=lambda c: type(c).__name__)
def test_chunk_round_trip(chunk: Chunk) -> None:
    raw = Packet(5000, 5001, 7, [chunk]).encode()
    assert len(raw) % 4 == 0
    assert parse_packet(raw) == Packet(5000, 5001, 7, [chunk])


def test_bundle_round_trip() -> None:
    pkt = Packet(1, 2, 3, SAMPLES)
    assert parse_packet(pkt.encode()) == pkt


def test_sack_exact_bytes() -> None:
    assert SackChunk(10, 20, [(2, 3)], [7]).encode() == bytes.fromhex(
        "030000180000000a00000014000100010002000300000007"
    )


def test_idata_exact_bytes() -> None:
    # RFC 8260 2.1: type 64, flags, length, TSN, stream id, reserved, MID, PPID/FSN, data.
    raw = IDataChunk(0x01020304, 5, 0x0A0B0C0D, 53, b"abc", FLAG_BEGIN | FLAG_UNORDERED).encode()
    assert raw == bytes.fromhex("4006 0017 01020304 0005 0000 0a0b0c0d 00000035") + b"abc\0"
    fwd = IForwardTsnChunk(7, [(3, True, 9), (4, False, 1)]).encode()
    assert fwd == bytes.fromhex("c2000018 00000007 00030001 00000009 00040000 00000001")


def test_forward_tsn_exact_bytes() -> None:
    assert ForwardTsnChunk(5, [(1, 2)]).encode() == bytes.fromhex("c000000c0000000500010002")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\0" * 11, "shorter than its header"),
        (Packet(1, 2, 3, []).encode(), "without chunks"),
    ],
)
def test_malformed_packets(raw: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_packet(raw)


def test_chunk_length_overrun() -> None:
    body = bytes([0, 3, 0, 200]) + b"\0" * 12
    with pytest.raises(ParseError, match="overruns"):
        parse_packet(b"\0" * 12 + body, verify=False)


def test_sack_counts_beyond_length() -> None:
    body = bytes.fromhex("03000010000000010000000200050000")
    with pytest.raises(ParseError, match="beyond its length"):
        parse_packet(b"\0" * 12 + body, verify=False)


u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)
small_bytes = st.binary(max_size=40)
params = st.lists(st.builds(Param, u16, small_bytes), max_size=4)
chunks_st = st.one_of(
    st.builds(
        DataChunk, u32, u16, u16, u32, st.binary(min_size=1, max_size=60), st.integers(0, 15)
    ),
    st.builds(InitChunk, u32, u32, u16, u16, u32, params),
    st.builds(InitAckChunk, u32, u32, u16, u16, u32, params),
    st.builds(
        SackChunk,
        u32,
        u32,
        st.lists(st.tuples(u16, u16), max_size=5),
        st.lists(u32, max_size=5),
    ),
    st.builds(HeartbeatChunk, small_bytes),
    st.builds(AbortChunk, params, st.booleans()),
    st.builds(ShutdownChunk, u32),
    st.builds(CookieEchoChunk, small_bytes),
    st.builds(ForwardTsnChunk, u32, st.lists(st.tuples(u16, u16), max_size=5)),
    st.builds(
        ReconfigChunk,
        st.lists(
            st.one_of(
                st.builds(OutgoingSsnResetRequest, u32, u32, u32, st.lists(u16, max_size=5)),
                st.builds(IncomingSsnResetRequest, u32, st.lists(u16, max_size=5)),
                st.builds(ReconfigResponse, u32, u32),
                st.builds(ReconfigResponse, u32, u32, u32, u32),
            ),
            min_size=1,
            max_size=2,
        ),
    ),
    st.builds(ShutdownCompleteChunk, st.booleans()),
    st.builds(
        IDataChunk, u32, u16, u32, u32, st.binary(min_size=1, max_size=60), st.integers(0, 15)
    ),
    st.builds(IForwardTsnChunk, u32, st.lists(st.tuples(u16, st.booleans(), u32), max_size=4)),
)


@given(st.lists(chunks_st, min_size=1, max_size=5), u16, u16, u32)
def test_round_trip_property(chunks: list[Chunk], src: int, dst: int, tag: int) -> None:
    pkt = Packet(src, dst, tag, chunks)
    assert parse_packet(pkt.encode()) == pkt


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_parse_error(raw: bytes) -> None:
    try:
        parse_packet(raw, verify=False)
    except ParseError:
        pass


@given(st.lists(chunks_st, min_size=1, max_size=4), st.data())
def test_mutated_packets_only_raise_parse_error(chunks: list[Chunk], data: st.DataObject) -> None:
    raw = bytearray(Packet(5000, 5000, 1, chunks).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            parse_packet(candidate, verify=False)
        except ParseError:
            pass


def test_split_modules_reexported_from_chunks() -> None:
    """chunks.py was split into _wire / chunks_control; every name stays importable."""
    import types

    import rtcpeer.sctp._wire as wire
    import rtcpeer.sctp.chunks as chunks_mod
    import rtcpeer.sctp.chunks_control as control

    for name in chunks_mod.__all__:
        assert hasattr(chunks_mod, name), name
    for mod in (wire, control):
        for name, obj in vars(mod).items():
            if name.startswith("__") or isinstance(obj, types.ModuleType):
                continue
            if getattr(obj, "__module__", mod.__name__) != mod.__name__:
                continue
            assert getattr(chunks_mod, name) is obj, name
