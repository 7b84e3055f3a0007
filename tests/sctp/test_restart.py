"""RFC 9260 5.2.2 / 5.2.4: tie-tags in the state cookie and peer restart (case A)."""

from __future__ import annotations

import random
from typing import Any

from sctp_helpers import ChannelPair, Pair

from rtcpeer.sctp._base import _Cookie
from rtcpeer.sctp.association import (
    Association,
    AssociationError,
    AssociationState,
    Connected,
    DataReceived,
)
from rtcpeer.sctp.channels import (
    ChannelClosed,
    ChannelCreated,
    ChannelMessage,
    ChannelOpen,
    DataChannelCore,
)
from rtcpeer.sctp.chunks import (
    CauseCode,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    Packet,
    ParamType,
    parse_packet,
)
from rtcpeer.sctp.events import AssociationRestarted


def chunks_of(raw: bytes) -> list[Any]:
    return list(parse_packet(raw).chunks)


def _restart_a(p: Pair, seed: int = 99) -> Association:
    """Replace endpoint A by a fresh association (a peer that lost its state)."""
    a2 = Association(True, rng=random.Random(seed))
    p.a = a2
    p.eps[0] = a2
    p.ev[0] = []
    p.rx[0] = []
    return a2


def test_init_in_established_carries_tie_tags_in_cookie() -> None:
    p = Pair()
    assert p.connect()
    a2 = Association(True, rng=random.Random(99))
    a2.connect(p.clock.now)
    p.b.receive(a2.packets_to_send()[0], p.clock.now)
    (ack_pkt,) = p.b.packets_to_send()
    pkt = parse_packet(ack_pkt)
    assert pkt.verification_tag == a2.local_tag
    (ack,) = pkt.chunks
    assert isinstance(ack, InitAckChunk)
    assert ack.initiate_tag != p.b.local_tag
    cookie = p.b._open_cookie(ack.param(ParamType.STATE_COOKIE) or b"")
    assert cookie is not None
    assert (cookie.local_tie_tag, cookie.peer_tie_tag) == (p.b.local_tag, p.b.peer_tag)
    assert p.b.state is AssociationState.ESTABLISHED  # an INIT alone changes nothing


def test_peer_restart_resets_association_and_drops_old_data() -> None:
    p = Pair()
    assert p.connect()
    old_local, old_peer = p.b.local_tag, p.b.peer_tag
    # B has data queued and in flight for the old incarnation of A.
    p.b.send(3, 51, b"x" * 50_000)
    p.b.packets_to_send()  # in flight, never delivered
    assert p.b.buffered_amount(3) > 0
    p.b.take_buffer_decreased()
    p.b.events()
    p.ev[1] = []
    a2 = _restart_a(p)
    a2.connect(p.clock.now)
    assert p.run(lambda: a2.state is AssociationState.ESTABLISHED, max_time=10)
    assert p.b.local_tag != old_local and p.b.peer_tag != old_peer
    assert p.b.local_tag == a2.peer_tag and p.b.peer_tag == a2.local_tag
    assert p.b.state is AssociationState.ESTABLISHED
    assert p.ev[1].count(AssociationRestarted()) == 1
    assert Connected() not in p.ev[1]
    assert p.b.buffered_amount(3) == 0 and 3 in p.b.take_buffer_decreased()
    # The new incarnation works both ways, streams start at SSN 0 again, and nothing of the
    # old incarnation reaches the restarted peer.
    p.a.send(1, 51, b"hello again")
    p.b.send(2, 53, b"welcome back")
    assert p.run(lambda: p.received(0) and p.received(1), max_time=10)
    assert p.received(1) == [DataReceived(1, 51, b"hello again")]
    assert p.received(0) == [DataReceived(2, 53, b"welcome back")]
    p.run(max_time=5)
    assert p.received(0) == [DataReceived(2, 53, b"welcome back")]


def _echo_for(b: Association, cookie: _Cookie) -> bytes:
    raw = b._sign_cookie(cookie)
    return Packet(5000, 5000, cookie.local_tag, [CookieEchoChunk(raw)]).encode()


def _cookie(b: Association, local_tie: int, peer_tie: int) -> _Cookie:
    return _Cookie(b._now, 0x1234, 1000, 1 << 20, 16, 16, 0x5678, 2000, 0, local_tie, peer_tie)


def test_cookie_with_wrong_tie_tags_is_discarded() -> None:
    p = Pair()
    assert p.connect()
    p.b.events()
    tags = (p.b.local_tag, p.b.peer_tag)
    for lt, pt in ((0, 0), (p.b.local_tag, 1), (1, p.b.peer_tag)):
        p.b.receive(_echo_for(p.b, _cookie(p.b, lt, pt)), p.clock.now)
        assert p.b.packets_to_send() == []
        assert p.b.events() == []
        assert (p.b.local_tag, p.b.peer_tag) == tags


