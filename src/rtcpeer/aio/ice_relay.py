"""TURN relayed candidates for the asyncio ICE transport.

One :class:`Relay` is one TURN allocation (RFC 8656) made from one local interface address to
one ``turn:``/``turns:`` server, over UDP, TCP (``?transport=tcp``) or TLS (``turns:``,
RFC 8656 section 3.1 and RFC 7065). The allocation's protocol work (401 -> realm/nonce ->
authenticated Allocate, refreshes, permissions, channel bindings, Send/Data indications and
ChannelData) is the sans-I/O :class:`rtcpeer.stun.turn_client.TurnClient`; this module only
owns the socket or stream to the server and feeds the core.

On streams, STUN and ChannelData messages follow each other unframed (RFC 8656 section 12.5);
the client core splits (``receive_stream``) and pads them.

The ICE transport names the relayed candidate to the agent with the relay's ``key``; the
agent's datagrams for that key go through :meth:`Relay.send`, and whatever the server relays
from a peer comes back through the ``on_packet(data, peer)`` callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

from rtcpeer.ice.gather import ServerUrl
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun.turn_client import (
    AllocationFailed,
    AllocationLost,
    AllocationRefreshed,
    AllocationSucceeded,
    TurnClient,
)

logger = logging.getLogger(__name__)

Address = tuple[str, int]


class RelayError(Exception):
    """The allocation failed: ``code`` and ``text`` as for the W3C icecandidateerror event."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class _UdpReader:
    __slots__ = ("relay", "sock")

    def __init__(self, relay: Relay, sock: socket.socket) -> None:
        self.relay = relay
        self.sock = sock

    def ready(self) -> None:
        relay = self.relay
        recv = self.sock.recvfrom
        server = relay.server_addr
        for _ in range(64):
            try:
                data, addr = recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("TURN socket error: %s", exc)
                continue
            if (addr[0], addr[1]) != server:
                continue  # only the server talks to the allocation's socket
            try:
                relay.feed(data, False)
            except Exception:
                logger.exception("TURN relay: error handling a datagram")


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.relay.feed(data, True)
        except Exception:
            logger.exception("TURN relay: error handling stream data")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.relay.connection_lost()


