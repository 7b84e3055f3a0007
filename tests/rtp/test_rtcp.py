"""RTCP codec: every packet type against known layouts, hypothesis round trips and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.packet import ParseError
from rtcpeer.rtp.rtcp import (
    App,
    Bye,
    Fir,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    ReportBlock,
    RtcpPacket,
    RtcpUnknown,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TransportCc,
    parse_rtcp,
    serialize_rtcp,
)


def test_sender_report_layout() -> None:
    sr = SenderReport(1, 0x0102030405060708, 9, 10, 11, [ReportBlock(2, 3, -1, 4, 5, 6, 7)])
    raw = serialize_rtcp([sr])
    assert raw[:4] == bytes.fromhex("81c8000c")
    assert raw[28:36] == bytes.fromhex("0000000203ffffff")
    assert parse_rtcp(raw) == [sr]


def test_compound_rr_sdes_bye() -> None:
    pkts: list[RtcpPacket] = [
        ReceiverReport(
            5, [ReportBlock(6, fraction_lost=25, packets_lost=3, highest_sequence=70000)]
        ),
        SourceDescription([SdesChunk(5, [(1, b"cname-abc")])]),
        Bye([5], b"done"),
    ]
    raw = serialize_rtcp(pkts)
    assert len(raw) % 4 == 0
    assert raw[1] == 201 and parse_rtcp(raw) == pkts


def test_sdes_layout() -> None:
    raw = serialize_rtcp([SourceDescription([SdesChunk(0x11223344, [(1, b"ab")])])])
    # header + ssrc + item(4 bytes) + null + 3 padding = 12 bytes after the header
    assert raw[:4] == bytes.fromhex("81ca0003")
    assert raw[8:16] == bytes.fromhex("0102616200000000")


def test_nack_pid_blp_layout() -> None:
    nack = Nack(1, 2, [100, 101, 103, 116, 200])
    raw = serialize_rtcp([nack])
    assert raw[:4] == bytes.fromhex("81cd0004")
    assert raw[12:20] == bytes.fromhex("0064800500c80000")
    assert parse_rtcp(raw) == [nack]


def test_nack_wraps_sequence_numbers() -> None:
    nack = Nack(1, 2, [65535, 0, 1])
    assert parse_rtcp(serialize_rtcp([nack])) == [nack]
    assert serialize_rtcp([nack])[12:16] == bytes.fromhex("ffff0003")


def test_pli_fir_remb_layout() -> None:
    raw = serialize_rtcp([Pli(1, 2)])
    assert raw == bytes.fromhex("81ce00020000000100000002")
    raw = serialize_rtcp([Fir(1, 0, [(9, 3)])])
    assert raw == bytes.fromhex("84ce000400000001000000000000000903000000")
    remb = Remb(1, 1_000_000, [9])
    raw = serialize_rtcp([remb])
    assert raw[:4] == bytes.fromhex("8fce0005") and raw[12:16] == b"REMB"
    # 1e6 = 0x0F4240: needs 20 bits, so exp=2, mantissa=250000
    assert raw[16:20] == bytes((1,)) + ((2 << 18) | 250000).to_bytes(3, "big")
    assert parse_rtcp(raw) == [remb]


def test_transport_cc_known_layout() -> None:
    # base 10, 4 packets: recv(delta 4), lost, recv(delta 1), recv(large delta -1)
    fb = TransportCc(1, 2, 10, 5, 7, [1, 0, 1, 2], [4, 1, -1])
    raw = serialize_rtcp([fb])
    assert raw[1] == 205 and raw[0] & 0x1F == 15
    body = raw[12:]
    assert body[:8] == bytes.fromhex("000a000400000507")
    assert body[8:10] == bytes.fromhex("d180")  # 11 then two-bit symbols 01 00 01 10 00 00 00
    assert body[10:14] == bytes.fromhex("0401ffff")
    assert parse_rtcp(raw) == [fb]


def test_transport_cc_run_length() -> None:
    fb = TransportCc(1, 2, 65530, 0, 0, [1] * 20 + [0] * 3, list(range(20)))
    raw = serialize_rtcp([fb])
    assert raw[20:22] == bytes.fromhex("2014")  # run of 20 symbol 1
    assert parse_rtcp(raw) == [fb]


def test_app_and_unknown_kept() -> None:
    pk: list[RtcpPacket] = [App(3, 7, b"abcd", b"12345678"), RtcpUnknown(207, 2, b"xyzw")]
    assert parse_rtcp(serialize_rtcp(pk)) == pk


def test_padding_is_stripped() -> None:
    raw = bytes.fromhex("a0c900020000000500000004")
    assert parse_rtcp(raw) == [ReceiverReport(5, [], b"")]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x80\xc9\x00",
        b"\x40\xc9\x00\x00",
        b"\x81\xc9\x00\x01\x00\x00\x00\x05",
        b"\x80\xc9\x00\x05\x00\x00\x00\x05",
        b"\xa0\xc9\x00\x01\x00\x00\x00\x09",
        b"\x81\xca\x00\x01\x00\x00\x00\x01",
        b"\x8f\xcd\x00\x03" + bytes(8) + b"\x00\x01\x00\x05",
    ],
)
def test_malformed(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_rtcp(raw)


u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    packets_lost=st.integers(-(1 << 23), (1 << 23) - 1),
    highest_sequence=u32,
    jitter=u32,
    lsr=u32,
    dlsr=u32,
)
words = st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4))


@st.composite
def tcc(draw: st.DrawFn) -> TransportCc:
    statuses = draw(st.lists(st.sampled_from([0, 1, 2]), max_size=60))
    deltas = [
        draw(st.integers(0, 255) if s == 1 else st.integers(-32768, 32767)) for s in statuses if s
    ]
    return TransportCc(
        draw(u32),
        draw(u32),
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(-(1 << 23), (1 << 23) - 1)),
        draw(st.integers(0, 255)),
        statuses,
        deltas,
    )


rtcp_packets = st.one_of(
    st.builds(
        SenderReport,
        u32,
        st.integers(0, 2**64 - 1),
        u32,
        u32,
        u32,
        st.lists(blocks, max_size=3),
        words,
    ),
    st.builds(ReceiverReport, u32, st.lists(blocks, max_size=3), words),
    st.builds(
        SourceDescription,
        st.lists(
            st.builds(
                SdesChunk,
                u32,
                st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=30)), max_size=3),
            ),
            max_size=3,
        ),
    ),
    st.builds(Bye, st.lists(u32, max_size=4), st.none() | st.binary(max_size=40)),
    st.builds(App, st.integers(0, 31), u32, st.binary(min_size=4, max_size=4), words),
    st.builds(
        Nack, u32, u32, st.lists(st.integers(0, 0xFFFF), max_size=40, unique=True).map(sorted)
    ),
    st.builds(Pli, u32, u32),
    st.builds(Fir, u32, u32, st.lists(st.tuples(u32, st.integers(0, 255)), max_size=3)),
    st.builds(
        Remb,
        u32,
        st.tuples(st.integers(0, (1 << 18) - 1), st.integers(0, 40)).map(lambda t: t[0] << t[1]),
        st.lists(u32, max_size=4),
    ),
    tcc(),
)


@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_round_trip(pkts: list[RtcpPacket]) -> None:
    assert parse_rtcp(serialize_rtcp(pkts)) == pkts


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        pkts = parse_rtcp(data)
    except ParseError:
        return
    once = serialize_rtcp(pkts)  # what parses can be written back, and is then stable
    assert serialize_rtcp(parse_rtcp(once)) == once


def test_nack_duplicates_and_disorder_normalize() -> None:
    raw = serialize_rtcp([Nack(1, 2, [10])])[:12] + bytes.fromhex("000a0002000b0000")
    raw = raw[:2] + b"\x00\x04" + raw[4:]
    (nack,) = parse_rtcp(raw)
    assert isinstance(nack, Nack) and nack.lost == [10, 12, 11]
    assert parse_rtcp(serialize_rtcp([nack])) == [Nack(1, 2, [10, 11, 12])]


@given(st.lists(rtcp_packets, min_size=1, max_size=3), st.integers(0, 1000), st.integers(0, 255))
def test_corrupted_raise_only_parse_error(pkts: list[RtcpPacket], pos: int, value: int) -> None:
    raw = bytearray(serialize_rtcp(pkts))
    raw[pos % len(raw)] = value
    try:
        parse_rtcp(bytes(raw))
    except ParseError:
        pass
