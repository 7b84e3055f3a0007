"""IceTransport over real UDP sockets on the loopback interface."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ice"))
from coturn import Coturn
from coturn import available as coturn_available

from rtcpeer.aio.ice import IceTransport
from rtcpeer.aio.mdns import MdnsResponder, resolve
from rtcpeer.ice.agent import IceAgent, IceState
from rtcpeer.ice.gather import InterfaceAddress, enumerate_addresses, usable_addresses
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.turnserver import TurnServer

LO4 = InterfaceAddress("lo", "127.0.0.1", 4, True, False)
LO6 = InterfaceAddress("lo", "::1", 6, True, False)


class Peer:
    def __init__(
        self, controlling: bool, addresses: list[InterfaceAddress], **kwargs: object
    ) -> None:
        self.candidates: list[Candidate | None] = []
        self.data: list[bytes] = []
        self.states: list[IceState] = []
        self.got_data = asyncio.Event()
        self.first_candidate_at: float | None = None
        self.ice = IceTransport(
            controlling,
            include_loopback=True,
            addresses=addresses,
            on_candidate=self._on_candidate,
            on_data=self._on_data,
            on_state_change=self.states.append,
            **kwargs,  # type: ignore[arg-type]
        )
        self.peer: Peer | None = None
        self.only_tcp = False

    def _on_candidate(self, cand: Candidate | None) -> None:
        if self.first_candidate_at is None:
            self.first_candidate_at = time.perf_counter()
        self.candidates.append(cand)
        if self.only_tcp and cand is not None and cand.transport != "tcp":
            return
        if self.peer is not None:  # trickle straight to the other side
            self.peer.ice.add_remote_candidate(cand)

    def _on_data(self, data: bytes) -> None:
        self.data.append(data)
        self.got_data.set()


def link(a: Peer, b: Peer) -> None:
    a.peer, b.peer = b, a
    a.ice.set_remote_credentials(b.ice.local_ufrag, b.ice.local_pwd)
    b.ice.set_remote_credentials(a.ice.local_ufrag, a.ice.local_pwd)


async def test_two_transports_connect_and_exchange_data() -> None:
    a = Peer(True, [LO4, LO6])
    b = Peer(False, [LO4, LO6])
    link(a, b)
    t0 = time.perf_counter()
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    first = min(a.first_candidate_at or 0, b.first_candidate_at or 0)
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    connected = time.perf_counter()
    print(
        f"\nICE loopback: first candidate {1000 * (first - t0):.2f} ms, connected {1000 * (connected - first):.2f} ms after it"
    )
    assert a.candidates[-1] is None and b.candidates[-1] is None
    assert sorted(c.host for c in a.candidates if c is not None) == ["127.0.0.1", "::1"]
    assert a.ice.gathering_state == "complete"
    a.ice.send(b"\x17ping")
    await asyncio.wait_for(b.got_data.wait(), 2.0)
    b.ice.send(b"\x17pong")
    await asyncio.wait_for(a.got_data.wait(), 2.0)
    assert b.data == [b"\x17ping"] and a.data == [b"\x17pong"]
    pair = a.ice.get_selected_pair()
    assert pair is not None and pair[0].type == "host" and pair[1].type == "host"
    assert a.ice.state in (IceState.CONNECTED, IceState.COMPLETED)
    await a.ice.close()
    await b.ice.close()
    assert a.ice.state is IceState.CLOSED


async def test_many_datagrams_in_order() -> None:
    a = Peer(True, [LO4])
    b = Peer(False, [LO4])
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    for i in range(200):
        a.ice.send(b"\x80%d" % i)
    for _ in range(100):
        if len(b.data) == 200:
            break
        await asyncio.sleep(0.01)
    assert b.data == [b"\x80%d" % i for i in range(200)]
    await a.ice.close()
    await b.ice.close()


async def test_mdns_candidate_resolved_through_injected_resolver() -> None:
    names: dict[str, str] = {}

    async def resolver(name: str) -> str | None:
        await asyncio.sleep(0.01)
        return names.get(name)

    a = Peer(True, [LO4])
    b = Peer(False, [LO4], mdns_resolver=resolver)
    link(a, b)
    a.peer = None  # signal A's candidates by hand, hidden behind mDNS names
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    real = a.candidates[0]
    assert real is not None
    names["0b7c2d1e-aaaa-bbbb-cccc-000011112222.local"] = real.host
    hidden = Candidate(
        foundation=real.foundation,
        component=1,
        transport="udp",
        priority=real.priority,
        host="0b7c2d1e-aaaa-bbbb-cccc-000011112222.local",
        port=real.port,
        type="host",
    )
    unknown = Candidate(
        foundation="9",
        component=1,
        transport="udp",
        priority=real.priority - 1,
        host="ffffffff-0000-0000-0000-000000000000.local",
        port=9,
        type="host",
    )
    b.ice.add_remote_candidate(hidden)
    b.ice.add_remote_candidate(unknown)
    b.ice.add_remote_candidate(None)
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    await asyncio.sleep(0.05)
    # The unresolvable name was dropped; the resolved one is used.
    assert [c.host for c in b.ice.agent.remote_candidates] == ["127.0.0.1"]
    await a.ice.close()
    await b.ice.close()


async def test_relay_policy_hides_host_candidates() -> None:
    p = Peer(True, [LO4], ice_transport_policy="relay")
    await p.ice.gather()
    assert p.candidates == [None]
    await p.ice.close()


async def test_dead_stun_server_does_not_block_gathering() -> None:
    # A UDP port on loopback that nobody answers on: gathering completes at the timeout.
    # The IPv6 socket has no server address of its family: skipped, not an error.
    errors: list[tuple[Any, ...]] = []
    p = Peer(
        True,
        [LO4, LO6],
        ice_servers=[
            {"urls": ["stun:127.0.0.1:9", "stun:no-such-host.invalid"]},
            {
                "urls": ["turn:127.0.0.1:9", "turn:127.0.0.1:9?transport=tcp"],
                "username": "u",
                "credential": "p",
            },
        ],
        stun_timeout=0.3,
        on_candidate_error=lambda *e: errors.append(e),
    )
    t0 = time.perf_counter()
    await p.ice.gather()
    assert time.perf_counter() - t0 < 1.5
    assert [c.type if c else None for c in p.candidates] == ["host", "host", None]
    # Both failures are reported (W3C icecandidateerror, code 701), with the URL as given.
    assert sorted((url, code) for url, code, *_ in errors) == [
        ("stun:127.0.0.1:9", 701),
        ("stun:no-such-host.invalid", 701),
        # The TURN URL over UDP also fails its Binding request (TURN is a STUN usage).
        ("turn:127.0.0.1:9", 701),
        ("turn:127.0.0.1:9", 701),
        ("turn:127.0.0.1:9?transport=tcp", 701),
    ]
    # W3C RTCPeerConnectionIceErrorEvent address/port: the local socket that asked the
    # server; none for a server that never resolved.
    host4 = next(c for c in p.candidates if c is not None and c.host == "127.0.0.1")
    where = {(url, address, port) for url, _, _, address, port in errors}
    assert ("stun:127.0.0.1:9", "127.0.0.1", host4.port) in where
    assert ("stun:no-such-host.invalid", None, None) in where
    await p.ice.close()


async def test_ice_tcp_only() -> None:
    a = Peer(True, [LO4], tcp=True)
    b = Peer(False, [LO4], tcp=True)
    a.only_tcp = b.only_tcp = True  # as if UDP were blocked: only TCP candidates signalled
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    assert [(c.transport, c.tcptype, c.type) for c in a.candidates if c is not None] == [
        ("udp", None, "host"),
        ("tcp", "passive", "host"),
        ("tcp", "active", "host"),
    ]
    assert [c.port for c in a.candidates if c is not None][2] == 9
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    pa, pb = a.ice.get_selected_pair(), b.ice.get_selected_pair()
    assert pa is not None and pb is not None
    assert pa[0].transport == "tcp" and pb[0].transport == "tcp"
    for i in range(50):
        a.ice.send(b"\x17a%d" % i)
        b.ice.send(b"\x17b%d" % i)
    for _ in range(100):
        if len(a.data) == 50 and len(b.data) == 50:
            break
        await asyncio.sleep(0.01)
    assert b.data == [b"\x17a%d" % i for i in range(50)]
    assert a.data == [b"\x17b%d" % i for i in range(50)]
    await a.ice.close()
    await b.ice.close()


def test_enumerate_addresses_finds_loopback() -> None:
    addrs = enumerate_addresses()
    assert any(a.address == "127.0.0.1" and a.loopback for a in addrs)
    usable = usable_addresses(addrs)
    assert all(not a.loopback for a in usable)
    with_lo = usable_addresses(addrs, include_loopback=True)
    assert [a.address for a in with_lo if a.loopback][0] == "127.0.0.1"


def test_bad_policy_rejected() -> None:
    with pytest.raises(ValueError):
        IceTransport(True, ice_transport_policy="none")


async def test_restart_keeps_data_flowing_and_renominates() -> None:
    a = Peer(True, [LO4])
    b = Peer(False, [LO4])
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    old_ufrag = a.ice.local_ufrag
    # Both sides restart (as after a new offer/answer with fresh credentials).
    a.ice.restart()
    b.ice.restart("BBBB", "b" * 24)  # credentials already written into a description
    assert a.ice.local_ufrag != old_ufrag
    assert (b.ice.local_ufrag, b.ice.local_pwd) == ("BBBB", "b" * 24)
    a.ice.send(b"\x17during")  # the old selected pair still carries data
    await asyncio.wait_for(b.got_data.wait(), 2.0)
    assert b.data == [b"\x17during"]
    link(a, b)
    a.candidates.clear()
    # The restart's new gathering also covers an interface that appeared meanwhile.
    a.ice.addresses = [LO4, LO6]
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    # Candidates are re-announced for the new generation, then end-of-candidates.
    assert [(c.type, c.host) if c else None for c in a.candidates] == [
        ("host", "127.0.0.1"),
        ("host", "::1"),
        None,
    ]
    for _ in range(200):
        sel_a, sel_b = a.ice.agent.selected_pair, b.ice.agent.selected_pair
        if sel_a and sel_b and sel_a.generation == 1 and sel_b.generation == 1:
            break
        await asyncio.sleep(0.01)
    sel = a.ice.agent.selected_pair
    assert sel is not None and sel.generation == 1 and sel.nominated
    assert a.ice.state in (IceState.CONNECTED, IceState.COMPLETED)
    b.got_data.clear()
    a.ice.send(b"\x17after")
    await asyncio.wait_for(b.got_data.wait(), 2.0)
    assert b.data == [b"\x17during", b"\x17after"]
    await a.ice.close()
    await b.ice.close()


@pytest.fixture
def coturn() -> Iterator[Coturn]:
    if not coturn_available():
        pytest.skip("coturn (/usr/bin/turnserver) is not installed")
    server = Coturn()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["udp", "tcp", "tls"])
async def test_relay_through_coturn(coturn: Coturn, kind: str) -> None:
    # A may only use relayed candidates; B is a plain host. Everything A sends goes through
    # the TURN server over UDP, TCP or TLS (turns:), and B's answers come back through it.
    errors: list[tuple[Any, ...]] = []
    a = Peer(
        True,
        [LO4],
        ice_servers=[coturn.ice_server(kind)],
        ice_transport_policy="relay",
        turn_ssl_context=coturn.ssl_context(),
        on_candidate_error=lambda *e: errors.append(e),
    )
    b = Peer(False, [LO4])
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    assert errors == []
    relays = [c for c in a.candidates if c is not None]
    assert [(c.type, c.host) for c in relays] == [("relay", "127.0.0.1")]
    assert relays[0].port not in (0, coturn.port)
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    pa, pb = a.ice.get_selected_pair(), b.ice.get_selected_pair()
    assert pa is not None and pb is not None
    assert pa[0].type == "relay"
    # B sees A at the relayed address (its check arrived from there: prflx or the relay).
    assert (pb[1].host, pb[1].port) == (relays[0].host, relays[0].port)
    for i in range(50):
        a.ice.send(b"\x17a%d" % i)
        b.ice.send(b"\x17b%d" % i)
    for _ in range(200):
        if len(a.data) == 50 and len(b.data) == 50:
            break
        await asyncio.sleep(0.01)
    assert b.data == [b"\x17a%d" % i for i in range(50)]
    assert a.data == [b"\x17b%d" % i for i in range(50)]
    await a.ice.close()
    await b.ice.close()


async def test_turn_bad_credentials_reported(coturn: Coturn) -> None:
    errors: list[tuple[Any, ...]] = []
    a = Peer(
        True,
        [LO4],
        ice_servers=[coturn.ice_server("udp", password="wrong")],
        on_candidate_error=lambda *e: errors.append(e),
    )
    t0 = time.perf_counter()
    await a.ice.gather()
    assert time.perf_counter() - t0 < 2.0
    # The host candidate and the srflx from the TURN server's Binding answer (equal to the
    # host on loopback, so left out): no relay.
    assert [c.type if c else None for c in a.candidates] == ["host", None]
    assert [(url, code) for url, code, *_ in errors] == [(coturn.urls()["udp"], 401)]
    await a.ice.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_through_embedded_turn_server(transport: str) -> None:
    # Both sides relay-only through rtcpeer's own TURN server: relay <-> relay.
    async with TurnServer("rtcpeer", users={"u": "p"}, listen=("127.0.0.1", 0)) as server:
        assert server.udp_address is not None and server.tcp_address is not None
        port = server.udp_address[1] if transport == "udp" else server.tcp_address[1]
        url = f"turn:127.0.0.1:{port}?transport={transport}"
        turn = [{"urls": url, "username": "u", "credential": "p"}]
        a = Peer(True, [LO4], ice_servers=turn, ice_transport_policy="relay")
        b = Peer(False, [LO4], ice_servers=turn, ice_transport_policy="relay")
        link(a, b)
        await asyncio.gather(a.ice.gather(), b.ice.gather())
        assert [c.type for c in a.candidates if c is not None] == ["relay"]
        await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
        pa = a.ice.get_selected_pair()
        assert pa is not None and pa[0].type == "relay" and pa[1].type == "relay"
        a.ice.send(b"\x17over the relay")
        await asyncio.wait_for(b.got_data.wait(), 2.0)
        assert b.data == [b"\x17over the relay"]
        await a.ice.close()
        await b.ice.close()


async def test_peer_vanishes_disconnected_then_failed() -> None:
    # Consent freshness (RFC 7675) on real sockets, with the timers scaled down: B goes away
    # without a word; A notices (disconnected), then gives up (failed).
    agent = IceAgent(True, consent_interval=0.1, disconnected_timeout=0.3, consent_timeout=0.8)
    a = Peer(True, [LO4], agent=agent)
    b = Peer(False, [LO4])
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    await asyncio.sleep(0.4)  # consent keeps flowing while B is there
    assert a.ice.state in (IceState.CONNECTED, IceState.COMPLETED)
    await b.ice.close()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while a.ice.state is not IceState.FAILED and loop.time() - t0 < 5.0:
        await asyncio.sleep(0.02)
    assert a.ice.state is IceState.FAILED
    assert loop.time() - t0 < 2.5
    assert IceState.DISCONNECTED in a.states
    assert a.states.index(IceState.DISCONNECTED) < a.states.index(IceState.FAILED)
    # Without consent nothing more is sent to B's address (RFC 7675 section 5.1): a socket
    # now listening there receives nothing from A.
    gone = b.candidates[0]
    assert gone is not None
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((gone.host, gone.port))
    listener.setblocking(False)
    try:
        a.ice.send(b"\x17after consent expired")
        await asyncio.sleep(0.3)
        with pytest.raises(BlockingIOError):
            listener.recvfrom(2048)
    finally:
        listener.close()
    await a.ice.close()


async def test_mdns_published_host_candidates_resolve_and_connect() -> None:
    # A signals its host candidate as a random .local name (RFC 8828) answered by its own
    # responder; B resolves it (legacy unicast query, here aimed at the responder's port).
    responder = MdnsResponder(port=0, bind_host="127.0.0.1")
    assert await responder.start()
    address = responder.address
    assert address is not None

    async def resolver(name: str) -> str | None:
        return await resolve(name, timeout=1.0, group=address, retransmit=0.1)

    try:
        a = Peer(True, [LO4], mdns_responder=responder)
        b = Peer(False, [LO4], mdns_resolver=resolver)
        link(a, b)
        await asyncio.gather(a.ice.gather(), b.ice.gather())
        hosts = [c.host for c in a.candidates if c is not None]
        assert len(hosts) == 1 and hosts[0].endswith(".local") and "127.0.0.1" not in hosts[0]
        await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
        assert [c.host for c in b.ice.agent.remote_candidates] == ["127.0.0.1"]
        assert await resolve("unknown-name.local", timeout=0.2, group=address) is None
        await a.ice.close()
        await b.ice.close()
    finally:
        responder.close()


class _DropFirst(asyncio.DatagramProtocol):
    """A UDP proxy in front of a TURN server that loses the client's first datagrams."""

    def __init__(self, server: tuple[str, int], drop: int) -> None:
        self.server = server
        self.drop = drop
        self.client: tuple[str, int] | None = None
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr == self.server:
            if self.client is not None:
                self.transport.sendto(data, self.client)
            return
        self.client = addr
        if self.drop > 0:
            self.drop -= 1
            return
        self.transport.sendto(data, self.server)


async def test_lost_allocate_request_is_retransmitted() -> None:
    loop = asyncio.get_running_loop()
    async with TurnServer("rtcpeer", users={"u": "p"}, listen=("127.0.0.1", 0)) as server:
        assert server.udp_address is not None
        proxy_t, _ = await loop.create_datagram_endpoint(
            lambda: _DropFirst(server.udp_address, drop=2), local_addr=("127.0.0.1", 0)
        )
        try:
            port = proxy_t.get_extra_info("sockname")[1]
            turn = [{"urls": f"turn:127.0.0.1:{port}", "username": "u", "credential": "p"}]
            a = Peer(True, [LO4], ice_servers=turn, ice_transport_policy="relay")
            await a.ice.gather()
            # The first Allocate (and the Binding for srflx) were lost; the TURN client's
            # retransmission (RTO 0.5 s) still produced the relayed candidate in time.
            assert [c.type for c in a.candidates if c is not None] == ["relay"]
            await a.ice.close()
        finally:
            proxy_t.close()