class Relay:
    """One TURN allocation used as a relayed local candidate."""

    def __init__(
        self,
        key: int,
        server: ServerUrl,
        server_addr: Address,
        local_host: str,
        family: int,
        time: Callable[[], float],
        on_packet: Callable[[bytes, Address], None],
        on_change: Callable[[], None],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.key = key
        self.server = server
        self.server_addr = server_addr
        self.local_host = local_host
        self.family = family
        self.secure = server.scheme == "turns"
        self.transport = "tcp" if self.secure or server.transport == "tcp" else "udp"
        self._time = time
        self._on_packet = on_packet
        self._on_change = on_change
        self._ssl_context = ssl_context
        self.client = TurnClient(
            server_addr,
            server.username or "",
            server.credential or "",
            transport="tls" if self.secure else "tcp" if self.transport == "tcp" else "udp",
        )
        self.relayed: Address | None = None
        self.mapped: Address | None = None
        self.open = False
        self._sock: socket.socket | None = None
        self._stream: _StreamProtocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._result: asyncio.Future[None] | None = None
        # The relayed candidate as signalled (set by the ICE transport).
        self.candidate: Candidate | None = None
        self._check: asyncio.Future[bool] | None = None

    # ------------------------------------------------------------------ life cycle

    async def allocate(self, timeout: float) -> tuple[Address, Address | None]:
        """Connect to the server and allocate; raises RelayError (701 for no answer)."""
        loop = self._loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        try:
            await asyncio.wait_for(self._connect(), timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.close()
            raise RelayError(701, f"cannot reach TURN server: {exc or 'timeout'}") from None
        self.open = True
        self.client.start(self._time())
        self.flush()
        try:
            await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except TimeoutError:
            self.close()
            raise RelayError(701, "TURN allocate request timed out") from None
        except RelayError:
            self.close()
            raise
        assert self.relayed is not None
        return self.relayed, self.mapped

    async def check(self, timeout: float) -> bool | None:
        """Refresh the allocation now (an ICE restart): True when the server still knows it,
        False when it is lost (e.g. 437 Allocation Mismatch after a NAT rebinding gave us a
        new 5-tuple, or the connection to the server closed), None without an answer within
        ``timeout`` seconds."""
        if not self.open or self.client.state != "allocated":
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._check = fut
        state = self.client.state
        now = self._time()
        self.client.refresh(now)
        self._after()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            if self.client.state != state or not self.open:
                return False
            # Still waiting for the answer: unknown. An error answer other than 437 (the
            # client then retries later, without an event) means the server lost us.
            return None if self.client.refresh_pending else False
        finally:
            self._check = None

    async def _connect(self) -> None:
        loop = self._loop
        assert loop is not None
        family = socket.AF_INET6 if self.family == 6 else socket.AF_INET
        if self.transport == "udp":
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                # Big buffers and no fragmentation, as the host sockets (an oversized send
                # fails with EMSGSIZE and is dropped below). Imported here: ice imports us.
                from rtcpeer.aio.ice import tune_udp_socket

                tune_udp_socket(sock, self.family)
                sock.bind((self.local_host, 0))
            except OSError:
                sock.close()
                raise
            self._sock = sock
            loop.add_reader(sock.fileno(), _UdpReader(self, sock).ready)
            return
        ctx: ssl.SSLContext | None = None
        if self.secure:
            ctx = self._ssl_context or ssl.create_default_context()
        _, proto = await loop.create_connection(
            lambda: _StreamProtocol(self),
            host=self.server_addr[0],
            port=self.server_addr[1],
            local_addr=(self.local_host, 0),
            ssl=ctx,
            server_hostname=self.server.host if ctx is not None else None,
        )
        self._stream = proto

    def close(self) -> None:
        """Deallocate (best effort, RFC 8656 section 7) and drop the connection."""
        if self.open:
            with contextlib.suppress(Exception):
                self.client.close(self._time())
                self.flush()
        self.open = False
        if self._sock is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._stream is not None:
            if self._stream.transport is not None:
                self._stream.transport.close()
            self._stream = None
        if self._result is not None and not self._result.done():
            self._result.set_exception(RelayError(701, "TURN allocation closed"))
            self._result.exception()  # retrieved: nobody may be waiting any more
        self._checked(False)

    def _checked(self, alive: bool) -> None:
        if self._check is not None and not self._check.done():
            self._check.set_result(alive)

    def connection_lost(self) -> None:
        self._stream = None
        if self.open:
            logger.debug("TURN connection to %s lost", self.server.display)
            self.open = False
            self._checked(False)
            self._on_change()

    # ------------------------------------------------------------------ data

    def feed(self, data: bytes, stream: bool) -> None:
        """Bytes from the server: relayed peer data goes to ``on_packet``, the rest to the core."""
        client = self.client
        now = self._time()
        got = client.receive_stream(data, now) if stream else client.receive(data, now)
        for peer, payload in got:
            self._on_packet(payload, (peer[0], peer[1]))
        self._after()

    def send(self, data: bytes | bytearray | memoryview, peer: Address) -> None:
        """Send to ``peer`` through the allocation (Send indication or ChannelData)."""
        if not self.open:
            return
        self.client.send(data, peer, self._time())
        self.flush()

    def permit(self, peer_host: str) -> None:
        """Install a permission so ``peer_host`` may reach us (its checks, RFC 8445 5.1.1.2)."""
        if self.open:
            self.client.create_permission(peer_host, self._time())
            self.flush()

    def next_timeout(self) -> float | None:
        return self.client.next_timeout() if self.open else None

    def timeout(self, now: float) -> None:
        if self.open:
            self.client.timeout(now)
            self._after()

    def flush(self) -> None:
        out = self.client.datagrams_to_send()
        if not out:
            return
        # A STUN request (class bits C1 C0 = 0 0) starts a transaction with a retransmission
        # timer: the owner must re-arm its single timer. Data (Send indications, ChannelData)
        # never does, so the data path pays one byte test per packet.
        if any(d[0] < 0x40 and not d[0] & 0x01 and not d[1] & 0x10 for d in out):
            self._on_change()
        if self._sock is not None:
            sendto = self._sock.sendto
            for data in out:
                try:
                    sendto(data, self.server_addr)
                except OSError as exc:
                    logger.debug("TURN send failed: %s", exc)
        elif self._stream is not None and self._stream.transport is not None:
            self._stream.transport.writelines(out)

    def _after(self) -> None:
        self.flush()
        for ev in self.client.events():
            if isinstance(ev, AllocationSucceeded):
                self.relayed = ev.relayed_address
                self.mapped = ev.mapped_address
                if self._result is not None and not self._result.done():
                    self._result.set_result(None)
            elif isinstance(ev, AllocationRefreshed):
                self._checked(True)
            elif isinstance(ev, AllocationFailed | AllocationLost):
                # Code 0 is a transaction timeout: W3C's 701 (server not reachable).
                err = RelayError(ev.code or 701, ev.reason)
                if self._result is not None and not self._result.done():
                    self._result.set_exception(err)
                elif self.open:
                    # A lost allocation (refresh failed): the candidate is dead.
                    self.open = False
                    self._checked(False)
                    self._on_change()
        if self._check is not None and not self.client.refresh_pending:
            # The forced refresh got an error answer other than 437 (the client just retries
            # later, without an event): the server no longer knows this 5-tuple.
            self._checked(False)
