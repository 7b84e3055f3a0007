"""Pending: NAT rebinding with both peers behind NATs does not recover yet (issue 9).

Diagnosis (ICE shell, src/rtcpeer/aio/ice.py, ``IceTransport._gather`` on a restart): the
restart gathering replays the cached srflx candidate (the *old* mapping, 198.51.100.2) and
asks the STUN/TURN servers only from sockets of newly appeared addresses, so A never learns
its new mapping. B's NAT filters by remote address and port (Linux MASQUERADE), so A's
checks from the new mapping are dropped at rB, and B only checks toward the stale address:
the restart runs its offer/answer (PerfectNegotiation) but no pair ever succeeds. Re-running
the Binding requests from the existing sockets on a restart (and re-allocating a TURN
allocation whose 5-tuple died) fixes it: with that change this test passes, recovery in about
6.7 s (6 s to "disconnected", then the restart). Strict xfail: it turns into a failure as soon
as the ICE shell is fixed, so the mark must then be removed.
"""

from __future__ import annotations

import pytest
from peerlab import available, rebinding_scenario

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not available(), reason="needs root, iproute2 and iptables"),
    pytest.mark.timeout(60),
]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="IceTransport restart replays the stale srflx candidate instead of asking STUN again",
)
async def test_nat_rebinding_between_two_nats_recovers_through_ice_restart() -> None:
    t = await rebinding_scenario("eim")
    print(f"\n[netlab] rebinding (both behind NATs): {t}")
    assert (
        t["disconnects"] >= 1
    )  # only a restart (on "disconnected") can bring the new mapping to B
    assert t["all"] < 10.0
