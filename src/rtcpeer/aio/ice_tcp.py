"""ICE-TCP (RFC 6544) for the asyncio ICE transport: listeners, connections, RFC 4571 framing.

Per local address the transport offers a passive candidate (a listening socket; the peer
connects to it) and an active candidate (port 9, RFC 6544 section 4.5: we connect out when the
agent first sends a check to a remote passive candidate). Every packet on a connection is
framed with a 16-bit length (RFC 4571, :mod:`rtcpeer.ice.tcpframing`). The agent addresses a
connection by (local key, remote address), exactly like a UDP socket and a remote address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rtcpeer.ice.candidate import normalize_host
from rtcpeer.ice.tcpframing import MAX_FRAME, Deframer, frame

logger = logging.getLogger(__name__)

Address = tuple[str, int]
Deliver = Callable[[bytes, int, Address], None]

# Accepted ICE-TCP connections per passive candidate: bounds what a flood of connects costs.
MAX_CONNECTIONS = 32
# Packets held per connection while it is being opened (the agent retransmits anyway).
_MAX_QUEUED = 16
CONNECT_TIMEOUT = 5.0


class _Conn(asyncio.Protocol):
    """One ICE-TCP connection carrying RFC 4571 framed packets."""

    def __init__(self, owner: IceTcp, key: int, remote: Address | None) -> None:
        self.owner = owner
        self.key = key
        self.remote = remote  # known up front for active (outgoing) connections
        self.transport: asyncio.Transport | None = None
        self.deframer = Deframer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.remote is None:
            peer = transport.get_extra_info("peername")
            self.remote = (normalize_host(str(peer[0])), int(peer[1]))
            if not self.owner._register(self):
                transport.close()

    def data_received(self, data: bytes) -> None:
        remote = self.remote
        if remote is None:
            return
        deliver = self.owner.deliver
        for packet in self.deframer.feed(data):
            deliver(packet, self.key, remote)

    def send(self, data: bytes | bytearray | memoryview) -> None:
        if self.transport is not None and len(data) <= MAX_FRAME:
            self.transport.write(frame(data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.owner._unregister(self)


class IceTcp:
    """The ICE-TCP sockets of one transport; ``deliver(packet, key, remote)`` gets every
    packet received (the transport tells STUN from application data)."""

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self._servers: dict[int, asyncio.Server] = {}
        self._active: dict[int, str] = {}  # active candidate key -> local address
        self._conns: dict[tuple[int, Address], _Conn] = {}
        self._connecting: dict[tuple[int, Address], list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def owns(self, key: int) -> bool:
        return key in self._servers or key in self._active

    async def listen(self, address: str, passive_key: int) -> int | None:
        """Listen for the passive candidate on ``address``; returns the port (None: failed)."""
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: _Conn(self, passive_key, None), host=address, port=0
            )
        except OSError as exc:
            logger.debug("cannot listen on %s: %s", address, exc)
            return None
        self._servers[passive_key] = server
        return int(server.sockets[0].getsockname()[1])

    def add_active(self, address: str, active_key: int) -> None:
        """Connections for the active candidate ``active_key`` are made from ``address``."""
        self._active[active_key] = address

    def _register(self, conn: _Conn) -> bool:
        assert conn.remote is not None
        if self._closed or sum(1 for k, _ in self._conns if k == conn.key) >= MAX_CONNECTIONS:
            return False
        self._conns[(conn.key, conn.remote)] = conn
        return True

    def _unregister(self, conn: _Conn) -> None:
        if conn.remote is not None and self._conns.get((conn.key, conn.remote)) is conn:
            del self._conns[(conn.key, conn.remote)]

    def send(self, key: int, data: bytes | bytearray | memoryview, addr: Address) -> None:
        """Send on the connection (key, addr); an active key connects first if needed."""
        conn = self._conns.get((key, addr))
        if conn is not None:
            conn.send(data)
            return
        local = self._active.get(key)
        if local is None or self._closed:
            return  # passive side: only the peer can open the connection
        queued = self._connecting.get((key, addr))
        if queued is not None:
            if len(queued) < _MAX_QUEUED:
                queued.append(bytes(data))
            return
        self._connecting[(key, addr)] = [bytes(data)]
        task = asyncio.get_running_loop().create_task(self._connect(key, local, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sender(self, key: int, addr: Address) -> Callable[[bytes | bytearray | memoryview], None]:
        conns = self._conns

        def send_tcp(data: bytes | bytearray | memoryview) -> None:
            conn = conns.get((key, addr))
            if conn is not None:
                conn.send(data)

        return send_tcp

    async def _connect(self, key: int, local: str, addr: Address) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Conn(self, key, addr),
                    host=addr[0],
                    port=addr[1],
                    local_addr=(local, 0),
                ),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            logger.debug("ICE-TCP connect to %s failed: %s", addr, exc)
            self._connecting.pop((key, addr), None)
            return
        queued = self._connecting.pop((key, addr), [])
        if self._closed:
            if conn.transport is not None:
                conn.transport.close()
            return
        self._conns[(key, addr)] = conn
        for data in queued:
            conn.send(data)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self._conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        for server in self._servers.values():
            server.close()
