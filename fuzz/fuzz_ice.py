"""Fuzz target: the sans-I/O ICE agent and the ICE package's own parsers.

The first input byte picks the victim (the rest is the input):

- 0: a connected, controlled ``IceAgent`` receives the bytes from its selected remote address
  (application data, STUN, garbage): it must never raise, and non-STUN data from the selected
  pair must come back unchanged;
- 1: a valid, integrity-protected Binding request with the input XORed over it (mutations of
  real checks: lengths, attribute types, the tie-breaker, USE-CANDIDATE) goes to the agent;
  it must not raise and must stay connected/completed (forgeries fail the integrity check);
- 2: ``rtcpeer.ice.mdns.parse_answers``: only ``MdnsParseError`` may escape;
- 3: the RFC 4571 ``Deframer`` fed in two chunks: the frames it returns re-frame to a
  prefix of the input.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.ice"):
    from rtcpeer.ice.agent import IceAgent, IceState
    from rtcpeer.ice.gather import host_candidate
    from rtcpeer.ice.mdns import MdnsParseError, encode_response, parse_answers
    from rtcpeer.ice.tcpframing import Deframer, frame
    from rtcpeer.stun import Attr, MessageClass, Method, StunMessage

LOCAL = ("10.0.0.1", 1000)
REMOTE = ("10.0.0.2", 2000)
TID = bytes(range(12))


def _connected() -> IceAgent:
    """A controlled agent whose pair was checked and nominated by a scripted peer."""
    agent = IceAgent(False, ufrag="loc1", pwd="l" * 22, rng=random.Random(1))
    agent.add_local_candidate(host_candidate(*LOCAL, 65535), LOCAL)
    agent.local_candidates_complete()
    agent.set_remote_credentials("rem1", "r" * 22)
    agent.add_remote_candidate(host_candidate(*REMOTE, 65535))
    agent.add_remote_candidate(None)
    agent.receive(_request(use_candidate=True), LOCAL, REMOTE, 0.0)
    agent.timeout(0.1)  # sends the triggered check
    for data, _, _ in agent.datagrams_to_send():
        if data[1] == 0x01:  # the agent's own Binding request: answer it
            resp = StunMessage(Method.BINDING, MessageClass.SUCCESS, bytes(data[8:20]))
            resp.add(Attr.XOR_MAPPED_ADDRESS, LOCAL)
            agent.receive(resp.encode(b"r" * 22, fingerprint=True), LOCAL, REMOTE, 0.2)
    agent.datagrams_to_send()
    agent.events()
    assert agent.state in (IceState.CONNECTED, IceState.COMPLETED), agent.state
    return agent


def _request(use_candidate: bool = False) -> bytes:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST, TID)
    msg.add(Attr.USERNAME, "loc1:rem1")
    msg.add(Attr.PRIORITY, 0x6E7FFFFF)
    msg.add(Attr.ICE_CONTROLLING, 0x1122334455667788)
    if use_candidate:
        msg.add(Attr.USE_CANDIDATE, True)
    return msg.encode(b"l" * 22, fingerprint=True)


_AGENT = _connected()
_VALID = _request(use_candidate=True)
_USES = 0


def seeds() -> Iterable[bytes]:
    yield b"\x00" + _VALID
    yield b"\x00\x17application data"
    yield b"\x00\x80" + bytes(11)
    yield b"\x01" + bytes(len(_VALID))
    yield b"\x01" + bytes(3) + b"\x08"
    yield b"\x02" + encode_response(7, "a1b2.local", "192.0.2.9")
    yield b"\x02" + encode_response(9, "x.local", "2001:db8::2")
    yield b"\x03" + frame(b"abc") + frame(b"")


def _agent() -> IceAgent:
    global _AGENT, _USES
    _USES += 1
    if _USES % 5000 == 0 or _AGENT.state not in (IceState.CONNECTED, IceState.COMPLETED):
        _AGENT = _connected()  # bounded state; a fresh victim after anything unexpected
    return _AGENT


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] & 3, data[1:]
    if mode == 0:
        agent = _agent()
        got = agent.receive(rest, LOCAL, REMOTE, 1.0)
        agent.datagrams_to_send()
        agent.events()
        if rest and rest[0] > 3 and got != rest:
            raise AssertionError("application data on the selected pair was not delivered")
    elif mode == 1:
        agent = _agent()
        mask = rest[: len(_VALID)].ljust(len(_VALID), b"\x00")
        mutated = bytes(a ^ b for a, b in zip(_VALID, mask, strict=True))
        agent.receive(mutated, LOCAL, REMOTE, 1.0)
        agent.datagrams_to_send()
        agent.events()
        if agent.state not in (IceState.CONNECTED, IceState.COMPLETED):
            raise AssertionError(f"one datagram moved the agent to {agent.state}")
    elif mode == 2:
        try:
            parse_answers(rest)
        except MdnsParseError:
            pass
    else:
        cut = rest[0] % (len(rest) + 1) if rest else 0
        d = Deframer()
        frames = d.feed(rest[:cut]) + d.feed(rest[cut:])
        again = b"".join(frame(f) for f in frames)
        if rest[: len(again)] != again or d.pending != len(rest) - len(again):
            raise AssertionError("RFC 4571 frames do not re-frame to the input")


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
