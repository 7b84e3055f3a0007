"""A NAT rebinding mid-call (issue 9), full stack in the netns lab.

A sits behind an endpoint-independent NAT and B is a public host. Router rA gets a new
public address while the data channel is open and both sides keep sending (all of A's
mappings change; packets to the old address are lost). Both peers are wired for recovery
(restart ICE on "disconnected", PerfectNegotiation on "failed"). Whichever comes first
recovers: A's next consent check (every ~5 s) reaching B from the new mapping, which B learns
as a peer-reflexive candidate, or the restart after 6 s without packets ("disconnected"). SCTP delivers every message sent during the
outage exactly once and in order.

With B behind a NAT too (Linux MASQUERADE filters by remote address and port), only the
restart can recover: A's checks from its new mapping are dropped at rB until B has sent to
that address, so A must learn its new mapping and signal it. A restart gathering asks the
STUN servers again from every existing socket and trickles the new server-reflexive
candidate (the same one again while a mapping holds).
"""

from __future__ import annotations

import pytest
from peerlab import available, rebinding_scenario

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not available(), reason="needs root, iproute2 and iptables"),
    pytest.mark.timeout(60),
]


async def test_nat_rebinding_toward_public_peer_recovers() -> None:
    t = await rebinding_scenario("none")
    print(f"\n[netlab] rebinding (B public): {t}")
    # Consent check (0-5 s) or restart after the 6 s disconnected timeout, plus slack.
    assert t["all"] < 10.0
    if t["disconnects"]:
        # Recovery came after "disconnected": through a restart offer/answer.
        assert t["restart_offers"] >= 1


async def test_nat_rebinding_between_two_nats_recovers_through_ice_restart() -> None:
    t = await rebinding_scenario("eim")
    print(f"\n[netlab] rebinding (both behind NATs): {t}")
    # Only a restart (on "disconnected", after 6 s of silence) can bring the new mapping to
    # B, whose NAT drops A's checks from it until B sends there.
    assert t["disconnects"] >= 1
    assert t["restart_offers"] >= 1
    assert t["new_srflx_signalled"] == 1.0
    assert t["all"] < 10.0
