"""Load test for the signaling server: many WebSocket clients, relayed without loss.

``run_load(url, clients=500, rooms=250)`` opens ``clients`` real WebSocket connections spread over
``rooms`` rooms, then every client sends ``messages`` JSON messages (one round every ``interval``
seconds) carrying a send timestamp; each
is relayed to the other peers of its room. The report counts what was expected and what arrived
(any loss or duplicate is a failure) and gives relay latency percentiles. The clients run in
this process; point ``url`` at a server in another process to keep the two apart
(``rtcpeer bench-signaling --url ...``), or leave it out to start one here.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class LoadReport:
    clients: int
    rooms: int
    expected: int
    received: int
    duplicates: int
    connect_seconds: float
    relay_seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def lost(self) -> int:
        return self.expected - (self.received - self.duplicates)

    def summary(self) -> str:
        return (
            f"{self.clients} clients in {self.rooms} rooms: connected in "
            f"{self.connect_seconds:.2f}s; {self.received}/{self.expected} messages relayed "
            f"({self.lost} lost, {self.duplicates} duplicated) in {self.relay_seconds:.2f}s; "
            f"latency p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms"
        )


def raise_fd_limit(needed: int) -> None:
    """Each client and its server side need a descriptor; lift the soft limit if we may."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def run_load(
    url: str,
    *,
    clients: int = 500,
    rooms: int = 250,
    messages: int = 10,
    interval: float = 0.02,
    token: str | None = None,
    timeout: float = 60.0,
    connect_concurrency: int = 200,
) -> LoadReport:
    """Connect, relay, measure; see the module docstring. ``url`` is the ``ws://.../ws`` URL."""
    raise_fd_limit(2 * clients + 256)
    per_room: dict[int, int] = {}
    for i in range(clients):
        per_room[i % rooms] = per_room.get(i % rooms, 0) + 1
    expected = sum(n * (n - 1) * messages for n in per_room.values())
    latencies: list[float] = []
    seen: set[tuple[str, int]] = set()
    duplicates = 0
    done = asyncio.Event()
    if expected == 0:
        done.set()
    connector = aiohttp.TCPConnector(limit=0)
    gate = asyncio.Semaphore(connect_concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def connect(i: int) -> aiohttp.ClientWebSocketResponse:
            params = {"room": f"load-{i % rooms}", "peer": f"c{i}"}
            if token:
                params["token"] = token
            async with gate:
                ws = await session.ws_connect(url, params=params, heartbeat=None)
                welcome = await ws.receive_json(timeout=timeout)
                if welcome.get("type") != "welcome":
                    raise RuntimeError(f"client {i} was refused: {welcome}")
            return ws

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal duplicates
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.perf_counter()
                data: dict[str, Any] = json.loads(msg.data)
                if "t" not in data:
                    continue  # presence
                latencies.append(now - data["t"])
                key = (f"{data['from']}>{id(ws)}", data["n"])
                if key in seen:
                    duplicates += 1
                seen.add(key)
                if len(latencies) >= expected:
                    done.set()

        started = time.perf_counter()
        sockets = await asyncio.gather(*(connect(i) for i in range(clients)))
        connected = time.perf_counter()
        readers = [asyncio.create_task(reader(ws)) for ws in sockets]
        await asyncio.sleep(0.05)  # let the presence events drain first
        relay_start = time.perf_counter()
        for n in range(messages):
            for ws in sockets:
                await ws.send_str(json.dumps({"t": time.perf_counter(), "n": n}))
            await asyncio.sleep(interval)
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            pass
        relay_end = time.perf_counter()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    latencies.sort()
    return LoadReport(
        clients=clients,
        rooms=rooms,
        expected=expected,
        received=len(latencies),
        duplicates=duplicates,
        connect_seconds=connected - started,
        relay_seconds=relay_end - relay_start,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
    )


async def run_local_load(**options: Any) -> LoadReport:
    """Start a server on loopback in this process (limits sized for the load) and load it."""
    from rtcpeer.signaling.server import run_server

    clients = int(options.get("clients", 500))
    rooms = int(options.get("rooms", 250))
    room_size = -(-clients // max(rooms, 1))
    async with await run_server(
        "127.0.0.1",
        0,
        max_room_size=max(room_size, 2),
        rate_limit=1000.0,
        rate_burst=1000,
        heartbeat=None,
    ) as server:
        return await run_load(server.ws_url, **options)
