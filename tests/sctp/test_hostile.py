"""A hostile or broken peer (issue 9): every resource it can make us hold is bounded by a
configurable limit, and hitting one is reported as an AssociationError event."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sctp_helpers import Pair

from netsim import LinkConfig
from rtcpeer.errors import OperationError
from rtcpeer.sctp.association import AssociationError, AssociationState, Closed
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    ChunkType,
    DataChunk,
    ForwardTsnChunk,
    HeartbeatChunk,
    InitChunk,
    Packet,
    crc32c,
    parse_packet,
)


def errors(p: Pair, i: int) -> list[AssociationError]:
    p.collect()
    return [e for e in p.ev[i] if isinstance(e, AssociationError)]


def to_b(p: Pair, *chunks: object) -> None:
    """Deliver a hand-made packet from "a" to "b" (correct tag and CRC)."""
    p.b.receive(Packet(5000, 5000, p.b.local_tag, list(chunks)).encode(), p.clock.now)  # type: ignore[arg-type]


def next_tsn_for_b(p: Pair) -> int:
    return (p.b._cum_in + 1) & 0xFFFFFFFF


def test_init_flood_is_rate_limited_and_reported() -> None:
    p = Pair(init_burst=5, init_rate=2.0)
    assert p.connect()
    p.clock.advance(10.0)  # the bucket is full again after the handshake's own INIT
    p.collect()
    init = InitChunk(0x1234, 65536, 10, 10, 99)
    answers = 0
    for _ in range(200):
        p.b.receive(Packet(5000, 5000, 0, [init]).encode(), p.clock.now)
        for raw in p.b.packets_to_send():
            answers += parse_packet(raw).chunks[0].type == ChunkType.INIT_ACK
    assert answers == 5
    assert [e.kind for e in errors(p, 1)] == ["init-flood"]
    # The association is untouched, and the bucket refills with time.
    assert p.b.state is AssociationState.ESTABLISHED
    p.clock.advance(1.0)
    p.b.receive(Packet(5000, 5000, 0, [init]).encode(), p.clock.now)
    assert [parse_packet(r).chunks[0].type for r in p.b.packets_to_send()] == [ChunkType.INIT_ACK]
    p.a.send(1, 53, b"still fine")
    assert p.run(lambda: len(p.received(1)) == 1)


def test_ordered_data_behind_a_hole_that_never_fills_is_bounded() -> None:
    p = Pair(max_reassembly=50_000)
    assert p.connect()
    tsn = next_tsn_for_b(p)
    # SSN 0 never comes: every later message must wait, until the limit is hit.
    for i in range(100):
        to_b(p, DataChunk(tsn + i, 3, i + 1, 53, bytes(1000)))
        if p.b.state is AssociationState.CLOSED:
            break
    assert [e.kind for e in errors(p, 1)] == ["reassembly-limit"]
    assert p.b.state is AssociationState.CLOSED
    assert p.b._held <= 51_000
    assert p.ev[1][-1] == Closed("aborted locally: reassembly limit exceeded")
    # The peer is told with an ABORT.
    assert p.run(lambda: p.a.state is AssociationState.CLOSED, max_time=5)


def test_fragments_without_a_beginning_are_bounded() -> None:
    p = Pair(max_reassembly=20_000)
    assert p.connect()
    tsn = next_tsn_for_b(p)
    for i in range(100):
        to_b(p, DataChunk(tsn + i, 1, 0, 53, bytes(1000), flags=0))  # middle fragments only
    assert [e.kind for e in errors(p, 1)] == ["reassembly-limit"]
    assert p.b.state is AssociationState.CLOSED


def test_message_above_our_limit_is_dropped_and_the_stream_goes_on() -> None:
    p = Pair()
    p.b.max_message_size = 10_000
    assert p.connect()
    p.a.send(2, 53, bytes(30_000))
    p.a.send(2, 53, b"after")
    p.a.send(4, 51, b"other stream", ordered=False)
    assert p.run(lambda: len(p.received(1)) == 2)
    assert sorted(e.data for e in p.received(1)) == [b"after", b"other stream"]
    assert [e.kind for e in errors(p, 1)] == ["message-too-big"]
    assert p.b.state is AssociationState.ESTABLISHED and p.b._held == 0


def test_send_queue_limit_raises_operation_error() -> None:
    p = Pair(max_send_buffer=10_000)
    assert p.connect()
    p.a.send(1, 53, bytes(6000))
    with pytest.raises(OperationError):
        p.a.send(1, 53, bytes(6000))
    assert p.a.buffered_amount(1) == 6000
    p.a.packets_to_send()  # handed to the network: room again
    p.a.send(1, 53, bytes(6000))


def test_peer_that_never_acknowledges_ends_the_association() -> None:
    p = Pair(max_retransmissions=3)
    assert p.connect()
    p.a.send(1, 53, bytes(100))
    p.link.config.loss = 1.0  # the peer goes silent: no SACK ever comes back
    assert p.run(lambda: p.a.state is AssociationState.CLOSED, max_time=200)
    assert p.ev[0][-1] == Closed("aborted locally: too many retransmissions")


def test_out_of_window_tsns_are_dropped_not_stored() -> None:
    p = Pair(max_out_of_order_chunks=100)
    assert p.connect()
    tsn = next_tsn_for_b(p)
    to_b(p, DataChunk((tsn + 70_000) & 0xFFFFFFFF, 1, 0, 53, b"far"))  # beyond a gap block
    for i in range(200):
        to_b(p, DataChunk(tsn + 2 + 2 * i, 1, 0, 53, b"x", flags=FLAG_BEGIN | FLAG_END | 4))
    assert len(p.b._above) == 100
    p.b.packets_to_send()  # the SACK with at most 100 gap blocks encodes
    to_b(p, DataChunk(tsn, 1, 0, 53, b"fill"))
    assert p.b.state is AssociationState.ESTABLISHED


def test_huge_heartbeat_echo_does_not_block_control_chunks() -> None:
    p = Pair()
    assert p.connect()
    to_b(p, HeartbeatChunk(bytes(1300)))  # its HEARTBEAT ACK cannot fit a 1200-byte packet
    p.b.packets_to_send()
    p.b.send(1, 51, b"hello")
    assert p.run(lambda: len(p.received(0)) == 1)


def test_forward_tsn_keeps_a_message_straddling_the_new_cumulative_tsn() -> None:
    """RFC 3758 3.6: only partial messages missing a TSN at or below the new cumulative TSN
    are dropped; a live message whose first fragments are below it must survive."""
    p = Pair()
    assert p.connect()
    tsn = next_tsn_for_b(p)
    u = FLAG_UNORDERED
    # tsn: an abandoned message never arrives; tsn+1..tsn+3: message "abc" in three parts.
    to_b(p, DataChunk(tsn + 1, 1, 0, 53, b"a", flags=u | FLAG_BEGIN))
    to_b(p, DataChunk(tsn + 2, 1, 0, 53, b"b", flags=u))
    to_b(p, ForwardTsnChunk(tsn + 2, []))
    to_b(p, DataChunk(tsn + 3, 1, 0, 53, b"c", flags=u | FLAG_END))
    p.collect()
    assert [e.data for e in p.received(1)] == [b"abc"]
    assert p.b._held == 0


def test_forward_tsn_drops_dead_fragments_and_unblocks_the_stream() -> None:
    p = Pair()
    assert p.connect()
    tsn = next_tsn_for_b(p)
    # Ordered message SSN 0 in two parts; its first part is lost and it is abandoned.
    to_b(p, DataChunk(tsn + 1, 1, 0, 53, b"end", flags=FLAG_END))
    to_b(p, DataChunk(tsn + 2, 1, 1, 53, b"next"))
    assert p.b._held > 0
    to_b(p, ForwardTsnChunk(tsn + 1, [(1, 0)]))
    p.collect()
    assert [e.data for e in p.received(1)] == [b"next"]
    assert p.b._held == 0


def test_lossy_link_keeps_held_bytes_accounted() -> None:
    p = Pair(LinkConfig(loss=0.1, duplicate=0.1, reorder=0.3, jitter=0.02, seed=3))
    assert p.connect()
    for i in range(60):
        p.a.send(i % 3, 53, bytes([i]) * (100 + 997 * i), ordered=i % 2 == 0)
    assert p.run(lambda: len(p.received(1)) == 60, max_time=120)
    assert p.b._held == 0 and not p.b._partials and not p.b._orphans


raw_chunk = st.tuples(
    st.sampled_from([int(t) for t in ChunkType] + [0x3F, 0x7F, 0xBF, 0xFF]),
    st.integers(0, 255),
    st.binary(max_size=40),
)


@settings(max_examples=150)
@given(
    st.lists(st.lists(raw_chunk, min_size=1, max_size=4), min_size=1, max_size=6),
    st.booleans(),
    st.data(),
)
def test_random_valid_packets_never_raise(
    packets: list[list[tuple[int, int, bytes]]], interleaving: bool, data: st.DataObject
) -> None:
    """Chunks of every type with random flags and bodies, in packets with a correct tag and
    CRC, mixed with real traffic: nothing escapes, and the books stay balanced."""
    p = Pair(interleaving=interleaving)
    assert p.connect()
    tsn = next_tsn_for_b(p)
    for i in range(5):
        p.a.send(i, 53, bytes(data.draw(st.integers(1, 3000))))
    p.a.packets_to_send()
    for chunks in packets:
        body = b""
        for ctype, flags, raw in chunks:
            tsn_first = (
                ChunkType.DATA,
                ChunkType.FORWARD_TSN,
                ChunkType.I_DATA,
                ChunkType.I_FORWARD_TSN,
            )
            if ctype in tsn_first and len(raw) >= 4:
                off = data.draw(st.integers(-3, 40))
                raw = ((tsn + off) & 0xFFFFFFFF).to_bytes(4, "big") + raw[4:]
            length = 4 + len(raw)
            body += struct.pack("!BBH", ctype, flags, length) + raw + bytes(-length % 4)
        for target in (p.a, p.b):
            pkt = struct.pack("!HHI", 5000, 5000, target.local_tag) + b"\0\0\0\0" + body
            pkt = pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]
            target.receive(pkt, p.clock.now)
        p.run(max_time=0.3)
    p.run(max_time=5)
    for ep in p.eps:
        assert ep._held >= 0 and ep._flight >= 0 and ep._above_bytes >= 0
        assert ep._queued_bytes >= 0
