"""The asyncio mDNS querier against a stand-in responder on loopback (RFC 6762 6.7)."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

from rtcpeer.aio.mdns import resolve
from rtcpeer.ice.mdns import encode_name, encode_response

NAME = "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8.local"


class Responder(asyncio.DatagramProtocol):
    """Answers by unicast to the querier's port, echoing the query id (legacy unicast)."""

    def __init__(self, answers: dict[str, str], drop_first: int = 0) -> None:
        self.answers = answers
        self.queries = 0
        self.drop_first = drop_first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        if self.queries <= self.drop_first:
            return  # lost: the querier must retransmit
        (qid,) = struct.unpack_from("!H", data, 0)
        for name, address in self.answers.items():
            if encode_name(name).lower() in data.lower():
                self.transport.sendto(encode_response(qid, name, address), addr)


async def _responder(answers: dict[str, str], drop_first: int = 0) -> tuple[Any, Responder, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: Responder(answers, drop_first), local_addr=("127.0.0.1", 0)
    )
    return transport, proto, transport.get_extra_info("sockname")[1]


async def test_resolve_answers_and_retransmits() -> None:
    transport, proto, port = await _responder({NAME: "192.0.2.7"}, drop_first=1)
    try:
        got = await resolve(NAME, timeout=2.0, group=("127.0.0.1", port), retransmit=0.05)
        assert got == "192.0.2.7"
        assert proto.queries == 2
        # Names are matched case-insensitively, as DNS does.
        got = await resolve(NAME.upper(), timeout=2.0, group=("127.0.0.1", port))
        assert got == "192.0.2.7"
    finally:
        transport.close()


async def test_resolve_unknown_name_times_out_to_none() -> None:
    transport, _, port = await _responder({NAME: "192.0.2.7"})
    try:
        t0 = time.perf_counter()
        got = await resolve("0000.local", timeout=0.3, group=("127.0.0.1", port), retransmit=0.05)
        assert got is None
        assert time.perf_counter() - t0 < 1.0
        assert await resolve("bad..name.local", timeout=0.3) is None
    finally:
        transport.close()
