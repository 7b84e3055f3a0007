"""Resolve the ``.local`` names of browser ICE candidates over multicast DNS, and publish ours.

- :func:`resolve`: a one-shot querier (RFC 6762 section 5.1) using legacy unicast (section
  6.7): the query goes from an ephemeral port to 224.0.0.251:5353 and the responder answers by
  unicast to that port. Resolution is bounded by a timeout; an unresolvable name yields
  ``None`` and the caller drops the candidate (RFC 8828 section 5.1 behaviour of a browser
  without the peer's mDNS).
- :class:`MdnsResponder`: answers A/AAAA queries for random ``<uuid>.local`` names standing for
  our host addresses (RFC 8828 section 5.1, as browsers publish theirs): multicast queries
  from port 5353 get a multicast answer, legacy unicast queries a unicast answer echoing the
  query id with a short TTL (RFC 6762 section 6.7).

The codec lives in :mod:`rtcpeer.ice.mdns`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable

from rtcpeer.ice.mdns import (
    MDNS_GROUP_V4,
    MDNS_PORT,
    TYPE_A,
    TYPE_AAAA,
    MdnsParseError,
    encode_query,
    encode_response,
    parse_answers,
    parse_query,
)

logger = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[str | None]]


class _QueryProtocol(asyncio.DatagramProtocol):
    def __init__(self, name: str, query_id: int, done: asyncio.Future[str | None]) -> None:
        self.name = name.lower().rstrip(".")
        self.query_id = query_id
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            _, answers = parse_answers(data)
        except MdnsParseError:
            return
        for name, rtype, address in answers:
            if name == self.name and rtype in (TYPE_A, TYPE_AAAA) and not self.done.done():
                self.done.set_result(address)
                return

    def error_received(self, exc: Exception) -> None:
        logger.debug("mDNS query socket error: %s", exc)


async def resolve(
    name: str,
    timeout: float = 3.0,
    group: tuple[str, int] = (MDNS_GROUP_V4, MDNS_PORT),
    retransmit: float = 0.5,
) -> str | None:
    """Resolve ``name`` (a ``.local`` host) to an IP address, or None on timeout/failure."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str | None] = loop.create_future()
    query_id = secrets.randbits(16)
    try:
        query = encode_query(name, query_id, (TYPE_A, TYPE_AAAA))
    except ValueError:
        return None
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        sock.bind(("0.0.0.0", 0))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _QueryProtocol(name, query_id, done), sock=sock
        )
    except OSError as exc:
        logger.debug("mDNS unavailable: %s", exc)
        return None
    # Some responders (Firefox's) ignore legacy unicast and answer by multicast to port 5353:
    # listen there too, sharing the port with any system responder.
    listener = await _multicast_listener(loop, group, lambda: _QueryProtocol(name, query_id, done))
    try:
        deadline = loop.time() + timeout
        while not done.done():
            try:
                transport.sendto(query, group)
            except OSError as exc:
                logger.debug("mDNS send failed: %s", exc)
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                return await asyncio.wait_for(asyncio.shield(done), min(retransmit, remaining))
            except TimeoutError:
                retransmit *= 2
        return done.result()
    finally:
        transport.close()
        if listener is not None:
            listener.close()


async def _multicast_listener(
    loop: asyncio.AbstractEventLoop,
    group: tuple[str, int],
    factory: Callable[[], asyncio.DatagramProtocol],
) -> asyncio.DatagramTransport | None:
    """A socket on the group's port joined to the group, or None where that is not possible."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("0.0.0.0", group[1]))
        mreq = socket.inet_aton(group[0]) + socket.inet_aton("0.0.0.0")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        transport, _ = await loop.create_datagram_endpoint(factory, sock=sock)
    except OSError as exc:
        sock.close()
        logger.debug("mDNS multicast listener unavailable: %s", exc)
        return None
    return transport


_TYPE_ANY = 255


class _ResponderProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: MdnsResponder) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            qid, questions = parse_query(data)
        except MdnsParseError:
            return
        names = self.owner._names
        for name, qtype in questions:
            address = names.get(name)
            if address is None:
                continue
            family_type = TYPE_AAAA if ":" in address else TYPE_A
            if qtype not in (family_type, _TYPE_ANY):
                continue
            self.owner._answer(qid, name, address, (str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        logger.debug("mDNS responder socket error: %s", exc)


class MdnsResponder:
    """Publishes host addresses under random ``.local`` names (see the module docstring).

    ``port``/``group`` are for tests (a responder on an ephemeral loopback port); by default it
    joins 224.0.0.251:5353, sharing the port with any system responder (SO_REUSEPORT).
    """

    def __init__(
        self, port: int = MDNS_PORT, group: str = MDNS_GROUP_V4, bind_host: str = "0.0.0.0"
    ) -> None:
        self.port = port
        self.group = group
        self.bind_host = bind_host
        self._names: dict[str, str] = {}
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound (host, port), once started."""
        if self._transport is None:
            return None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return (str(host), int(port))

    def publish(self, address: str) -> str:
        """A fresh random name that will resolve to ``address`` (one per address)."""
        for name, known in self._names.items():
            if known == address:
                return name
        name = f"{uuid.uuid4()}.local"
        self._names[name] = address
        return name

    async def start(self) -> bool:
        """Bind and join the group; False (logged) when this host cannot do multicast DNS."""
        if self._transport is not None:
            return True
        loop = asyncio.get_running_loop()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.bind_host, self.port))
        except OSError as exc:
            logger.debug("mDNS responder cannot bind: %s", exc)
            return False
        try:
            mreq = socket.inet_aton(self.group) + socket.inet_aton("0.0.0.0")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        except OSError as exc:
            # No multicast route: legacy unicast queries sent to us still get answers.
            logger.debug("mDNS responder cannot join %s: %s", self.group, exc)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _ResponderProtocol(self), sock=sock
        )
        self._transport = transport
        return True

    def _answer(self, qid: int, name: str, address: str, source: tuple[str, int]) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            if source[1] != MDNS_PORT:
                # Legacy unicast (RFC 6762 section 6.7): to the querier, its id, TTL <= 10 s.
                transport.sendto(encode_response(qid, name, address, ttl=10), source)
            else:
                transport.sendto(encode_response(0, name, address), (self.group, MDNS_PORT))
        except OSError as exc:
            logger.debug("mDNS answer to %s failed: %s", source, exc)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
