"""RFC 9260 completeness (sans-I/O, fake clock): unrecognized chunk types and parameters
(3.2, 3.2.1), duplicate and stale COOKIE ECHO of a live association (5.2.4 case D), the
implied COOKIE ACK, and simultaneous open (both WebRTC peers send INIT) over lossy links."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sctp_helpers import Pair

from netsim import LinkConfig
from rtcpeer.sctp.association import Association, AssociationState, Connected, DataReceived
from rtcpeer.sctp.chunks import (
    CauseCode,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    Param,
    ParamType,
    UnknownChunk,
    encode_params,
    finish_packet,
    parse_packet,
)


def chunks_of(raw: bytes) -> list[Any]:
    return list(parse_packet(raw).chunks)


def all_chunks(packets: list[bytes]) -> list[Any]:
    return [c for p in packets for c in chunks_of(p)]


def from_peer(to: Association, *chunks: bytes, tag: int | None = None) -> bytes:
    """A packet to ``to`` from its peer (ports 5000), with ``to``'s tag unless given."""
    header = (5000).to_bytes(2, "big") * 2 + (to.local_tag if tag is None else tag).to_bytes(
        4, "big"
    )
    return finish_packet(header, b"".join(chunks))


def established() -> Pair:
    p = Pair()
    assert p.connect(both=True)
    p.collect()
    return p


# --- 3.2: unrecognized chunk types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "processed_after", "reported"),
    [(0x3E, False, False), (0x7E, False, True), (0xBE, True, False), (0xFE, True, True)],
)
def test_unrecognized_chunk_type_high_bits(
    ctype: int, processed_after: bool, reported: bool
) -> None:
    p = established()
    now = p.clock.now
    unknown = UnknownChunk(ctype, 0x5A, b"\x01\x02\x03\x04\x05").encode()
    hb = HeartbeatChunk(b"probe-info").encode()
    p.a.receive(from_peer(p.a, unknown, hb), now)
    out = all_chunks(p.a.packets_to_send())
    acks = [c for c in out if isinstance(c, HeartbeatAckChunk)]
    errors = [c for c in out if isinstance(c, ErrorChunk)]
    assert (acks == [HeartbeatAckChunk(b"probe-info")]) is processed_after
    if reported:
        assert len(errors) == 1
        (cause,) = errors[0].causes
        assert cause.type == CauseCode.UNRECOGNIZED_CHUNK
        # The whole chunk, header included (without padding).
        assert cause.value == bytes((ctype, 0x5A, 0, 9)) + b"\x01\x02\x03\x04\x05"
    else:
        assert errors == []
    # Never fatal: the association carries on.
    assert p.a.state is AssociationState.ESTABLISHED
    p.a.send(0, 51, b"still here")
    assert p.run(lambda: p.received(1))
    assert p.received(1) == [DataReceived(0, 51, b"still here")]


def test_unknown_chunk_between_data_chunks_of_one_packet() -> None:
    p = established()
    b = p.b
    # Two DATA chunks separated by a skip-and-report chunk: both delivered, one ERROR.
    tsn = b._cum_in + 1
    d1 = DataChunk(tsn & 0xFFFFFFFF, 0, 0, 51, b"one").encode()
    d2 = DataChunk((tsn + 1) & 0xFFFFFFFF, 0, 1, 51, b"two").encode()
    unknown = UnknownChunk(0xC7, 0, b"").encode()
    b.receive(from_peer(b, d1, unknown, d2), p.clock.now)
    out = all_chunks(b.packets_to_send())
    assert [e for e in b.events() if isinstance(e, DataReceived)] == [
        DataReceived(0, 51, b"one"),
        DataReceived(0, 51, b"two"),
    ]
    errors = [c for c in out if isinstance(c, ErrorChunk)]
    assert [c.type for e in errors for c in e.causes] == [CauseCode.UNRECOGNIZED_CHUNK]


