"""asyncio shell around :class:`rtcpeer.turnserver.core.TurnServerCore`: a UDP listener, a
TCP listener (RFC 8656 section 3.1 framing via :class:`rtcpeer.stun.channeldata.StreamFramer`)
and one non-blocking UDP relay socket per allocation (read with ``loop.add_reader``).

    server = TurnServer("rtcpeer", users={"user": "pass"}, listen=("127.0.0.1", 0))
    await server.start()
    server.udp_address, server.tcp_address      # the bound listening addresses
    ...
    await server.close()

``await run_turn_server(...)`` runs one until cancelled (used by ``rtcpeer turn``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Hashable
from typing import Any, cast

from rtcpeer.stun import ParseError
from rtcpeer.stun.channeldata import StreamFramer
from rtcpeer.turnserver.core import Address, TurnServerCore

__all__ = ["TurnServer", "run_turn_server"]

logger = logging.getLogger(__name__)


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, server: TurnServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        server = self.server
        server.core.receive_client(data, "udp", (addr[0], addr[1]), server._now())
        server._pump()


class _TcpConnection(asyncio.Protocol):
    def __init__(self, server: TurnServer) -> None:
        self.server = server
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.addr: Address = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.addr = (peer[0], peer[1])
        self.server._tcp_conns[self] = transport

    def data_received(self, data: bytes) -> None:
        server = self.server
        try:
            messages = self.framer.feed(data)
        except ParseError:
            logger.debug("closing TCP TURN connection from %s: bad framing", self.addr)
            if self.transport is not None:
                self.transport.close()
            return
        now = server._now()
        for msg in messages:
            server.core.receive_client(msg, self, self.addr, now, stream=True)
        server._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server._tcp_conns.pop(self, None)
        server.core.close_connection(self)
        server._pump()


class TurnServer:
    """Embedded STUN/TURN server for development and tests (UDP and TCP, UDP relays)."""

    def __init__(
        self,
        realm: str = "rtcpeer",
        users: dict[str, str] | None = None,
        auth_secret: str | None = None,
        listen: Address = ("127.0.0.1", 3478),
        relay_address: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        udp: bool = True,
        tcp: bool = True,
        max_allocations: int = 100,
        max_allocations_per_user: int = 10,
        max_permissions: int = 128,
        software: str | None = "rtcpeer-turn",
        relay_port_range: tuple[int, int] | None = None,
    ) -> None:
        # host=/port= are the CLI's spelling of listen=(host, port).
        self.listen = (
            host if host is not None else listen[0],
            port if port is not None else listen[1],
        )
        if relay_address is None:
            relay_address = _default_relay_address(self.listen[0])
        self.relay_address = relay_address
        self.enable_udp = udp
        self.enable_tcp = tcp
        self.relay_port_range = relay_port_range
        self._next_port = relay_port_range[0] if relay_port_range else 0
        self.core = TurnServerCore(
            realm,
            users=users,
            auth_secret=auth_secret,
            relay_factory=self._open_relay,
            software=software,
            max_allocations=max_allocations,
            max_allocations_per_user=max_allocations_per_user,
            max_permissions=max_permissions,
            clock_offset=time.time() - time.monotonic(),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tcp_conns: dict[_TcpConnection, asyncio.Transport] = {}
        self._relays: dict[int, socket.socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.udp_address: Address | None = None
        self.tcp_address: Address | None = None

    @property
    def realm(self) -> str:
        return self.core.realm

    @property
    def port(self) -> int | None:
        """The bound listening port (UDP, else TCP)."""
        bound = self.udp_address or self.tcp_address
        return bound[1] if bound is not None else None

    def _now(self) -> float:
        return time.monotonic()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        # An ephemeral port: the same number for UDP and TCP when possible (as with a fixed
        # port). A port free for UDP may be taken for TCP: try a few fresh ones first.
        for _ in range(8 if not self.listen[1] and self.enable_udp and self.enable_tcp else 0):
            await self._bind(loop, same_port_only=True)
            if self._tcp_server is not None:
                break
            if self._udp is not None:
                self._udp.close()
                self._udp = None
                self.udp_address = None
        if self._tcp_server is None:
            await self._bind(loop, same_port_only=False)
        logger.info(
            "TURN server on udp %s tcp %s realm %r", self.udp_address, self.tcp_address, self.realm
        )

    async def _bind(self, loop: asyncio.AbstractEventLoop, same_port_only: bool) -> None:
        host, port = self.listen
        if self.enable_udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpListener(self), local_addr=(host, port)
            )
            self._udp = transport
            sockname = transport.get_extra_info("sockname")
            self.udp_address = (sockname[0], sockname[1])
            # Same port for TCP when we picked an ephemeral one for UDP.
            port = port or sockname[1]
        if self.enable_tcp:
            try:
                self._tcp_server = await loop.create_server(
                    lambda: _TcpConnection(self), host, port
                )
            except OSError:
                if same_port_only:
                    return
                if not self.listen[1]:
                    self._tcp_server = await loop.create_server(
                        lambda: _TcpConnection(self), host, 0
                    )
                else:
                    raise
            sockname = self._tcp_server.sockets[0].getsockname()
            self.tcp_address = (sockname[0], sockname[1])

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.core.close()
        for fd in list(self._relays):
            self._close_relay(fd)
        self.core.closed_relays()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for transport in list(self._tcp_conns.values()):
            transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            with contextlib.suppress(Exception):
                await self._tcp_server.wait_closed()
            self._tcp_server = None

    async def __aenter__(self) -> TurnServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ relays

    def _open_relay(self, family: int) -> tuple[Address, Hashable] | None:
        v6 = ":" in self.relay_address
        if (family == 2) != v6:
            return None
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            self._bind_relay(sock)
        except OSError:
            sock.close()
            return None
        assert self._loop is not None
        fd = sock.fileno()
        self._relays[fd] = sock
        self._loop.add_reader(fd, self._relay_readable, fd)
        name = sock.getsockname()
        return (name[0], name[1]), fd

    def _bind_relay(self, sock: socket.socket) -> None:
        if self.relay_port_range is None:
            sock.bind((self.relay_address, 0))
            return
        low, high = self.relay_port_range
        for _ in range(high - low + 1):
            port = self._next_port
            self._next_port = port + 1 if port < high else low
            try:
                sock.bind((self.relay_address, port))
                return
            except OSError:
                continue
        raise OSError("no free relay port")

    def _close_relay(self, handle: Hashable) -> None:
        assert isinstance(handle, int)
        sock = self._relays.pop(handle, None)
        if sock is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(handle)
        sock.close()

    def _relay_readable(self, fd: int) -> None:
        sock = self._relays.get(fd)
        if sock is None:
            return
        core = self.core
        now = self._now()
        for _ in range(64):  # bounded batch so one busy relay cannot starve the loop
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            core.receive_peer(data, fd, (addr[0], addr[1]), now)
        self._pump()

    # ------------------------------------------------------------------ output

    def _pump(self) -> None:
        core = self.core
        for data, conn, addr in core.to_clients():
            if conn == "udp":
                if self._udp is not None:
                    self._udp.sendto(data, addr)
            else:
                transport = self._tcp_conns.get(conn)  # type: ignore[call-overload]
                if transport is not None:
                    transport.write(data)
        relays = self._relays
        for data, relay, peer in core.to_peers():
            sock = relays.get(relay)  # type: ignore[call-overload]
            if sock is not None:
                try:
                    sock.sendto(data, peer)
                except OSError as exc:  # unreachable peer, full buffer: UDP drops
                    logger.debug("relay send to %s failed: %s", peer, exc)
        for handle in core.closed_relays():
            self._close_relay(handle)
        self._arm_timer()

    def _arm_timer(self) -> None:
        when = self.core.next_timeout()
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None and self._loop is not None:
            delay = max(0.0, when - self._now())
            self._timer = self._loop.call_later(delay + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.timeout(self._now())
        self._pump()


def _default_relay_address(listen_host: str) -> str:
    """The listening address, or for a wildcard listener the address of the interface with
    the default route (a routing lookup: no packet is sent)."""
    if listen_host not in ("0.0.0.0", "::", ""):
        return listen_host
    v6 = listen_host == "::"
    try:
        with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("2001:db8::1", 9) if v6 else ("192.0.2.1", 9))
            address: str = s.getsockname()[0]
            return address
    except OSError:
        return "::1" if v6 else "127.0.0.1"


async def run_turn_server(
    realm: str = "rtcpeer",
    users: dict[str, str] | None = None,
    auth_secret: str | None = None,
    listen: Address = ("0.0.0.0", 3478),
    relay_address: str | None = None,
    **kwargs: Any,
) -> None:
    """Run a TURN server until cancelled (the ``rtcpeer turn`` command)."""
    server = TurnServer(realm, users, auth_secret, listen, relay_address, **kwargs)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
