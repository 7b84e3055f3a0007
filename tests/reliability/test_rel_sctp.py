"""Hostile SCTP/DCEP peers against rtcpeer's sans-I/O cores with their *default* settings
(what an RTCPeerConnection uses): bad checksums and wrong verification tags are dropped without
a reply, an INIT flood is rate-limited and reported, a DCEP OPEN for a stream in use is refused
without disturbing the channel, and a flood of remote channels stops at the channel limit."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.peerconnection import LOCAL_MAX_MESSAGE_SIZE
from rtcpeer.sctp.association import (
    Association,
    AssociationError,
    AssociationState,
    DataReceived,
)
from rtcpeer.sctp.channels import (
    ChannelCreated,
    ChannelError,
    ChannelMessage,
    DataChannelCore,
)
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    ChunkType,
    DataChunk,
    IDataChunk,
    InitChunk,
    Packet,
    parse_packet,
)
from rtcpeer.sctp.dcep import PPID_DCEP, DataChannelOpen

Endpoint = Association | DataChannelCore


class Wire:
    """Two endpoints joined by a perfect in-memory link and a fake clock."""

    def __init__(self, a: Endpoint, b: Endpoint) -> None:
        self.a, self.b = a, b
        self.now = 1000.0
        self.events: tuple[list[object], list[object]] = ([], [])

    def pump(self, rounds: int = 50, step: float = 0.01) -> None:
        for _ in range(rounds):
            moved = False
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                for pkt in src.packets_to_send():
                    dst.receive(pkt, self.now)
                    moved = True
            self.events[0].extend(self.a.events())
            self.events[1].extend(self.b.events())
            self.now += step
            self.a.timeout(self.now)
            self.b.timeout(self.now)
            if not moved:
                break


def assoc_pair(**kwargs: Any) -> tuple[Wire, Association, Association]:
    a = Association(True, rng=random.Random(1), **kwargs)
    b = Association(False, rng=random.Random(2), **kwargs)
    wire = Wire(a, b)
    a.connect(wire.now)
    b.connect(wire.now)
    wire.pump()
    assert a.state is AssociationState.ESTABLISHED
    assert b.state is AssociationState.ESTABLISHED
    return wire, a, b


def data_packet(b: Association, tsn: int, payload: bytes, tag: int | None = None) -> bytes:
    # Unordered, so the stream sequence number does not matter.
    chunk = DataChunk(tsn, 1, 0, 53, payload, FLAG_BEGIN | FLAG_END | FLAG_UNORDERED)
    return Packet(5000, 5000, b.local_tag if tag is None else tag, [chunk]).encode()


def next_tsn(wire: Wire, a: Association, b: Association) -> int:
    """The TSN ``b`` expects next: learned by letting ``a`` send one real message."""
    a.send(1, 53, b"probe", now=wire.now)
    pkts = a.packets_to_send()
    tsn = max(
        c.tsn for p in pkts for c in parse_packet(p).chunks if isinstance(c, DataChunk | IDataChunk)
    )
    for p in pkts:
        b.receive(p, wire.now)
    wire.pump()
    return (tsn + 1) & 0xFFFFFFFF


def test_bad_checksum_and_wrong_tag_are_dropped_silently() -> None:
    wire, a, b = assoc_pair()
    tsn = next_tsn(wire, a, b)
    wire.events[1].clear()
    good = bytearray(data_packet(b, tsn, b"evil"))
    bad_crc = bytes(good[:8]) + bytes(4) + bytes(good[12:])
    flipped = bytearray(good)
    flipped[-1] ^= 0xFF  # payload byte: CRC no longer matches
    wrong_tag = data_packet(b, tsn, b"evil", tag=(b.local_tag ^ 0x5A5A5A5A) or 1)
    zero_tag = data_packet(b, tsn, b"evil", tag=0)
    for pkt in (bad_crc, bytes(flipped), wrong_tag, zero_tag):
        for _ in range(100):
            b.receive(pkt, wire.now)
    assert b.packets_to_send() == []  # no SACK, no ABORT: nothing tells the sender anything
    assert [e for e in b.events() if isinstance(e, DataReceived)] == []
    assert b.state is AssociationState.ESTABLISHED
    # The same TSN with the right tag and CRC is still accepted: nothing was consumed.
    b.receive(data_packet(b, tsn, b"good"), wire.now)
    got = [e for e in b.events() if isinstance(e, DataReceived)]
    assert [e.data for e in got] == [b"good"]


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=12, max_size=200))
def test_random_packets_with_the_right_tag_never_raise(body: bytes) -> None:
    wire, a, b = assoc_pair()
    raw = bytearray(Packet(5000, 5000, b.local_tag, []).encode()[:12] + body)
    b.receive(bytes(raw), wire.now)  # whatever it is, it is dropped or handled
    b.packets_to_send()
    b.events()


def test_init_flood_with_default_settings_is_bounded_and_reported() -> None:
    wire, a, b = assoc_pair()
    b.events()
    wire.now += 60.0
    b.timeout(wire.now)
    b.packets_to_send()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    answers = 0
    for i in range(5000):
        init = InitChunk(0x10000 + i, 65536, 1024, 1024, i)
        b.receive(Packet(5000, 5000, 0, [init]).encode(), wire.now)
        for raw in b.packets_to_send():
            answers += parse_packet(raw).chunks[0].type == ChunkType.INIT_ACK
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    kinds = [e.kind for e in b.events() if isinstance(e, AssociationError)]
    assert answers <= 32, answers  # a burst, then the rate limit
    assert "init-flood" in kinds
    assert len(kinds) <= 5  # reported, not once per packet
    assert grown < 256 * 1024, grown  # stateless cookies: a flood keeps nothing
    assert b.state is AssociationState.ESTABLISHED
    # The real association still works.
    a.send(1, 53, b"after the flood", now=wire.now)
    wire.pump()
    assert any(isinstance(e, DataReceived) and e.data == b"after the flood" for e in wire.events[1])


def channel_pair() -> tuple[Wire, DataChannelCore, DataChannelCore]:
    a = DataChannelCore(Association(True, rng=random.Random(3)), True)
    b = DataChannelCore(Association(False, rng=random.Random(4)), False)
    wire = Wire(a, b)
    a.connect(wire.now)
    b.connect(wire.now)
    wire.pump()
    assert a.connected and b.connected
    return wire, a, b


def test_dcep_open_for_a_stream_in_use_is_refused_and_the_channel_goes_on() -> None:
    wire, a, b = channel_pair()
    sid = a.open_channel("chat")
    wire.pump()
    created = [e for e in wire.events[1] if isinstance(e, ChannelCreated)]
    assert [e.id for e in created] == [sid]
    wire.events[1].clear()
    # A second OPEN on the same stream, sent raw by the (hostile) peer's association.
    hostile = DataChannelOpen.for_channel("hijack", "evil", True, None, None, 256).encode()
    a.association.send(sid, PPID_DCEP, hostile, now=wire.now)
    wire.pump()
    errors = [e for e in wire.events[1] if isinstance(e, ChannelError)]
    assert errors and errors[0].id == sid
    assert not [e for e in wire.events[1] if isinstance(e, ChannelCreated)]
    assert b.channel(sid).label == "chat"
    # The original channel still carries messages both ways.
    a.send(sid, "still here")
    b.send(sid, b"me too")
    wire.pump()
    assert ChannelMessage(sid, "still here") in wire.events[1]
    assert ChannelMessage(sid, b"me too") in wire.events[0]


def test_remote_channel_flood_stops_at_the_configured_limit() -> None:
    limit = 32
    a = DataChannelCore(Association(True, rng=random.Random(5)), True)
    b = DataChannelCore(Association(False, rng=random.Random(6)), False, max_channels=limit)
    wire = Wire(a, b)
    a.connect(wire.now)
    b.connect(wire.now)
    wire.pump()
    for i in range(limit + 40):
        a.open_channel(f"c{i}")
        if i % 8 == 0:
            wire.pump()
    wire.pump(200)
    created = [e for e in wire.events[1] if isinstance(e, ChannelCreated)]
    refused = [e for e in wire.events[1] if isinstance(e, ChannelError) and "refused" in e.reason]
    assert len(created) == limit
    assert len(refused) == 40
    assert len(b.channel_ids()) <= limit


def test_never_ending_message_is_bounded_with_default_settings() -> None:
    """A peer streams fragments of one message that never ends: the receiver keeps at most
    its max-message-size of it and reports the violation. Settings as a peer connection's."""
    wire, a, b = assoc_pair(max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024)
    tsn = next_tsn(wire, a, b)
    b.events()
    fragment = bytes(1100)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(12000):  # 13 MB, 50x the 256 KiB max-message-size
        flags = FLAG_BEGIN if i == 0 else 0
        chunk = DataChunk((tsn + i) & 0xFFFFFFFF, 2, 0, 53, fragment, flags)
        b.receive(Packet(5000, 5000, b.local_tag, [chunk]).encode(), wire.now)
        b.packets_to_send()  # SACKs go nowhere
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 2 * 1024 * 1024, grown
    assert b.state is AssociationState.ESTABLISHED
    events = b.events()
    assert not [e for e in events if isinstance(e, DataReceived)]
    # Reported once, as soon as the limit was crossed (the message never ended).
    reports = [e for e in events if isinstance(e, AssociationError)]
    assert [(e.kind, e.stream_id) for e in reports] == [("message-too-big", 2)]
    # When the message finally ends it is dropped without a second report.
    end = DataChunk((tsn + 12000) & 0xFFFFFFFF, 2, 0, 53, fragment, FLAG_END)
    b.receive(Packet(5000, 5000, b.local_tag, [end]).encode(), wire.now)
    events = b.events()
    assert not [e for e in events if isinstance(e, AssociationError | DataReceived)]
    assert b.dropped_oversized == 1