def test_oversized_unknown_chunk_is_not_echoed() -> None:
    p = established()
    big = UnknownChunk(0xFE, 0, bytes(1180)).encode()
    p.a.receive(from_peer(p.a, big, HeartbeatChunk(b"x").encode()), p.clock.now)
    out = all_chunks(p.a.packets_to_send())
    assert not any(isinstance(c, ErrorChunk) for c in out)
    assert HeartbeatAckChunk(b"x") in out


@settings(max_examples=60, deadline=None)
@given(
    types=st.lists(st.integers(15, 255).filter(lambda t: t not in (64, 130, 192, 194)), max_size=6),
    bodies=st.lists(st.binary(max_size=40), min_size=6, max_size=6),
    flags=st.integers(0, 255),
)
def test_random_unknown_chunks_never_break_an_association(
    types: list[int], bodies: list[bytes], flags: int
) -> None:
    p = established()
    chunks = [UnknownChunk(t, flags, bodies[i]).encode() for i, t in enumerate(types)]
    p.a.receive(from_peer(p.a, *chunks, HeartbeatChunk(b"hb").encode()), p.clock.now)
    p.a.packets_to_send()
    assert p.a.state is AssociationState.ESTABLISHED
    p.b.send(1, 53, b"after")
    assert p.run(lambda: p.received(0))
    assert p.received(0) == [DataReceived(1, 53, b"after")]


# --- 3.2.1: unrecognized parameters in INIT and INIT ACK ---------------------------------------


def _init(params: list[Param]) -> bytes:
    return InitChunk(0x11223344, 100000, 16, 16, 1000, params).encode()


def test_init_unknown_parameters_reported_in_init_ack() -> None:
    b = Association(False, rng=random.Random(3))
    params = [
        Param(0x8123, b"skip"),  # 10: skip silently
        Param(0xC124, b"report me"),  # 11: skip and report
        Param(ParamType.FORWARD_TSN_SUPPORTED, b""),
    ]
    b.receive(from_peer(b, _init(params), tag=0), 0.0)
    (ack,) = all_chunks(b.packets_to_send())
    assert isinstance(ack, InitAckChunk)
    reported = [p.value for p in ack.params if p.type == ParamType.UNRECOGNIZED]
    assert reported == [encode_params([Param(0xC124, b"report me")])]
    assert ack.param(ParamType.STATE_COOKIE) is not None


@pytest.mark.parametrize(("ptype", "reported"), [(0x0123, False), (0x4123, True)])
def test_init_unknown_parameter_stops_processing(ptype: int, reported: bool) -> None:
    # Parameters after a "stop" parameter are not processed: here the peer's FORWARD-TSN
    # support is lost, but the INIT is still answered and the association comes up.
    a = Association(True, rng=random.Random(1))
    b = Association(False, rng=random.Random(2))
    a.connect(0.0)
    (init_pkt,) = a.packets_to_send()
    init = chunks_of(init_pkt)[0]
    assert isinstance(init, InitChunk)
    init.params = [Param(ptype, b"zz"), *init.params]
    b.receive(from_peer(b, init.encode(), tag=0), 0.0)
    (ack_pkt,) = b.packets_to_send()
    (ack,) = chunks_of(ack_pkt)
    assert [p.type for p in ack.params if p.type == ParamType.UNRECOGNIZED] == (
        [ParamType.UNRECOGNIZED] if reported else []
    )
    a.receive(ack_pkt, 0.0)
    b.receive(a.packets_to_send()[0], 0.0)
    a.receive(b.packets_to_send()[0], 0.0)
    assert a.state is b.state is AssociationState.ESTABLISHED
    assert b._peer_flags == 0  # nothing after the stop parameter was read


