"""The sans-I/O ICE agent over a simulated network with a fake clock."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from icenet import Endpoint, IceNet, completed, connected, exchange

from netsim import LinkConfig
from rtcpeer.ice.agent import (
    IceAgent,
    IceState,
    LocalCandidateLearned,
    RemoteCandidateLearned,
    RoleChanged,
    SelectedPairChanged,
)
from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, new_transaction_id, parse

A_ADDR = ("10.0.0.1", 1000)
B_ADDR = ("10.0.0.2", 2000)


def make_pair(
    *,
    a_controlling: bool = True,
    b_controlling: bool = False,
    seed: int = 1,
    a_kwargs: dict[str, object] | None = None,
    b_kwargs: dict[str, object] | None = None,
    a_addrs: list[tuple[str, int]] | None = None,
    b_addrs: list[tuple[str, int]] | None = None,
) -> tuple[Endpoint, Endpoint]:
    a = Endpoint(
        IceAgent(a_controlling, rng=random.Random(seed), **(a_kwargs or {})),  # type: ignore[arg-type]
        a_addrs or [A_ADDR],
    )
    b = Endpoint(
        IceAgent(b_controlling, rng=random.Random(seed + 100), **(b_kwargs or {})),  # type: ignore[arg-type]
        b_addrs or [B_ADDR],
    )
    a.add_own_candidates()
    b.add_own_candidates()
    return a, b


def test_connect_no_loss() -> None:
    a, b = make_pair()
    exchange(a, b)
    net = IceNet(a, b)
    start = net.clock.now
    assert net.run(lambda: completed(a, b), max_time=5.0)
    # Connected after one round trip (10 ms each way), completed after the nomination
    # check one Ta later.
    assert round(a.state_times[IceState.CONNECTED] - start, 6) == 0.02
    assert round(b.state_times[IceState.CONNECTED] - start, 6) == 0.02
    assert round(a.state_times[IceState.COMPLETED] - start, 6) == 0.07
    assert a.states == [IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED]
    assert b.states[0] is IceState.CHECKING and b.states[-1] is IceState.COMPLETED
    sa, sb = a.agent.selected_pair, b.agent.selected_pair
    assert sa is not None and sb is not None
    assert (sa.local_key, sa.remote_addr) == (A_ADDR, B_ADDR)
    assert (sb.local_key, sb.remote_addr) == (B_ADDR, A_ADDR)
    assert sa.nominated and sb.nominated
    # Data both ways on the selected pair.
    assert a.agent.send(b"\x17hello")
    assert b.agent.send(b"\x17world")
    net.advance(0.1)
    assert b.received == [b"\x17hello"]
    assert a.received == [b"\x17world"]


def test_connect_with_20_percent_loss() -> None:
    for seed in range(1, 6):
        a, b = make_pair(seed=seed)
        exchange(a, b)
        net = IceNet(a, b, LinkConfig(loss=0.2, delay=0.02, jitter=0.0, seed=seed))
        assert net.run(lambda a=a, b=b: completed(a, b), max_time=20.0), seed
        assert a.agent.selected_pair is not None
        assert a.agent.selected_pair.remote_addr == B_ADDR


def test_best_pair_is_selected_among_several() -> None:
    a_addrs = [("10.0.0.1", 1000), ("10.1.0.1", 1001)]
    b_addrs = [("10.0.0.2", 2000), ("10.1.0.2", 2001)]
    a, b = make_pair(a_addrs=a_addrs, b_addrs=b_addrs)
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=10.0)
    sa = a.agent.selected_pair
    assert sa is not None
    # The highest local preference on both sides: the first address of each.
    assert (sa.local_key, sa.remote_addr) == (a_addrs[0], b_addrs[0])
    assert b.agent.selected_pair is not None
    assert b.agent.selected_pair.remote_addr == a_addrs[0]


def test_role_conflict_both_controlling() -> None:
    for a_tb, b_tb in ((5, 9), (9, 5)):
        a, b = make_pair(
            a_controlling=True,
            b_controlling=True,
            a_kwargs={"tie_breaker": a_tb},
            b_kwargs={"tie_breaker": b_tb},
        )
        exchange(a, b)
        net = IceNet(a, b)
        assert net.run(lambda a=a, b=b: completed(a, b), max_time=10.0)
        winner, loser = (a, b) if a_tb > b_tb else (b, a)
        assert winner.agent.controlling and not loser.agent.controlling
        assert [e for e in loser.events if isinstance(e, RoleChanged)] == [RoleChanged(False)]
        assert not [e for e in winner.events if isinstance(e, RoleChanged)]


def test_role_conflict_both_controlled() -> None:
    a, b = make_pair(
        a_controlling=False,
        b_controlling=False,
        a_kwargs={"tie_breaker": 7},
        b_kwargs={"tie_breaker": 3},
    )
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=10.0)
    # The larger tie-breaker becomes controlling (RFC 8445 section 7.3.1.1).
    assert a.agent.controlling and not b.agent.controlling


def test_remote_candidate_arrives_late() -> None:
    a, b = make_pair()
    # Credentials known both ways, but no candidates yet: nothing can happen.
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    b.agent.set_remote_credentials(a.agent.local_ufrag, a.agent.local_pwd)
    net = IceNet(a, b)
    net.advance(2.0)
    assert a.agent.state is IceState.NEW and b.agent.state is IceState.NEW
    # A learns B's candidate late (trickled); A's checks reach B, which learns A as prflx.
    for cand in b.host_candidates():
        a.agent.add_remote_candidate(cand)
    assert net.run(lambda: connected(a, b), max_time=5.0)
    learned = [e for e in b.events if isinstance(e, RemoteCandidateLearned)]
    assert [(e.candidate.type, e.candidate.host, e.candidate.port) for e in learned] == [
        ("prflx", "10.0.0.1", 1000)
    ]
    # Then A's real candidate trickles in to B: it replaces the prflx one, no new pair.
    for cand in a.host_candidates():
        b.agent.add_remote_candidate(cand)
    assert [c.type for c in b.agent.remote_candidates] == ["host"]
    assert len(b.agent.checklist) == 1
    a.agent.add_remote_candidate(None)
    b.agent.add_remote_candidate(None)
    assert net.run(lambda: completed(a, b), max_time=5.0)


def test_candidate_of_another_generation_ignored() -> None:
    a, _ = make_pair()
    a.agent.set_remote_credentials("new1", "p" * 22)
    cand = Endpoint(a.agent, [B_ADDR]).host_candidates()[0]
    cand.ufrag = "old1"
    a.agent.add_remote_candidate(cand)
    assert a.agent.remote_candidates == []
    cand.ufrag = "new1"
    a.agent.add_remote_candidate(cand)
    assert a.agent.remote_candidates == [cand]


def test_checks_start_when_a_candidate_is_added_after_checks_started() -> None:
    # B has two addresses; A first only knows the unreachable one, then the good one.
    a, b = make_pair(b_addrs=[("10.0.0.2", 2000)])
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    b.agent.set_remote_credentials(a.agent.local_ufrag, a.agent.local_pwd)
    dead = b.host_candidates()[0]
    dead.host, dead.port = "10.9.9.9", 9
    a.agent.add_remote_candidate(dead)
    net = IceNet(a, b)
    net.advance(1.0)
    assert a.agent.state is IceState.CHECKING
    a.agent.add_remote_candidate(b.host_candidates()[0])
    assert net.run(lambda: connected(a, b), max_time=5.0)
    assert a.agent.selected_pair is not None
    assert a.agent.selected_pair.remote_addr == ("10.0.0.2", 2000)


def test_peer_reflexive_through_nat() -> None:
    a, b = make_pair()
    a.public = ("203.0.113.7", 40000)  # A is behind a NAT; its host address is unreachable
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=15.0)
    learned_remote = [e.candidate for e in b.events if isinstance(e, RemoteCandidateLearned)]
    assert [(c.type, c.host, c.port) for c in learned_remote] == [("prflx", "203.0.113.7", 40000)]
    learned_local = [e for e in a.events if isinstance(e, LocalCandidateLearned)]
    assert [
        (e.candidate.type, e.candidate.host, e.candidate.port, e.local_key) for e in learned_local
    ] == [("prflx", "203.0.113.7", 40000, A_ADDR)]
    sb = b.agent.selected_pair
    assert sb is not None and sb.remote_addr == ("203.0.113.7", 40000) and sb.remote.type == "prflx"
    assert a.agent.send(b"\x80rtp")
    net.advance(0.1)
    assert b.received == [b"\x80rtp"]


def test_aggressive_nomination_accepted() -> None:
    a, b = make_pair(a_kwargs={"aggressive_nomination": True})
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    sb = b.agent.selected_pair
    assert sb is not None and sb.nominated and sb.remote_addr == A_ADDR


def test_no_data_before_a_valid_pair_and_unknown_source_dropped() -> None:
    a, b = make_pair()
    assert not a.agent.send(b"\x17x")
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    # Application data from an address that took no part in ICE is not delivered.
    assert a.agent.receive(b"\x17evil", A_ADDR, ("10.6.6.6", 666), net.clock.now) is None
    assert a.agent.receive(b"\x17good", A_ADDR, B_ADDR, net.clock.now) == b"\x17good"


def test_restart_keeps_data_flowing() -> None:
    a, b = make_pair()
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    old_ufrag = a.agent.local_ufrag
    a.agent.restart()
    b.agent.restart()
    assert a.agent.local_ufrag != old_ufrag and a.agent.generation == 1
    assert a.agent.selected_pair is not None and a.agent.state is IceState.CONNECTED
    sent = 0
    # Data keeps flowing on the old pair while signalling of the new generation is pending.
    for _ in range(10):
        assert a.agent.send(b"\x17%d" % sent)
        sent += 1
        net.advance(0.05)
    a.events.clear()
    exchange(a, b)
    for _ in range(20):
        assert a.agent.send(b"\x17%d" % sent)
        sent += 1
        net.advance(0.05)
    assert completed(a, b)
    assert b.received == [b"\x17%d" % i for i in range(sent)]
    sel = a.agent.selected_pair
    assert sel is not None and sel.generation == 1 and sel.nominated
    assert any(isinstance(e, SelectedPairChanged) for e in a.events)


def _advance_to(net: IceNet, t: float) -> None:
    net.advance(t - net.clock.now)


def test_consent_loss_disconnected_then_failed() -> None:
    a, b = make_pair()
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    # Consent keeps the pair alive for a long quiet period.
    net.advance(60.0)
    assert a.agent.state is IceState.COMPLETED and b.agent.state is IceState.COMPLETED
    assert net.clock.now - a.agent.last_consent <= 6.0
    b.blocked = True
    net.advance(0.05)  # let what B already sent arrive
    last_rx = a.agent.last_received
    _advance_to(net, last_rx + 5.99)
    assert a.agent.state is IceState.COMPLETED
    _advance_to(net, last_rx + 6.0)
    assert a.agent.state is IceState.DISCONNECTED
    # Back as soon as a consent response gets through (early retries every ~1 s).
    b.blocked = False
    net.advance(1.3)
    assert a.agent.state is IceState.COMPLETED
    b.blocked = True
    net.advance(0.05)
    last_consent = a.agent.last_consent
    _advance_to(net, last_consent + 29.99)
    assert a.agent.state is IceState.DISCONNECTED
    _advance_to(net, last_consent + 30.0)
    assert a.agent.state is IceState.FAILED
    assert not a.agent.send(b"\x17late")
    assert a.states[-3:] == [IceState.COMPLETED, IceState.DISCONNECTED, IceState.FAILED]


def test_restart_after_failure_reconnects() -> None:
    a, b = make_pair()
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    b.blocked = True
    net.advance(40.0)
    assert a.agent.state is IceState.FAILED
    b.blocked = False
    a.agent.restart()
    b.agent.restart()
    assert a.agent.state is IceState.CHECKING and a.agent.selected_pair is None
    exchange(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    sel = a.agent.selected_pair
    assert sel is not None and sel.generation == 1 and sel.remote_addr == B_ADDR


def test_application_data_keeps_connected_state() -> None:
    a, b = make_pair()
    exchange(a, b)
    net = IceNet(a, b)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    net.advance(1.0)
    # B's STUN is lost (so A's consent requests go unanswered) but B sends media.
    original = b.agent.datagrams_to_send

    def no_stun() -> list[tuple[bytes, object, tuple[str, int]]]:
        return [d for d in original() if d[0][0] > 3]

    b.agent.datagrams_to_send = no_stun  # type: ignore[method-assign,assignment]
    last_consent = a.agent.last_consent
    sent = 0
    while net.clock.now + 0.1 < last_consent + 30.0:
        assert b.agent.send(b"\x80media")
        sent += 1
        net.advance(0.1)
        assert a.agent.state is IceState.COMPLETED
    # ... but media never refreshes consent (RFC 7675): 30 s after the last response, failed.
    _advance_to(net, last_consent + 30.0)
    assert a.agent.state is IceState.FAILED
    assert b.received == [] and a.received == [b"\x80media"] * sent


def test_all_pairs_failed_after_end_of_candidates() -> None:
    a, b = make_pair()
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    dead = b.host_candidates()[0]
    dead.host = "10.9.9.9"
    a.agent.add_remote_candidate(dead)
    net = IceNet(a, b)
    net.advance(5.0)
    assert a.agent.state is IceState.CHECKING  # no end-of-candidates yet: keep waiting
    a.agent.add_remote_candidate(None)
    net.advance(6.0)
    assert a.agent.state is IceState.FAILED
    assert a.states == [IceState.CHECKING, IceState.FAILED]


def _binding_request(
    agent: IceAgent,
    *,
    username: str | None,
    key: bytes | None,
    priority: int | None = 1234,
    controlling: int | None = 1,
) -> tuple[StunMessage, bytes]:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST, new_transaction_id())
    if username is not None:
        msg.add(Attr.USERNAME, username)
    if priority is not None:
        msg.add(Attr.PRIORITY, priority)
    if controlling is not None:
        msg.add(Attr.ICE_CONTROLLING, controlling)
    return msg, msg.encode(integrity_key=key, fingerprint=True)


def _controlled_agent() -> IceAgent:
    agent = IceAgent(False, ufrag="abcd", pwd="p" * 22, tie_breaker=10, rng=random.Random(5))
    agent.add_local_candidate(Endpoint(agent, [A_ADDR]).host_candidates()[0], A_ADDR)
    agent.set_remote_credentials("wxyz", "q" * 22)
    return agent


def test_bad_integrity_and_unknown_user_are_ignored() -> None:
    agent = _controlled_agent()
    src = ("10.0.0.9", 9999)
    for username, key in (
        ("abcd:wxyz", b"wrong-password-123456"),
        ("zzzz:wxyz", b"p" * 22),
    ):
        _, data = _binding_request(agent, username=username, key=key)
        assert agent.receive(data, A_ADDR, src, 1.0) is None
        assert agent.datagrams_to_send() == []
        assert agent.events() == []
        assert agent.remote_candidates == [] and len(agent.checklist) == 0
        assert agent.state is IceState.NEW


def test_missing_attributes_get_400() -> None:
    agent = _controlled_agent()
    src = ("10.0.0.9", 9999)
    # No MESSAGE-INTEGRITY at all: 400 without integrity, no state change.
    req, data = _binding_request(agent, username="abcd:wxyz", key=None)
    agent.receive(data, A_ADDR, src, 1.0)
    (out,) = agent.datagrams_to_send()
    resp = parse(out[0])
    assert (resp.message_class, resp.transaction_id, resp.get(Attr.ERROR_CODE)[0]) == (
        MessageClass.ERROR,
        req.transaction_id,
        400,
    )
    assert out[1:] == (A_ADDR, src)
    # Authenticated but no PRIORITY: 400 with integrity.
    req, data = _binding_request(agent, username="abcd:wxyz", key=b"p" * 22, priority=None)
    agent.receive(data, A_ADDR, src, 1.0)
    (out,) = agent.datagrams_to_send()
    resp = parse(out[0])
    assert resp.get(Attr.ERROR_CODE)[0] == 400 and resp.check_integrity(b"p" * 22)
    assert agent.remote_candidates == [] and agent.events() == []


def test_valid_request_answered_and_triggers_check() -> None:
    agent = _controlled_agent()
    src = ("10.0.0.9", 9999)
    req, data = _binding_request(agent, username="abcd:wxyz", key=b"p" * 22)
    agent.receive(data, A_ADDR, src, 1.0)
    (out,) = agent.datagrams_to_send()
    resp = parse(out[0])
    assert resp.message_class is MessageClass.SUCCESS and resp.transaction_id == req.transaction_id
    assert resp.get(Attr.XOR_MAPPED_ADDRESS) == src and resp.check_integrity(b"p" * 22)
    assert [e.candidate.host for e in agent.events() if isinstance(e, RemoteCandidateLearned)] == [
        "10.0.0.9"
    ]
    # The triggered check goes out on the next Ta tick with USERNAME remote:local.
    agent.timeout(1.0)
    (check,) = agent.datagrams_to_send()
    msg = parse(check[0])
    assert msg.message_class is MessageClass.REQUEST and check[1:] == (A_ADDR, src)
    assert msg.get(Attr.USERNAME) == "wxyz:abcd"
    assert msg.get(Attr.ICE_CONTROLLED) == 10 and msg.check_integrity(b"q" * 22)


def test_487_when_we_win_the_conflict() -> None:
    agent = IceAgent(True, ufrag="abcd", pwd="p" * 22, tie_breaker=100, rng=random.Random(1))
    agent.add_local_candidate(Endpoint(agent, [A_ADDR]).host_candidates()[0], A_ADDR)
    _, data = _binding_request(agent, username="abcd:wxyz", key=b"p" * 22, controlling=50)
    agent.receive(data, A_ADDR, B_ADDR, 1.0)
    (out,) = agent.datagrams_to_send()
    resp = parse(out[0])
    assert resp.get(Attr.ERROR_CODE)[0] == 487 and agent.controlling
    assert agent.remote_candidates == []


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    loss=st.sampled_from([0.0, 0.1, 0.3]),
    duplicate=st.sampled_from([0.0, 0.2]),
    reorder=st.sampled_from([0.0, 0.3]),
    both_controlling=st.booleans(),
    trickle_delay=st.sampled_from([0.0, 0.3, 2.0]),
)
def test_random_networks_agree_on_one_pair(
    seed: int,
    loss: float,
    duplicate: float,
    reorder: float,
    both_controlling: bool,
    trickle_delay: float,
) -> None:
    a_addrs = [("10.0.0.1", 1000), ("10.1.0.1", 1001)]
    b_addrs = [("10.0.0.2", 2000), ("10.1.0.2", 2001)]
    a, b = make_pair(seed=seed, b_controlling=both_controlling, a_addrs=a_addrs, b_addrs=b_addrs)
    cfg = LinkConfig(
        loss=loss, duplicate=duplicate, reorder=reorder, delay=0.02, jitter=0.05, seed=seed
    )
    net = IceNet(a, b, cfg)
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    b.agent.set_remote_credentials(a.agent.local_ufrag, a.agent.local_pwd)
    for cand in a.host_candidates():
        b.agent.add_remote_candidate(cand)
    b.agent.add_remote_candidate(None)
    net.advance(trickle_delay)
    for cand in b.host_candidates():
        a.agent.add_remote_candidate(cand)
    a.agent.add_remote_candidate(None)
    assert net.run(lambda: completed(a, b), max_time=60.0)
    assert a.agent.controlling != b.agent.controlling
    sa, sb = a.agent.selected_pair, b.agent.selected_pair
    assert sa is not None and sb is not None
    # Both ends use the same pair, seen from either side.
    assert (sa.local_key, sa.remote_addr) == (sb.remote_addr, sb.local_key)


def test_candidates_and_checks_before_remote_credentials() -> None:
    # Trickle (RFC 8838 section 11): B learns A's candidate and even gets A's checks before
    # it knows A's credentials (the answer is still on its way). B answers the checks (they
    # only need B's own password) but cannot check back until the credentials arrive.
    a, b = make_pair()
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    for cand in b.host_candidates():
        a.agent.add_remote_candidate(cand)
    for cand in a.host_candidates():
        b.agent.add_remote_candidate(cand)
    net = IceNet(a, b)
    net.advance(0.5)
    assert a.agent.state is IceState.COMPLETED  # A's checks (and nomination) were answered
    assert b.agent.state is IceState.NEW and b.agent.selected_pair is None
    b.agent.set_remote_credentials(a.agent.local_ufrag, a.agent.local_pwd)
    assert net.run(lambda: completed(a, b), max_time=5.0)
    sb = b.agent.selected_pair
    assert sb is not None and sb.nominated and (sb.local_key, sb.remote_addr) == (B_ADDR, A_ADDR)


def test_no_answer_on_a_socket_without_candidate() -> None:
    # Under iceTransportPolicy "relay" the host socket exists but its candidate is withheld:
    # a check that reaches it anyway must not be answered (that would reveal the address).
    agent = _controlled_agent()
    hidden = ("10.0.0.9", 999)
    _, valid = _binding_request(agent, username="abcd:wxyz", key=b"p" * 22)
    _, bare = _binding_request(agent, username=None, key=None)
    agent.receive(valid, hidden, B_ADDR, 1.0)
    agent.receive(bare, hidden, B_ADDR, 1.0)
    assert agent.datagrams_to_send() == []
    # The same check on the socket that has a candidate is answered.
    agent.receive(valid, A_ADDR, B_ADDR, 1.0)
    assert [(key, dst) for _, key, dst in agent.datagrams_to_send()] == [(A_ADDR, B_ADDR)]
