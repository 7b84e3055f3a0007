"""A small asyncio driver for the sans-I/O TurnClient, used by the TURN tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from rtcpeer.stun.turn_client import TurnClient, TurnEvent

Address = tuple[str, int]


class ClientDriver:
    """Runs one TurnClient over a real UDP socket or TCP connection."""

    def __init__(self, client: TurnClient) -> None:
        self.client = client
        self.events: list[TurnEvent] = []
        self.received: asyncio.Queue[tuple[Address, bytes]] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    async def start(self) -> None:
        client = self.client
        driver = self
        if client.transport == "udp":

            class Udp(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: Any) -> None:
                    driver._deliver(client.receive(data, driver.now()))

            transport, _ = await self.loop.create_datagram_endpoint(Udp, remote_addr=client.server)
            self._udp = cast(asyncio.DatagramTransport, transport)
        else:

            class Tcp(asyncio.Protocol):
                def data_received(self, data: bytes) -> None:
                    driver._deliver(client.receive_stream(data, driver.now()))

            transport2, _ = await self.loop.create_connection(Tcp, *client.server)
            self._tcp = transport2
        client.start(self.now())
        self.pump()

    def _deliver(self, items: list[tuple[Address, bytes]]) -> None:
        for item in items:
            self.received.put_nowait(item)
        self.pump()

    def pump(self) -> None:
        client = self.client
        for data in client.datagrams_to_send():
            if self._udp is not None:
                self._udp.sendto(data)
            elif self._tcp is not None:
                self._tcp.write(data)
        new = client.events()
        if new:
            self.events.extend(new)
            self._changed.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = client.next_timeout()
        if when is not None:
            self._timer = self.loop.call_later(max(0.0, when - self.now()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.client.timeout(self.now())
        self.pump()

    async def wait_for(self, kind: type, timeout: float = 5.0) -> Any:
        async def find() -> Any:
            while True:
                for ev in self.events:
                    if isinstance(ev, kind):
                        return ev
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    def send(self, data: bytes, peer: Address) -> bool:
        ok = self.client.send(data, peer, self.now())
        self.pump()
        return ok

    async def close(self) -> None:
        self.client.close(self.now())
        self.pump()
        if self.client.state != "closed":
            try:
                await asyncio.wait_for(self._closed(), 2.0)
            except TimeoutError:
                pass
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()

    async def _closed(self) -> None:
        while self.client.state != "closed":
            self._changed.clear()
            await self._changed.wait()


class PeerSocket(asyncio.DatagramProtocol):
    """A plain UDP socket standing for the remote peer."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Address]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, (addr[0], addr[1])))

    @property
    def address(self) -> Address:
        assert self.transport is not None
        name = self.transport.get_extra_info("sockname")
        return (name[0], name[1])

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> PeerSocket:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return proto

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