def test_init_ack_unknown_parameters_reported_after_cookie_echo() -> None:
    a = Association(True, rng=random.Random(1))
    b = Association(False, rng=random.Random(2))
    a.connect(0.0)
    b.receive(a.packets_to_send()[0], 0.0)
    (ack,) = chunks_of(b.packets_to_send()[0])
    ack.params = [*ack.params, Param(0x4200, b"abc"), Param(0x8201, b"quiet")]
    a.receive(from_peer(a, ack.encode()), 0.0)
    echo_pkt = a.packets_to_send()[0]
    echo, error = chunks_of(echo_pkt)
    assert isinstance(echo, CookieEchoChunk)
    assert error == ErrorChunk(
        [Param(CauseCode.UNRECOGNIZED_PARAMS, encode_params([Param(0x4200, b"abc")]))]
    )
    # A retransmitted COOKIE ECHO (T1) carries no ERROR again.
    t1 = a.next_timeout()
    assert t1 is not None
    a.timeout(t1)
    assert all_chunks(a.packets_to_send()) == [echo]
    b.receive(echo_pkt, t1)
    assert b.state is AssociationState.ESTABLISHED
    a.receive(b.packets_to_send()[0], t1)
    assert a.state is AssociationState.ESTABLISHED


# --- 5.2.4: duplicate and stale COOKIE ECHO, implied COOKIE ACK ---------------------------------


def _half_open() -> tuple[Association, Association, bytes]:
    """A established by B's COOKIE ECHO, B still COOKIE-ECHOED (A's COOKIE ACK was lost)."""
    a = Association(True, rng=random.Random(5))
    b = Association(False, rng=random.Random(6))
    b.connect(0.0)
    a.receive(b.packets_to_send()[0], 0.0)  # INIT
    b.receive(a.packets_to_send()[0], 0.0)  # INIT ACK
    echo = b.packets_to_send()[0]
    a.receive(echo, 0.0)
    assert a.state is AssociationState.ESTABLISHED
    assert b.state is AssociationState.COOKIE_ECHOED
    a.packets_to_send()  # the COOKIE ACK, lost
    return a, b, echo


def test_stale_duplicate_cookie_echo_of_live_association_is_acked() -> None:
    a, b, echo = _half_open()
    # B's T1 backoff can take the cookie past its lifetime: still the same association.
    a.receive(echo, a.cookie_lifetime + 30.0)
    out = all_chunks(a.packets_to_send())
    assert CookieAckChunk() in out and not any(isinstance(c, ErrorChunk) for c in out)
    b.receive(from_peer(b, CookieAckChunk().encode()), a.cookie_lifetime + 30.0)
    assert b.state is AssociationState.ESTABLISHED
    assert a.events() == [Connected()] and b.events() == [Connected()]


def test_stale_cookie_for_a_new_association_still_gets_an_error() -> None:
    a = Association(True, rng=random.Random(5))
    b = Association(False, rng=random.Random(6))
    b.connect(0.0)
    a.receive(b.packets_to_send()[0], 0.0)
    b.receive(a.packets_to_send()[0], 0.0)
    echo = b.packets_to_send()[0]
    # The same endpoint after it lost that association (same key, CLOSED): a stale cookie
    # would create a new one, so it is refused with a Stale Cookie error.
    fresh = Association(True, rng=random.Random(5))
    assert fresh._secret == a._secret
    fresh.receive(echo, a.cookie_lifetime + 5.0)
    (err,) = all_chunks(fresh.packets_to_send())
    assert isinstance(err, ErrorChunk) and err.causes[0].type == CauseCode.STALE_COOKIE
    assert fresh.state is AssociationState.CLOSED


def test_heartbeat_in_cookie_echoed_is_an_implied_cookie_ack() -> None:
    a, b, _ = _half_open()
    a.timeout(a.next_timeout() or 0.0)  # heartbeat timer
    hb = a.packets_to_send()
    assert any(isinstance(c, HeartbeatChunk) for c in all_chunks(hb))
    b.receive(hb[0], 31.0)
    assert b.state is AssociationState.ESTABLISHED
    assert b.events() == [Connected()]
    assert any(isinstance(c, HeartbeatAckChunk) for c in all_chunks(b.packets_to_send()))


def test_data_in_cookie_echoed_is_delivered() -> None:
    a, b, _ = _half_open()
    a.send(0, 51, b"early")
    b.receive(a.packets_to_send()[0], 0.1)
    assert b.state is AssociationState.ESTABLISHED
    assert b.events() == [Connected(), DataReceived(0, 51, b"early")]


