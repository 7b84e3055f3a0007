"""I-DATA (RFC 8260): negotiation, interleaving of large messages, PR-SCTP with I-FORWARD-TSN,
stream reset and limits. Mixed lossy traffic runs in test_stress.py for both DATA and I-DATA."""

from __future__ import annotations

from sctp_helpers import ChannelPair, Pair

from netsim import LinkConfig
from rtcpeer.sctp.association import AssociationError
from rtcpeer.sctp.channels import ChannelClosed, ChannelMessage, ChannelOpen
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    ChunkType,
    DataChunk,
    IDataChunk,
    IForwardTsnChunk,
    InitChunk,
    Packet,
    ParamType,
    parse_packet,
)


def chunk_types(packets: list[bytes]) -> set[int]:
    return {c.type for raw in packets for c in parse_packet(raw).chunks}


def test_negotiated_only_when_both_offer_it() -> None:
    for a_on, b_on in ((True, True), (True, False), (False, True)):
        p = Pair()
        p.a.interleaving, p.b.interleaving = a_on, b_on
        p.record = True
        assert p.connect()
        init = parse_packet(p.sent_packets[0][0]).chunks[0]
        assert isinstance(init, InitChunk)
        ext = init.param(ParamType.SUPPORTED_EXTENSIONS) or b""
        assert (ChunkType.I_DATA in ext) == a_on and (ChunkType.I_FORWARD_TSN in ext) == a_on
        both = a_on and b_on
        assert p.a._idata is p.b._idata is both
        p.sent_packets = [[], []]
        p.a.send(1, 53, bytes(3000))
        assert p.run(lambda p=p: len(p.received(1)) == 1)
        kinds = chunk_types(p.sent_packets[0])
        assert (ChunkType.I_DATA in kinds) == both and (ChunkType.DATA in kinds) != both


def test_fragments_carry_mid_ppid_and_fsn() -> None:
    p = Pair(interleaving=True)
    assert p.connect()
    p.a.send(7, 51, bytes(3000))
    p.a.send(7, 53, b"second", ordered=False)
    chunks = [
        c
        for raw in p.a.packets_to_send()
        for c in parse_packet(raw).chunks
        if isinstance(c, IDataChunk)
    ]
    first = [c for c in chunks if not c.flags & FLAG_UNORDERED]
    assert [c.flags & 3 for c in first] == [FLAG_BEGIN, 0, FLAG_END]
    assert [c.ppid_or_fsn for c in first] == [51, 1, 2]  # PPID on B, then FSN 1, 2
    assert {c.mid for c in first} == {0}
    (second,) = [c for c in chunks if c.flags & FLAG_UNORDERED]
    assert second.mid == 0 and second.ppid_or_fsn == 53  # unordered MIDs counted apart


def test_small_messages_overtake_a_large_one() -> None:
    for interleaving in (False, True):
        p = Pair(LinkConfig(delay=0.01), interleaving=interleaving)
        assert p.connect()
        p.a.send(1, 53, bytes(4 * 1024 * 1024))
        p.run(max_time=0.05)  # the large message is under way
        p.a.send(3, 51, b"urgent")
        assert p.run(lambda p=p: len(p.received(1)) == 2, max_time=60)
        order = [e.stream_id for e in p.received(1)]
        assert order == ([3, 1] if interleaving else [1, 3])
        assert p.received(1)[1 if interleaving else 0].data == bytes(4 * 1024 * 1024)


def test_sixteen_mib_message_interleaved_with_chat_at_loss() -> None:
    p = Pair(LinkConfig(loss=0.02, reorder=0.1, seed=8), interleaving=True)
    assert p.connect()
    big = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    p.a.send(1, 53, big)
    for i in range(50):
        p.a.send(3, 51, f"chat {i}".encode())
    assert p.run(lambda: len(p.received(1)) == 51, max_time=600)
    chat = [e.data for e in p.received(1) if e.stream_id == 3]
    assert chat == [f"chat {i}".encode() for i in range(50)]
    assert [e.data for e in p.received(1) if e.stream_id == 1] == [big]
    assert p.b._held == 0 and not p.b._ipartials


def to_b(p: Pair, *chunks: object) -> None:
    p.b.receive(Packet(5000, 5000, p.b.local_tag, list(chunks)).encode(), p.clock.now)  # type: ignore[arg-type]


def test_iforward_tsn_drops_partials_and_unblocks_the_stream() -> None:
    p = Pair(interleaving=True)
    assert p.connect()
    tsn = (p.b._cum_in + 1) & 0xFFFFFFFF
    u = FLAG_UNORDERED
    to_b(p, IDataChunk(tsn + 1, 1, 0, 1, b"tail", FLAG_END))  # ordered MID 0, head lost
    to_b(p, IDataChunk(tsn + 2, 1, 1, 53, b"next"))  # ordered MID 1 waits for MID 0
    to_b(p, IDataChunk(tsn + 3, 2, 0, 53, b"half", u | FLAG_BEGIN))  # unordered, never ends
    to_b(p, IDataChunk(tsn + 5, 2, 1, 53, b"other", u | FLAG_BEGIN))  # another one, alive
    p.collect()
    assert p.received(1) == [] and p.b._held > 0
    to_b(p, IForwardTsnChunk(tsn + 4, [(1, False, 0), (2, True, 0)]))
    p.collect()
    assert [e.data for e in p.received(1)] == [b"next"]
    assert set(p.b._ipartials) == {(2, True, 1)}
    to_b(p, IDataChunk(tsn + 6, 2, 1, 1, b"!", u | FLAG_END))
    p.collect()
    assert [e.data for e in p.received(1)] == [b"next", b"other!"]
    assert p.b._held == 0


def test_data_chunks_are_ignored_once_idata_is_negotiated() -> None:
    p = Pair(interleaving=True)
    assert p.connect()
    tsn = (p.b._cum_in + 1) & 0xFFFFFFFF
    to_b(p, DataChunk(tsn, 1, 0, 53, b"old style"))
    p.collect()
    assert p.received(1) == [] and p.b._cum_in + 1 == tsn


def test_oversized_interleaved_message_is_dropped_and_reported() -> None:
    p = Pair(interleaving=True)
    p.b.max_message_size = 5000
    assert p.connect()
    p.a.send(1, 53, bytes(20_000))
    p.a.send(1, 53, b"after")
    assert p.run(lambda: len(p.received(1)) == 1)
    assert p.received(1)[0].data == b"after"
    p.collect()
    assert [e.kind for e in p.ev[1] if isinstance(e, AssociationError)] == ["message-too-big"]
    assert p.b._held == 0


def test_channels_over_idata_open_talk_and_close() -> None:
    p = ChannelPair(
        LinkConfig(loss=0.05, reorder=0.2, seed=3),
        core_kwargs={"remote_max_message_size": 0},
        interleaving=True,
    )
    assert p.connect()
    assert p.a.association._idata
    sid = p.a.open_channel("file")
    rtx = p.a.open_channel("lossy", ordered=False, max_retransmits=0)
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 2)
    p.a.send(sid, bytes(300_000))
    for i in range(20):
        p.a.send(rtx, f"{i}")
    p.a.send(sid, "done")
    assert p.run(lambda: len([e for e in p.of(1, ChannelMessage) if e.id == sid]) == 2, 120)
    p.a.close(sid)
    p.a.close(rtx)
    assert p.run(lambda: len(p.of(0, ChannelClosed)) == 2 and len(p.of(1, ChannelClosed)) == 2)
    assert p.a.open_channel("again") == sid
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 3)
