"""RTCPeerConnection end to end across real NATs (issues 3 and 9), in the netns lab.

Two full stacks (ICE, DTLS, SCTP, data channels, perfect negotiation) in the host
namespaces hA and hB behind routers rA and rB, the embedded rtcpeer.turnserver (STUN Binding
and TURN) in "pub". Set-up times are printed (``-s``) and asserted loosely.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from typing import Any

import pytest
from peerlab import (
    PUB,
    STUN_SERVERS,
    TURN_SERVERS,
    Peer,
    available,
    pair_types,
    peers,
    wait_until,
)

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not available(), reason="needs root, iproute2 and iptables"),
    pytest.mark.timeout(60),
]

COTURN_PORT = 3479


async def _connect(a: Peer, b: Peer, timeout: float = 15.0) -> float:
    """Start both peers, open a channel from ``a``; seconds until both channels are open."""
    await a.start()
    await b.start()
    t0 = time.monotonic()
    await a.open_channel()
    await wait_until(lambda: a.channel_open and b.channel_open, timeout, "data channel open")
    return time.monotonic() - t0


async def _chat(a: Peer, b: Peer, n: int = 20) -> None:
    for i in range(n):
        a.send_data(f"a{i}")
        b.send_data(f"b{i}")
    await wait_until(lambda: len(a.received) >= n and len(b.received) >= n, 5.0, "messages")
    assert b.received == [f"a{i}" for i in range(n)]
    assert a.received == [f"b{i}" for i in range(n)]


def _report(what: str, seconds: float) -> None:
    print(f"\n[netlab] {what}: {seconds * 1000:.0f} ms")


async def test_endpoint_independent_nats_connect_with_srflx() -> None:
    async with peers("eim", "eim", {"iceServers": STUN_SERVERS}) as (_, a, b, _c):
        took = await _connect(a, b)
        _report("set-up through endpoint-independent NATs (srflx)", took)
        await _chat(a, b)
        la, ra = await pair_types(a)
        lb, rb = await pair_types(b)
        # Each side sends from its host socket to the other's NAT mapping (srflx).
        assert (ra["candidateType"], ra["address"]) == ("srflx", "203.0.113.2")
        assert (rb["candidateType"], rb["address"]) == ("srflx", "198.51.100.2")
        assert la["address"] == "10.0.1.2" and lb["address"] == "10.0.2.2"
        assert a.connection_state == "connected" and b.connection_state == "connected"
        # Both NATs' mappings were learned from the embedded server and signalled.
        assert any("typ srflx" in c and "198.51.100.2" in c for c in a.signalled_candidates())
        assert any("typ srflx" in c and "203.0.113.2" in c for c in b.signalled_candidates())


async def _send_mib(a: Peer, b: Peer) -> None:
    blob = os.urandom(1 << 20)
    chunk = 16 * 1024
    for off in range(0, len(blob), chunk):
        a.send_data(blob[off : off + chunk])
    total = len(blob) // chunk
    await wait_until(lambda: len(b.received) >= total, 15.0, "1 MiB through the relay")
    got = b"".join(bytes(x) for x in b.received)
    assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()


def _has_relay(local: dict[str, Any], remote: dict[str, Any]) -> bool:
    return "relay" in (local["candidateType"], remote["candidateType"])


@pytest.mark.parametrize("server", ["embedded", "coturn"])
async def test_symmetric_nats_connect_only_through_turn(server: str) -> None:
    if server == "coturn":
        from coturn import available as coturn_available

        if not coturn_available():
            pytest.skip("coturn is not installed")
    async with peers(
        "symmetric",
        "symmetric",
        {"iceServers": STUN_SERVERS},
        coturn_port=COTURN_PORT if server == "coturn" else 0,
    ) as (_, a, b, coturn):
        servers = TURN_SERVERS if coturn is None else [coturn.ice_server("udp")]
        a.config = b.config = {"iceServers": [*STUN_SERVERS, *servers]}
        took = await _connect(a, b)
        _report(f"set-up through symmetric NATs (TURN, {server})", took)
        for peer in (a, b):
            local, remote = await pair_types(peer)
            assert _has_relay(local, remote), (local, remote)
            relay = local if local["candidateType"] == "relay" else remote
            assert relay["address"] == PUB
        await _send_mib(a, b)


async def test_symmetric_nats_without_turn_fail_in_bounded_time() -> None:
    async with peers("symmetric", "symmetric", {"iceServers": STUN_SERVERS}) as (_, a, b, _c):
        await a.start(restart_on=())
        await b.start(restart_on=())
        t0 = time.monotonic()
        await a.open_channel()
        took = await wait_until(
            lambda: a.connection_state == "failed" and b.connection_state == "failed",
            20.0,
            "connectionState failed",
        )
        _report("symmetric NATs without TURN: failed after", time.monotonic() - t0)
        assert took < 20.0
        assert not a.channel_open and b.channel is None
        # No DTLS ever ran: no pair was ever selected.
        assert "connected" not in [s for _, s in a.states + b.states]


async def test_relay_policy_signals_only_relay_candidates() -> None:
    config = {"iceServers": [*STUN_SERVERS, *TURN_SERVERS], "iceTransportPolicy": "relay"}
    async with peers("symmetric", "eim", config) as (_, a, b, _c):
        took = await _connect(a, b)
        _report("set-up with iceTransportPolicy relay", took)
        await _chat(a, b)
        for peer in (a, b):
            lines = peer.signalled_candidates()
            assert lines, "no candidate signalled"
            assert all(" typ relay" in ln for ln in lines), lines
            local, remote = await pair_types(peer)
            assert local["candidateType"] == "relay" and remote["candidateType"] == "relay"
            # Private addresses never leave the host under relay policy.
            assert not any("10.0." in ln.split(" raddr ")[0] for ln in lines)
        await asyncio.sleep(0)
