"""ICE restart after a NAT rebinding (issue 9): the restart gathering asks again.

On a restart the host candidates of unchanged sockets are re-announced at once, every
existing socket asks the STUN servers again (the same server-reflexive candidate comes back
while the mapping holds, a new one is trickled when it changed, and a stale one is dropped),
and every TURN allocation is refreshed: one the server no longer knows (437 Allocation
Mismatch from a new 5-tuple) is allocated again and its new relayed candidate signalled.

A fake STUN server on the loopback interface plays the NAT: it answers with whatever
mapping the test sets.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from rtcpeer.aio.ice import IceTransport
from rtcpeer.aio.ice_relay import Relay, _UdpReader
from rtcpeer.ice.gather import InterfaceAddress
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import Attr, MessageClass, Method, ParseError, StunMessage, parse
from rtcpeer.turnserver import TurnServer

LO4 = InterfaceAddress("lo", "127.0.0.1", 4, True, False)


class FakeStun(asyncio.DatagramProtocol):
    """A STUN server that reports ``mapping`` as the client's address (a NAT's view)."""

    def __init__(self) -> None:
        self.mapping: tuple[str, int] = ("192.0.2.10", 40000)
        self.requests = 0
        self.delay = 0.0
        self.silent = False
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse(data)
        except ParseError:
            return
        if msg.method != Method.BINDING or msg.message_class != MessageClass.REQUEST:
            return
        self.requests += 1
        if self.silent:
            return
        reply = StunMessage(Method.BINDING, MessageClass.SUCCESS, msg.transaction_id)
        reply.add(Attr.XOR_MAPPED_ADDRESS, self.mapping)
        out = reply.encode(fingerprint=True)
        assert self.transport is not None
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, out, addr)
        else:
            self.transport.sendto(out, addr)

    @property
    def url(self) -> str:
        assert self.transport is not None
        return f"stun:127.0.0.1:{self.transport.get_extra_info('sockname')[1]}"


async def fake_stun() -> FakeStun:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(FakeStun, local_addr=("127.0.0.1", 0))
    return proto


class Gatherer:
    def __init__(self, **kwargs: Any) -> None:
        self.candidates: list[Candidate | None] = []
        self.errors: list[tuple[Any, ...]] = []
        loop = asyncio.get_running_loop()
        self.at: list[float] = []
        self.loop = loop

        def on_candidate(c: Candidate | None) -> None:
            self.candidates.append(c)
            self.at.append(loop.time())

        self.ice = IceTransport(
            True,
            include_loopback=True,
            addresses=[LO4],
            on_candidate=on_candidate,
            on_candidate_error=lambda *e: self.errors.append(e),
            **kwargs,
        )

    def signalled(self) -> list[tuple[str, str, int] | None]:
        return [(c.type, c.host, c.port) if c else None for c in self.candidates]

    async def restart(self) -> None:
        self.candidates.clear()
        self.at.clear()
        self.ice.restart()
        await self.ice.gather()


async def test_restart_asks_stun_again_and_signals_the_same_mapping() -> None:
    server = await fake_stun()
    g = Gatherer(ice_servers=[{"urls": server.url}])
    try:
        await g.ice.gather()
        host = g.ice.local_candidates[0]
        first = g.signalled()
        assert first == [
            ("host", "127.0.0.1", host.port),
            ("srflx", "192.0.2.10", 40000),
            None,
        ]
        assert server.requests == 1
        await g.restart()
        # The mapping held: the same candidates again, after a new Binding request.
        assert g.signalled() == first
        assert server.requests == 2
        assert [(c.type, c.host) for c in g.ice.local_candidates] == [
            ("host", "127.0.0.1"),
            ("srflx", "192.0.2.10"),
        ]
        assert not g.errors
    finally:
        await g.ice.close()
        assert server.transport is not None
        server.transport.close()


async def test_restart_after_rebinding_signals_the_new_mapping_and_drops_the_old() -> None:
    server = await fake_stun()
    g = Gatherer(ice_servers=[{"urls": server.url}])
    try:
        await g.ice.gather()
        host = g.ice.local_candidates[0]
        server.mapping = ("192.0.2.77", 41000)  # the NAT rebound
        await g.restart()
        assert g.signalled() == [
            ("host", "127.0.0.1", host.port),
            ("srflx", "192.0.2.77", 41000),
            None,
        ]
        assert [(c.type, c.host, c.port) for c in g.ice.local_candidates] == [
            ("host", "127.0.0.1", host.port),
            ("srflx", "192.0.2.77", 41000),
        ]
        # The agent pairs the new one too (from the host's socket).
        assert any(c.host == "192.0.2.77" for c in g.ice.agent.local_candidates)
        # And a later restart with the mapping unchanged again offers only the new one.
        await g.restart()
        assert [c.host for c in g.candidates if c is not None and c.type == "srflx"] == [
            "192.0.2.77"
        ]
    finally:
        await g.ice.close()
        assert server.transport is not None
        server.transport.close()


async def test_restart_host_candidates_are_not_held_back_by_a_slow_stun_server() -> None:
    server = await fake_stun()
    g = Gatherer(ice_servers=[{"urls": server.url}])
    try:
        await g.ice.gather()
        server.delay = 0.3
        t0 = g.loop.time()
        await g.restart()
        kinds = [c.type if c else None for c in g.candidates]
        assert kinds == ["host", "srflx", None]
        assert g.at[0] - t0 < 0.1  # host re-announced at once
        assert g.at[1] - t0 >= 0.29  # the srflx answer trickled when it came
    finally:
        await g.ice.close()
        assert server.transport is not None
        server.transport.close()


async def test_restart_with_a_silent_stun_server_offers_the_last_mapping() -> None:
    server = await fake_stun()
    g = Gatherer(ice_servers=[{"urls": server.url}], stun_timeout=0.3)
    try:
        await g.ice.gather()
        server.silent = True
        await g.restart()
        host = g.ice.local_candidates[0]
        # The mapping is unknown: what the socket had is offered again, and the failure
        # reported like the W3C icecandidateerror event.
        assert g.signalled() == [
            ("host", "127.0.0.1", host.port),
            ("srflx", "192.0.2.10", 40000),
            None,
        ]
        assert [e[1] for e in g.errors] == [701]
        assert server.requests >= 2
    finally:
        await g.ice.close()
        assert server.transport is not None
        server.transport.close()


def _rebind_relay_socket(relay: Relay) -> None:
    """What a NAT rebinding does to an allocation: its client 5-tuple changes (new port)."""
    loop = asyncio.get_running_loop()
    old = relay._sock
    assert old is not None
    loop.remove_reader(old.fileno())
    old.close()
    new = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    new.setblocking(False)
    new.bind(("127.0.0.1", 0))
    relay._sock = new
    loop.add_reader(new.fileno(), _UdpReader(relay, new).ready)


async def test_restart_refreshes_turn_and_reallocates_a_lost_allocation() -> None:
    async with TurnServer("rtcpeer", users={"u": "p"}, listen=("127.0.0.1", 0)) as server:
        assert server.udp_address is not None
        turn = [
            {
                "urls": f"turn:127.0.0.1:{server.udp_address[1]}?transport=udp",
                "username": "u",
                "credential": "p",
            }
        ]
        a = Gatherer(ice_servers=turn, ice_transport_policy="relay")
        b = Gatherer(ice_servers=turn, ice_transport_policy="relay")
        try:
            await asyncio.gather(a.ice.gather(), b.ice.gather())
            first = a.signalled()
            assert [k[0] if k else None for k in first] == ["relay", None]
            # The allocation is alive: the refresh succeeds, the same relayed candidate again.
            await a.restart()
            assert a.signalled() == first
            relay = next(iter(a.ice._relays.values()))
            _rebind_relay_socket(relay)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await a.restart()
            took = loop.time() - t0
            again = a.signalled()
            assert [k[0] if k else None for k in again] == ["relay", None]
            assert again[0] != first[0]  # a new allocation, a new relayed address
            assert not relay.open
            assert [c.type for c in a.ice.local_candidates] == ["relay"]
            assert took < 1.0
            # And it carries a connection: b restarts too, candidates cross, data flows.
            b.candidates.clear()
            b.ice.restart()
            await b.ice.gather()
            a.ice.set_remote_credentials(b.ice.local_ufrag, b.ice.local_pwd)
            b.ice.set_remote_credentials(a.ice.local_ufrag, a.ice.local_pwd)
            got: list[bytes] = []
            b.ice.on_data = got.append
            for c in a.candidates:
                b.ice.add_remote_candidate(c)
            for c in b.candidates:
                a.ice.add_remote_candidate(c)
            await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
            pair = a.ice.get_selected_pair()
            assert pair is not None and pair[0] == again_candidate(a)
            a.ice.send(b"\x17through the new allocation")
            for _ in range(200):
                if got:
                    break
                await asyncio.sleep(0.01)
            assert got == [b"\x17through the new allocation"]
        finally:
            await a.ice.close()
            await b.ice.close()


def again_candidate(g: Gatherer) -> Candidate:
    cand = g.candidates[0]
    assert cand is not None
    return cand
