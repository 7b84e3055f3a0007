"""Bad network input never raises out of the agent (random and mutated datagrams)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.ice.agent import IceAgent
from rtcpeer.ice.gather import host_candidate
from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, new_transaction_id

LOCAL = ("10.0.0.1", 1000)
REMOTE = ("10.0.0.2", 2000)


def _agent(controlling: bool) -> IceAgent:
    agent = IceAgent(controlling, ufrag="abcd", pwd="p" * 22, rng=random.Random(1))
    agent.add_local_candidate(host_candidate(*LOCAL, 65535), LOCAL)
    agent.set_remote_credentials("wxyz", "q" * 22)
    agent.add_remote_candidate(host_candidate(*REMOTE, 65535))
    return agent


def _valid_request() -> bytes:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST, new_transaction_id())
    msg.add(Attr.USERNAME, "abcd:wxyz")
    msg.add(Attr.PRIORITY, 12345)
    msg.add(Attr.ICE_CONTROLLING, 99)
    msg.add(Attr.USE_CANDIDATE, True)
    return msg.encode(integrity_key=b"p" * 22, fingerprint=True)


VALID = _valid_request()


def _no_spin(agent: IceAgent, now: float) -> None:
    """After timeout(now) the next deadline is in the future: a shell timer never spins."""
    t = agent.next_timeout()
    assert t is None or t > now


@given(st.binary(max_size=200), st.booleans())
def test_random_bytes(data: bytes, controlling: bool) -> None:
    agent = _agent(controlling)
    agent.receive(data, LOCAL, REMOTE, 1.0)
    agent.receive(b"\x00\x01" + data, LOCAL, REMOTE, 1.0)
    agent.timeout(1.1)
    _no_spin(agent, 1.1)
    agent.datagrams_to_send()
    agent.events()


@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8),
    st.booleans(),
)
def test_mutated_valid_request(flips: list[tuple[int, int]], controlling: bool) -> None:
    agent = _agent(controlling)
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    agent.receive(bytes(data), LOCAL, REMOTE, 1.0)
    agent.timeout(1.1)
    _no_spin(agent, 1.1)
    for out, key, addr in agent.datagrams_to_send():
        assert key == LOCAL and addr == REMOTE and out


@given(st.binary(min_size=0, max_size=40))
def test_truncated_valid_request(tail: bytes) -> None:
    agent = _agent(False)
    for cut in range(0, len(VALID), 7):
        agent.receive(VALID[:cut] + tail, LOCAL, REMOTE, 1.0)
    agent.timeout(2.0)