def test_oversized_partial_message_is_reported_when_it_crosses_the_limit() -> None:
    """A message that never ends is reported as soon as its size passes the limit (a hostile
    peer may never send its last fragment)."""
    wire, a, b = assoc_pair(max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024)
    tsn = next_tsn(wire, a, b)
    b.events()
    kinds: list[str] = []
    for i in range(400):  # 440 KB of one message, the limit is 257 KiB
        flags = FLAG_BEGIN if i == 0 else 0
        chunk = DataChunk((tsn + i) & 0xFFFFFFFF, 2, 0, 53, bytes(1100), flags)
        b.receive(Packet(5000, 5000, b.local_tag, [chunk]).encode(), wire.now)
        b.packets_to_send()
        kinds += [e.kind for e in b.events() if isinstance(e, AssociationError)]
        if i * 1100 < LOCAL_MAX_MESSAGE_SIZE:
            assert not kinds, i
    assert kinds == ["message-too-big"]


def test_oversized_interleaved_message_is_reported_when_it_crosses_the_limit() -> None:
    """The same with I-DATA (RFC 8260), whose reassembly is keyed by message id."""
    wire, a, b = assoc_pair(max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024, interleaving=True)
    tsn = next_tsn(wire, a, b)
    b.events()
    kinds: list[str] = []
    for i in range(400):
        flags = FLAG_BEGIN if i == 0 else 0
        chunk = IDataChunk((tsn + i) & 0xFFFFFFFF, 2, 0, 53 if i == 0 else i, bytes(1100), flags)
        b.receive(Packet(5000, 5000, b.local_tag, [chunk]).encode(), wire.now)
        b.packets_to_send()
        kinds += [e.kind for e in b.events() if isinstance(e, AssociationError)]
        if i * 1100 < LOCAL_MAX_MESSAGE_SIZE:
            assert not kinds, i
    assert kinds == ["message-too-big"]
    assert b.state is AssociationState.ESTABLISHED