def test_packet_with_wrong_tag_implies_nothing() -> None:
    a, b, _ = _half_open()
    a.send(0, 51, b"x")
    pkt = bytearray(a.packets_to_send()[0])
    pkt[4:8] = (b.local_tag ^ 1).to_bytes(4, "big")
    b.receive(finish_packet(bytes(pkt[:8]), bytes(pkt[12:])), 0.1)
    assert b.state is AssociationState.COOKIE_ECHOED


# --- simultaneous open over lossy links ----------------------------------------------------------


@pytest.mark.parametrize("seed", [44, 129, *range(12)])
@pytest.mark.parametrize(
    "cfg",
    [
        LinkConfig(loss=0.3, reorder=0.3, duplicate=0.2, jitter=0.5),
        LinkConfig(loss=0.1, duplicate=0.5, reorder=0.5, jitter=2.0),
    ],
    ids=["loss30", "dup50-jitter2s"],
)
def test_simultaneous_open_through_lossy_link(seed: int, cfg: LinkConfig) -> None:
    link = LinkConfig(**{**cfg.__dict__, "seed": seed})
    p = Pair(link, seed=seed)
    assert p.connect(both=True, max_time=200)
    assert p.a.peer_tag == p.b.local_tag and p.b.peer_tag == p.a.local_tag
    assert [sum(isinstance(e, Connected) for e in evs) for evs in p.ev] == [1, 1]
    p.a.send(0, 51, b"x")
    p.b.send(1, 51, b"y")
    assert p.run(lambda: p.received(0) and p.received(1), max_time=200)
    assert p.received(0) == [DataReceived(1, 51, b"y")]
    assert p.received(1) == [DataReceived(0, 51, b"x")]


# --- 5.2.6: Cookie Preservative --------------------------------------------------------------


def test_stale_cookie_retry_asks_for_a_cookie_preservative() -> None:
    a = Association(True, rng=random.Random(1))
    b = Association(False, rng=random.Random(2), cookie_lifetime=10.0)
    a.connect(0.0)
    b.receive(a.packets_to_send()[0], 0.0)
    a.receive(b.packets_to_send()[0], 0.0)
    echo = a.packets_to_send()[0]
    # The COOKIE ECHO spends 12 s on the way (past B's 10 s lifetime): Stale Cookie error.
    b.receive(echo, 12.0)
    (err_pkt,) = b.packets_to_send()
    (err,) = chunks_of(err_pkt)
    assert isinstance(err, ErrorChunk) and err.causes[0].type == CauseCode.STALE_COOKIE
    a.receive(err_pkt, 12.5)  # measured: 12.5 s since the COOKIE ECHO left
    assert a.state is AssociationState.COOKIE_WAIT
    (init,) = chunks_of(a.packets_to_send()[0])
    assert isinstance(init, InitChunk)
    assert init.param(ParamType.COOKIE_PRESERVATIVE) == (13500).to_bytes(4, "big")
    # B grants at most its own lifetime again: 10 s more, so a 12 s trip now fits.
    b.receive(from_peer(b, init.encode(), tag=0), 13.0)
    a.receive(b.packets_to_send()[0], 13.0)
    echo2 = a.packets_to_send()[0]
    b.receive(echo2, 25.0)
    assert b.state is AssociationState.ESTABLISHED
    a.receive(b.packets_to_send()[0], 25.0)
    assert a.state is AssociationState.ESTABLISHED
    assert a.events() == [Connected()] and b.events() == [Connected()]


