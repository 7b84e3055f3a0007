"""ICE through real NATs built from network namespaces (iptables MASQUERADE routers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from coturn import Coturn
from coturn import available as coturn_available
from natlab import NatLab, available

from rtcpeer.aio.ice import IceTransport
from rtcpeer.aio.mdns import resolve
from rtcpeer.ice.agent import IceAgent, IceState
from rtcpeer.ice.gather import InterfaceAddress
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import Attr, MessageClass, Method, ParseError, StunMessage, parse

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not available(), reason="needs root, iproute2 and iptables"),
]

STUN = [{"urls": ["stun:198.51.100.1:3478"]}]
# coturn in "pub" (another port than the little STUN server above).
TURN_PORT = 3479


class StunServer(asyncio.DatagramProtocol):
    """Answers Binding requests with the source address (RFC 8489 section 7.3.1)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse(data)
        except ParseError:
            return
        if msg.method != Method.BINDING or msg.message_class != MessageClass.REQUEST:
            return
        resp = StunMessage(Method.BINDING, MessageClass.SUCCESS, msg.transaction_id)
        resp.add(Attr.XOR_MAPPED_ADDRESS, (addr[0], addr[1]))
        self.transport.sendto(resp.encode(fingerprint=True), addr)


class Side:
    """One host: an IceTransport on its own event loop, in a thread living in namespace ``ns``.

    A socket belongs to the namespace of the thread that creates it, and the transport makes
    sockets lazily (ICE-TCP connections, TURN allocations), so the whole transport runs in
    a thread that entered the host's namespace for good, like a process on that host would.
    """

    def __init__(
        self,
        lab: NatLab,
        ns: str,
        address: str,
        controlling: bool,
        ice_servers: list[dict[str, Any]] | None = None,
        tcp: bool = False,
    ) -> None:
        self.lab, self.ns = lab, ns
        self.candidates: list[Candidate | None] = []
        self.data: list[bytes] = []
        self.peer: Side | None = None
        # Short check timeouts keep the failing scenario quick (about 3 s per pair).
        agent = IceAgent(controlling, check_rto_max=0.5, check_max_sends=6)
        self.ice = IceTransport(
            controlling,
            ice_servers=ice_servers,
            addresses=[InterfaceAddress("lan", address, 4, False, False)],
            on_candidate=self._on_candidate,
            on_data=self.data.append,
            stun_timeout=1.0,
            agent=agent,
            tcp=tcp,
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=f"natlab-{ns}", daemon=True)
        self._entered = threading.Event()
        self._error: BaseException | None = None
        self._thread.start()
        self._entered.wait(10)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            ctx = self.lab.inside(self.ns)
            ctx.__enter__()
        except BaseException as exc:
            self._error = exc
            self._entered.set()
            return
        self._entered.set()
        try:
            asyncio.set_event_loop(self.loop)
            self.loop.run_forever()
        finally:
            self.loop.close()
            ctx.__exit__(None, None, None)

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` (awaited if it returns a coroutine) on this side's loop."""

        async def run() -> Any:
            res = fn()
            if asyncio.iscoroutine(res):
                res = await res
            return res

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def _on_candidate(self, cand: Candidate | None) -> None:
        self.candidates.append(cand)
        if self.peer is not None:
            self.peer.post(self.peer.ice.add_remote_candidate, cand)

    async def gather(self) -> None:
        await self.call(self.ice.gather)

    async def connect(self) -> None:
        await self.call(self.ice.connect)

    def send(self, data: bytes) -> None:
        self.post(self.ice.send, data)

    async def close(self) -> None:
        if self._thread.is_alive():
            try:
                await asyncio.wait_for(self.call(self.ice.close), 5.0)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                await asyncio.to_thread(self._thread.join, 5.0)


@contextlib.asynccontextmanager
async def _lab(
    nat_a: str,
    nat_b: str,
    ice_servers: list[dict[str, Any]] | None = STUN,
    block_udp: str = "",
    tcp: bool = False,
    turn: str = "",
) -> AsyncIterator[tuple[NatLab, Side, Side]]:
    """The lab with a STUN server in "pub" and one transport per host; always torn down."""
    lab = NatLab(nat_a, nat_b, block_udp)
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        lab.up()
        loop = asyncio.get_running_loop()
        with lab.inside("pub"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("198.51.100.1", 3478))
        server, _ = await loop.create_datagram_endpoint(StunServer, sock=sock)

        async def close_server() -> None:
            server.close()

        closers.append(close_server)
        if turn:
            coturn = Coturn("198.51.100.1", netns=lab.ns["pub"], port=TURN_PORT)

            async def stop_coturn() -> None:
                coturn.stop()

            closers.append(stop_coturn)
            await asyncio.to_thread(coturn.start)
            ice_servers = [*(ice_servers or []), coturn.ice_server(turn)]
        a = Side(lab, "hA", "10.0.1.2", True, ice_servers, tcp)
        closers.append(a.close)
        b = Side(lab, "hB", "10.0.2.2", False, ice_servers, tcp)
        closers.append(b.close)
        a.peer, b.peer = b, a
        await a.call(lambda: a.ice.set_remote_credentials(b.ice.local_ufrag, b.ice.local_pwd))
        await b.call(lambda: b.ice.set_remote_credentials(a.ice.local_ufrag, a.ice.local_pwd))
        yield lab, a, b
    finally:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                await close()
        lab.down()


async def _exchange_data(a: Side, b: Side) -> None:
    for i in range(20):
        a.send(b"\x17a%d" % i)
        b.send(b"\x17b%d" % i)
    for _ in range(100):
        if len(a.data) == 20 and len(b.data) == 20:
            break
        await asyncio.sleep(0.01)
    assert b.data == [b"\x17a%d" % i for i in range(20)]
    assert a.data == [b"\x17b%d" % i for i in range(20)]


async def _both_fail(a: Side, b: Side) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(a.connect(), b.connect(), return_exceptions=True), 20.0
    )
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    assert a.ice.state is IceState.FAILED and b.ice.state is IceState.FAILED


def _types(side: Side) -> list[tuple[str, str]]:
    return [(c.type, c.host) for c in side.candidates if c is not None]


async def test_both_behind_endpoint_independent_nat() -> None:
    async with _lab("eim", "eim") as (_, a, b):
        await a.gather()
        await b.gather()
        assert _types(a) == [("host", "10.0.1.2"), ("srflx", "198.51.100.2")]
        assert _types(b) == [("host", "10.0.2.2"), ("srflx", "203.0.113.2")]
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10.0)
        pa = a.ice.get_selected_pair()
        pb = b.ice.get_selected_pair()
        assert pa is not None and pb is not None
        assert pa[0].host == "10.0.1.2" and pa[1].host == "203.0.113.2"
        assert pb[0].host == "10.0.2.2" and pb[1].host == "198.51.100.2"
        await _exchange_data(a, b)


async def test_symmetric_nat_to_public_host_uses_prflx() -> None:
    async with _lab("symmetric", "none") as (_, a, b):
        await a.gather()
        await b.gather()
        # B's STUN mapping equals its host address: no redundant srflx (RFC 8445 5.1.3).
        assert _types(b) == [("host", "10.0.2.2")]
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10.0)
        pb = b.ice.get_selected_pair()
        assert pb is not None
        # B (public) only reaches A at the port A's checks came from: a prflx candidate.
        assert pb[1].type == "prflx" and pb[1].host == "198.51.100.2"
        await _exchange_data(a, b)


async def test_both_symmetric_fails_without_relay() -> None:
    async with _lab("symmetric", "symmetric") as (_, a, b):
        await a.gather()
        await b.gather()
        await _both_fail(a, b)


async def test_no_servers_across_nats_fails_in_bounded_time() -> None:
    async with _lab("eim", "eim", ice_servers=None) as (_, a, b):
        await a.gather()
        await b.gather()
        assert _types(a) == [("host", "10.0.1.2")]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await _both_fail(a, b)
        # One pair, six sends capped at 0.5 s apart: failed after about 3 s.
        assert loop.time() - t0 < 8.0  # slack for a loaded CI machine


async def test_udp_blocking_firewall_connects_over_ice_tcp() -> None:
    # A sits behind a NAT whose router forwards no UDP; B is a public host. A's active TCP
    # candidate reaches B's passive one (RFC 6544), so they still connect.
    async with _lab("eim", "none", block_udp="A", tcp=True) as (_, a, b):
        await a.gather()
        await b.gather()
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10.0)
        pa, pb = a.ice.get_selected_pair(), b.ice.get_selected_pair()
        assert pa is not None and pb is not None
        assert (pa[0].transport, pa[0].tcptype) == ("tcp", "active")
        assert (pb[0].transport, pb[0].tcptype) == ("tcp", "passive")
        assert pb[1].host == "198.51.100.2"  # A's connection arrives from its NAT
        await _exchange_data(a, b)


@pytest.mark.skipif(not coturn_available(), reason="coturn is not installed")
@pytest.mark.parametrize("turn", ["udp", "tcp"])
async def test_both_symmetric_connect_through_turn(turn: str) -> None:
    async with _lab("symmetric", "symmetric", turn=turn) as (_, a, b):
        await a.gather()
        await b.gather()
        assert ("relay", "198.51.100.1") in _types(a)
        assert ("relay", "198.51.100.1") in _types(b)
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 15.0)
        pa, pb = a.ice.get_selected_pair(), b.ice.get_selected_pair()
        assert pa is not None and pb is not None
        # Symmetric mappings defeat every direct pair: the path runs through the relay.
        assert "relay" in (pa[0].type, pa[1].type)
        assert "relay" in (pb[0].type, pb[1].type)
        await _exchange_data(a, b)


def _run_in(lab: NatLab, ns: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``fn()`` on a fresh event loop in a thread inside namespace ``ns``."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def main() -> None:
        try:
            with lab.inside(ns):
                result.append(asyncio.run(fn()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(20)
    if errors:
        raise errors[0]
    return result[0]


async def test_mdns_publish_and_resolve_over_real_multicast() -> None:
    # RFC 8828 names over real multicast DNS (224.0.0.251:5353) on a LAN of the lab: one
    # transport publishes its host candidate under a .local name, another resolves it.
    lab = NatLab("eim", "eim")
    try:
        lab.up()

        async def scenario() -> tuple[str, str | None, str | None]:
            publisher = IceTransport(
                True,
                addresses=[InterfaceAddress("lan", "10.0.1.2", 4, False, False)],
                mdns_publish=True,
            )
            await publisher.gather()
            name = publisher.local_candidates[0].host
            got = await resolve(name, timeout=2.0)
            unknown = await resolve("00000000-0000-0000-0000-000000000000.local", timeout=0.3)
            await publisher.close()
            return name, got, unknown

        name, got, unknown = await asyncio.to_thread(_run_in, lab, "hA", scenario)
        assert name.endswith(".local") and got == "10.0.1.2" and unknown is None
    finally:
        lab.down()