def _outage(wire: Wire, a: Association, seconds: float) -> int:
    """Advance the clock with every packet of ``a`` lost; returns how many were lost."""
    lost = 0
    end = wire.now + seconds
    while wire.now < end:
        lost += len(a.packets_to_send())
        b_out = wire.b.packets_to_send()
        assert isinstance(b_out, list)
        wire.now += 0.05
        a.timeout(wire.now)
        wire.b.timeout(wire.now)
    return lost


def test_path_change_retransmits_at_once() -> None:
    """ICE moved to a new pair after an outage: path_changed(now) resets the backed-off RTO
    and retransmits outstanding DATA at once instead of at the next T3 expiry."""
    wire, a, b = assoc_pair()
    tsn = next_tsn(wire, a, b)
    assert tsn
    b.events()
    a.send(1, 53, b"during the outage", now=wire.now)
    lost = _outage(wire, a, 12.0)
    assert lost >= 4  # the first send and T3 retransmissions
    assert a.rto >= 3.2  # backed off
    # Without a path change nothing would go out before the next T3 expiry.
    t3 = a.next_timeout()
    assert t3 is not None and t3 > wire.now + 1.0
    assert not a.packets_to_send()
    a.path_changed(wire.now)
    assert a.rto == a.rto_initial
    out = a.packets_to_send()
    assert out, "nothing retransmitted on the new path"
    for pkt in out:
        b.receive(pkt, wire.now)
    got = [e.data for e in b.events() if isinstance(e, DataReceived)]
    assert got == [b"during the outage"]
    wire.pump()
    assert a.state is AssociationState.ESTABLISHED
    # New data flows normally afterwards (and the RTT estimate is rebuilt).
    a.send(1, 53, b"after", now=wire.now)
    wire.pump()
    assert [e.data for e in wire.events[1] if isinstance(e, DataReceived)][-1] == b"after"


def test_path_change_clears_the_error_count() -> None:
    """An outage spanning several T3 expiries does not abort the association once a new path
    is found: the error counter restarts with the path."""
    wire, a, b = assoc_pair(max_retransmissions=6)
    next_tsn(wire, a, b)
    b.events()
    a.send(1, 53, b"x", now=wire.now)
    _outage(wire, a, 20.0)  # RTO 0.2 s doubling: six T3 expiries, the most allowed
    assert a.state is AssociationState.ESTABLISHED
    a.path_changed(wire.now)
    _outage(wire, a, 20.0)  # RTO 1 s doubling: four more, too many without the reset
    assert a.state is AssociationState.ESTABLISHED
    a.path_changed(wire.now)
    wire.pump()
    assert [e.data for e in wire.events[1] if isinstance(e, DataReceived)][-1:] == [b"x"]


def test_path_change_before_the_association_is_up_is_harmless() -> None:
    a = Association(True, rng=random.Random(1))
    a.path_changed(1000.0)
    assert a.packets_to_send() == []
    a.connect(1000.0)
    first = a.packets_to_send()
    assert first
    a.path_changed(1000.5)  # INIT resent at once on the new path
    a.timeout(1000.5)
    assert a.packets_to_send()