def test_matching_tie_tags_restart_answers_cookie_ack() -> None:
    p = Pair()
    assert p.connect()
    p.b.events()
    p.b.receive(_echo_for(p.b, _cookie(p.b, p.b.local_tag, p.b.peer_tag)), p.clock.now)
    (ack,) = p.b.packets_to_send()
    assert parse_packet(ack).verification_tag == 0x1234
    assert [type(c) for c in chunks_of(ack)] == [CookieAckChunk]
    assert p.b.events() == [AssociationRestarted()]
    assert (p.b.local_tag, p.b.peer_tag) == (0x5678, 0x1234)


def test_restart_keeps_a_user_shutdown_but_not_the_old_peers() -> None:
    p = Pair()
    assert p.connect()
    p.b.shutdown(p.clock.now)
    p.b.packets_to_send()  # SHUTDOWN, lost
    assert p.b.state is AssociationState.SHUTDOWN_SENT
    p.b.receive(_echo_for(p.b, _cookie(p.b, p.b.local_tag, p.b.peer_tag)), p.clock.now)
    names = [type(c).__name__ for raw in p.b.packets_to_send() for c in chunks_of(raw)]
    assert names == ["CookieAckChunk", "ShutdownChunk"]
    assert p.b.state is AssociationState.SHUTDOWN_SENT

    q = Pair()
    assert q.connect()
    q.a.shutdown(q.clock.now)
    q.b.send(1, 51, b"still queued")  # keeps B in SHUTDOWN-RECEIVED
    q.b.receive(q.a.packets_to_send()[0], q.clock.now)
    q.b.packets_to_send()
    assert q.b.state is AssociationState.SHUTDOWN_RECEIVED
    q.b.receive(_echo_for(q.b, _cookie(q.b, q.b.local_tag, q.b.peer_tag)), q.clock.now)
    names = [type(c).__name__ for raw in q.b.packets_to_send() for c in chunks_of(raw)]
    assert names == ["CookieAckChunk"]
    assert q.b.state is AssociationState.ESTABLISHED


def test_restart_while_shutdown_ack_sent_is_refused() -> None:
    p = Pair()
    assert p.connect()
    p.a.shutdown(p.clock.now)
    p.b.receive(p.a.packets_to_send()[0], p.clock.now)  # SHUTDOWN
    p.b.packets_to_send()  # SHUTDOWN ACK, lost
    assert p.b.state is AssociationState.SHUTDOWN_ACK_SENT
    tags = (p.b.local_tag, p.b.peer_tag)
    p.b.events()
    p.b.receive(_echo_for(p.b, _cookie(p.b, p.b.local_tag, p.b.peer_tag)), p.clock.now)
    out = p.b.packets_to_send()
    errors = [
        (parse_packet(raw).verification_tag, c)
        for raw in out
        for c in chunks_of(raw)
        if isinstance(c, ErrorChunk)
    ]
    assert [(t, [x.type for x in c.causes]) for t, c in errors] == [
        (0x1234, [CauseCode.COOKIE_WHILE_SHUTTING_DOWN])
    ]
    assert any(type(c).__name__ == "ShutdownAckChunk" for raw in out for c in chunks_of(raw))
    assert (p.b.local_tag, p.b.peer_tag) == tags
    assert p.b.state is AssociationState.SHUTDOWN_ACK_SENT
    assert AssociationRestarted() not in p.b.events()


def test_channels_closed_on_peer_restart() -> None:
    p = ChannelPair()
    assert p.connect()
    cid = p.a.open_channel("chat")
    assert p.run(lambda: p.of(0, ChannelOpen) and p.of(1, ChannelCreated), max_time=10)
    a2 = DataChannelCore(Association(True, rng=random.Random(99)), True)
    p.a = a2
    p.eps[0] = a2
    p.ev[0] = []
    a2.connect(p.clock.now)
    assert p.run(lambda: a2.connected and p.of(1, ChannelClosed), max_time=10)
    assert [e.id for e in p.of(1, ChannelClosed)] == [cid]
    assert [e.kind for e in p.of(1, AssociationError)] == ["peer-restart"]
    assert p.b.connected and p.b.channel_count == 0
    # A new channel works over the restarted association.
    new = p.a.open_channel("again")
    assert p.run(lambda: len(p.of(1, ChannelCreated)) == 2 and p.of(0, ChannelOpen), max_time=10)
    assert new in p.b.channel_ids()
    p.a.send(new, "still here")
    assert p.run(lambda: p.of(1, ChannelMessage), max_time=10)
    assert [(m.id, m.data) for m in p.of(1, ChannelMessage)] == [(new, "still here")]
