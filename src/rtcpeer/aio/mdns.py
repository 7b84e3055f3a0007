"""Resolve the ``.local`` names of browser ICE candidates over multicast DNS.

A one-shot querier (RFC 6762 section 5.1) using legacy unicast (section 6.7): the query goes
from an ephemeral port to 224.0.0.251:5353 (and ff02::fb for AAAA on IPv6 hosts), the
responder answers by unicast to that port. The codec lives in :mod:`rtcpeer.ice.mdns`.
Resolution is bounded by a timeout; an unresolvable name yields ``None`` and the caller drops
the candidate (RFC 8828 section 5.1 behaviour of a browser without the peer's mDNS).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable

from rtcpeer.ice.mdns import (
    MDNS_GROUP_V4,
    MDNS_PORT,
    TYPE_A,
    TYPE_AAAA,
    MdnsParseError,
    encode_query,
    parse_answers,
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
