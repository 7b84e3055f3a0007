"""A lossy UDP relay between rtcpeer and aiortc, for SCTP loss recovery between two stacks.

Each side is told only of the relay: the relay's socket ``a`` stands in for aiortc in what
rtcpeer sees, ``b`` for rtcpeer in what aiortc sees (the descriptions and trickled candidates
are rewritten by :func:`only_candidate`). Whatever reaches ``a`` leaves from ``b`` to aiortc's
real address, and back. STUN and the DTLS handshake pass untouched, so ICE and DTLS come up as
usual; DTLS application data records (content type 23, RFC 6347 section 4.1: SCTP packets)
are dropped, and a few delayed (reordered), by a seeded pattern.
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

Addr = tuple[str, int]

_APPLICATION_DATA = 23


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: LossyRelay, name: str) -> None:
        self.relay = relay
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.relay.received(self.name, data, addr)


class LossyRelay:
    def __init__(self, loss: float = 0.05, reorder: float = 0.02, seed: int = 7) -> None:
        self.loss = loss
        self.reorder = reorder
        self.rng = random.Random(seed)
        self.a = _Side(self, "a")  # rtcpeer talks to this one
        self.b = _Side(self, "b")  # aiortc talks to this one
        self.rtcpeer: Addr | None = None  # learned from what reaches ``a``
        self.aiortc: Addr | None = None  # from aiortc's description
        self.forwarded = 0
        self.largest = {"a": 0, "b": 0}  # largest datagram sent from each side
        self.dropped = 0
        self.delayed = 0

    async def start(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self.a, local_addr=(host, 0))
        await loop.create_datagram_endpoint(lambda: self.b, local_addr=(host, 0))

    def address(self, side: str) -> Addr:
        proto = self.a if side == "a" else self.b
        assert proto.transport is not None
        host, port = proto.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def received(self, side: str, data: bytes, addr: Addr) -> None:
        if side == "a":
            self.rtcpeer = addr
            out, to = self.b, self.aiortc
        else:
            out, to = self.a, self.rtcpeer
        if to is None or out.transport is None:
            return
        if len(data) > self.largest[out.name]:
            self.largest[out.name] = len(data)
        if data and data[0] == _APPLICATION_DATA:
            roll = self.rng.random()
            if roll < self.loss:
                self.dropped += 1
                return
            if roll < self.loss + self.reorder:
                self.delayed += 1
                transport = out.transport
                asyncio.get_running_loop().call_later(0.01, transport.sendto, data, to)
                return
        self.forwarded += 1
        out.transport.sendto(data, to)

    def close(self) -> None:
        for side in (self.a, self.b):
            if side.transport is not None:
                side.transport.close()


_CANDIDATE = re.compile(r"^a=candidate:.*$\r?\n?", re.MULTILINE)
_END = re.compile(r"^a=end-of-candidates\r?\n?", re.MULTILINE)


def ipv4_candidates(sdp: str) -> list[Addr]:
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if parts[2].lower() == "udp" and ":" not in parts[4]:
                out.append((parts[4], int(parts[5])))
    return out


def only_candidate(sdp: str, addr: Addr) -> str:
    """``sdp`` with its candidates replaced by one host candidate at ``addr``."""
    sdp = _END.sub("", _CANDIDATE.sub("", sdp))
    line = f"a=candidate:1 1 udp 2130706431 {addr[0]} {addr[1]} typ host\r\na=end-of-candidates\r\n"
    at = sdp.index("a=mid:")
    return sdp[:at] + line + sdp[at:]