@pytest.mark.parametrize(
    ("extra_ms", "delay", "accepted"), [(0, 11.0, False), (2000, 11.0, True), (2000, 12.5, False)]
)
def test_cookie_preservative_extends_the_lifetime(
    extra_ms: int, delay: float, accepted: bool
) -> None:
    b = Association(False, rng=random.Random(2), cookie_lifetime=10.0)
    params = [Param(ParamType.FORWARD_TSN_SUPPORTED, b"")]
    if extra_ms:
        params.append(Param(ParamType.COOKIE_PRESERVATIVE, extra_ms.to_bytes(4, "big")))
    b.receive(from_peer(b, _init(params), tag=0), 0.0)
    (ack,) = chunks_of(b.packets_to_send()[0])
    cookie = ack.param(ParamType.STATE_COOKIE)
    assert cookie is not None
    b.receive(from_peer(b, CookieEchoChunk(cookie).encode(), tag=ack.initiate_tag), delay)
    assert (b.state is AssociationState.ESTABLISHED) is accepted


# --- receive fast path: a packet holding exactly one DATA chunk ----------------------------------


def test_single_data_chunk_fast_path_edges() -> None:
    p = established()
    b = p.b
    tsn = b._cum_in + 1
    # Unpadded last chunk (5 bytes of user data, length 21, no padding): accepted.
    raw = DataChunk(tsn & 0xFFFFFFFF, 0, 0, 51, b"five!").encode()
    b.receive(from_peer(b, raw[:21]), p.clock.now)
    # Padded, plus trailing bytes that are not a chunk: the whole packet is dropped.
    raw2 = DataChunk((tsn + 1) & 0xFFFFFFFF, 0, 1, 51, b"six").encode()
    b.receive(from_peer(b, raw2 + b"\x00\x00"), p.clock.now)
    # A DATA chunk without user data: a protocol violation, ignored.
    empty = DataChunk((tsn + 1) & 0xFFFFFFFF, 0, 1, 51, b"").encode()
    b.receive(from_peer(b, empty), p.clock.now)
    # A DATA chunk with a wrong tag: dropped before anything.
    b.receive(from_peer(b, raw2, tag=b.local_tag ^ 0xFF), p.clock.now)
    assert [e for e in b.events() if isinstance(e, DataReceived)] == [DataReceived(0, 51, b"five!")]
    b.receive(from_peer(b, raw2), p.clock.now)
    assert b.events() == [DataReceived(0, 51, b"six")]
    assert b.state is AssociationState.ESTABLISHED


def test_loss_counters() -> None:
    p = established()
    a = p.a
    assert a.fast_retransmits == a.t3_expirations == 0
    for i in range(6):
        a.send(0, 53, bytes([i]) * 1000)
    pkts = a.packets_to_send()
    assert len(pkts) >= 4
    # The first packet is lost; the rest arrive and their SACKs report the hole.
    for pkt in pkts[1:]:
        p.b.receive(pkt, p.clock.now)
        for sack in p.b.packets_to_send():
            a.receive(sack, p.clock.now)
    lost = [c for c in chunks_of(pkts[0]) if isinstance(c, DataChunk)]
    assert a.fast_retransmits == len(lost) and a.t3_expirations == 0
    a.packets_to_send()  # the fast retransmission, lost as well
    t3 = a._t3_at
    assert t3 is not None
    a.timeout(t3)
    assert a.t3_expirations == 1


_KNOWN = {5, 6, 7, 8, 9, 11, 12, 0x8008, 0xC000}


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 0xFFFF).filter(lambda t: t not in _KNOWN), st.binary(max_size=24)),
        max_size=8,
    )
)
def test_init_with_random_parameters_is_answered_with_the_right_reports(
    params: list[tuple[int, bytes]],
) -> None:
    b = Association(False, rng=random.Random(3))
    b.receive(from_peer(b, _init([Param(t, v) for t, v in params]), tag=0), 0.0)
    (ack,) = all_chunks(b.packets_to_send())
    assert isinstance(ack, InitAckChunk) and ack.param(ParamType.STATE_COOKIE)
    expected = []
    size = 0
    for t, v in params:
        if t & 0x4000 and size + 4 + len(v) <= 512:
            expected.append(encode_params([Param(t, v)]))
            size += (4 + len(v) + 3) & ~3
        if not t & 0x8000:
            break
    assert [p.value for p in ack.params if p.type == ParamType.UNRECOGNIZED] == expected
