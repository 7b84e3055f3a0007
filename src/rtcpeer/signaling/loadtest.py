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

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable
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
    mine: range | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
    latencies_out: list[float] | None = None,
) -> LoadReport:
    """Connect, relay, measure; see the module docstring. ``url`` is the ``ws://.../ws`` URL.

    ``mine`` (a range of client numbers) runs only those clients of the whole population
    (several client processes); ``ready`` is awaited once they are connected, before sending
    (a barrier across processes). Client ``i`` is in room ``i % rooms``.
    """
    own = range(clients) if mine is None else mine
    raise_fd_limit(2 * len(own) + 256)
    per_room: dict[int, int] = {}
    for i in range(clients):
        per_room[i % rooms] = per_room.get(i % rooms, 0) + 1
    # every own client receives every message of the other members of its room
    expected = sum((per_room[i % rooms] - 1) * messages for i in own)
    latencies: list[float] = [] if latencies_out is None else latencies_out
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
        sockets = await asyncio.gather(*(connect(i) for i in own))
        connected = time.perf_counter()
        readers = [asyncio.create_task(reader(ws)) for ws in sockets]
        if ready is not None:
            await ready()
        await asyncio.sleep(0.05)  # let the presence events drain first
        relay_start = time.perf_counter()
        # Each round is spread evenly over ``interval`` (chunks of 50 clients) rather than sent
        # as one burst, so the latency measured is the relay's, not a burst's queueing.
        chunk = 50
        pause = interval * chunk / max(len(sockets), chunk)
        loop = asyncio.get_running_loop()
        for n in range(messages):
            round_end = loop.time() + interval
            for first in range(0, len(sockets), chunk):
                for ws in sockets[first : first + chunk]:
                    await ws.send_str(json.dumps({"t": time.perf_counter(), "n": n}))
                await asyncio.sleep(pause)
            await asyncio.sleep(max(0.0, round_end - loop.time()))
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
        clients=len(own),
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


# -- several processes: the server in one, the clients in others --------------------------------


@dataclass(frozen=True, slots=True)
class AbuseReport:
    """What happened to the misbehaving clients run alongside a load."""

    garbage_close: int | None
    flood_close: int | None
    pending_close: int | None


async def _start_server_process(
    clients: int, rooms: int, extra: list[str]
) -> tuple[asyncio.subprocess.Process, str]:
    room_size = max(-(-clients // max(rooms, 1)), 2) + 1  # +1: the abusers' room
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcpeer", "serve", "--host", "127.0.0.1", "--port", "0",
        "--max-room-size", str(room_size), *extra,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        if not line:
            raise RuntimeError("the signaling server process exited before listening")
        match = re.search(r"signaling server on (http://\S+?)/?$", line.strip())
        if match:
            return proc, "ws" + match.group(1)[4:] + "/ws"


async def _abuse(url: str) -> AbuseReport:
    """Three bad clients in a room of their own plus one of the load's rooms' neighbours:
    one sends garbage, one floods, one never reads while a partner floods it with valid
    messages (pending-message bound). Returns the close code each got."""
    async with aiohttp.ClientSession() as http:

        async def close_code(ws: aiohttp.ClientWebSocketResponse, limit: float = 20) -> int | None:
            try:
                async with asyncio.timeout(limit):
                    async for _msg in ws:
                        pass
            except TimeoutError:
                return None
            return ws.close_code

        garbage = await http.ws_connect(url, params={"room": "abuse-g", "peer": "garbage"})
        await garbage.receive_json()
        for _ in range(20):
            await garbage.send_str("{not json")
        garbage_code = await close_code(garbage)

        flood = await http.ws_connect(url, params={"room": "abuse-f", "peer": "flood"})
        await flood.receive_json()
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            for i in range(5000):
                await flood.send_str(json.dumps({"n": i}))
        flood_code = await close_code(flood)

        # A peer that never reads (a raw socket with a small receive buffer that completes the
        # WebSocket handshake and then stops reading); its partner sends within the rate limit
        # until the server's per-peer queue bound (max_pending) drops the reader.
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws?room=abuse-p&peer=stuck HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        sender = await http.ws_connect(url, params={"room": "abuse-p", "peer": "sender"})
        await sender.receive_json()
        pending_code: int | None = None
        blob = "x" * 60000
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            for i in range(800):  # stops at the "left"; ~330 needed (kernel buffers)
                await sender.send_str(json.dumps({"blob": blob}))
                if i >= 190:  # past the burst: stay under the sender's rate limit
                    await asyncio.sleep(0.021)
                if i % 10 == 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        msg = await sender.receive(0.001)
                        if msg.type == aiohttp.WSMsgType.TEXT and '"left"' in msg.data:
                            pending_code = 1008  # the server dropped the stuck peer
                            break
        writer.close()
        await sender.close()
        return AbuseReport(garbage_code, flood_code, pending_code)


async def run_process_load(
    *,
    clients: int = 500,
    rooms: int = 250,
    messages: int = 10,
    client_processes: int = 2,
    interval: float = 0.02,
    abuse: bool = True,
    server_args: list[str] | None = None,
) -> tuple[LoadReport, AbuseReport | None]:
    """The server in its own process, the clients split over ``client_processes`` processes.

    Every client process connects its share, reports ready, and all start sending together.
    Meanwhile (``abuse``) a garbage sender, a flooder and a peer that never reads are run
    against the same server; each must be disconnected without costing the load a message.
    """
    server, url = await _start_server_process(clients, rooms, server_args or [])
    workers: list[asyncio.subprocess.Process] = []
    try:
        share = -(-clients // client_processes)
        for k in range(client_processes):
            first, last = k * share, min(clients, (k + 1) * share)
            workers.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "rtcpeer.signaling.loadtest",
                    "--url",
                    url,
                    "--clients",
                    str(clients),
                    "--rooms",
                    str(rooms),
                    "--messages",
                    str(messages),
                    "--first",
                    str(first),
                    "--last",
                    str(last),
                    "--interval",
                    str(interval),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
            )
        for w in workers:
            assert w.stdout is not None
            line = await asyncio.wait_for(w.stdout.readline(), 120)
            if line.strip() != b"ready":
                raise RuntimeError(f"load client process failed to connect: {line!r}")
        abuser = asyncio.create_task(_abuse(url)) if abuse else None
        started = time.perf_counter()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write(b"go\n")
            await w.stdin.drain()
        results = []
        for w in workers:
            assert w.stdout is not None
            results.append(json.loads(await asyncio.wait_for(w.stdout.read(), 300)))
        relay_seconds = time.perf_counter() - started
        abuse_report = await abuser if abuser is not None else None
    finally:
        for proc in (*workers, server):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    latencies = sorted(x for r in results for x in r["latencies"])
    report = LoadReport(
        clients=clients,
        rooms=rooms,
        expected=sum(r["expected"] for r in results),
        received=len(latencies),
        duplicates=sum(r["duplicates"] for r in results),
        connect_seconds=max(r["connect_seconds"] for r in results),
        relay_seconds=relay_seconds,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
    )
    return report, abuse_report


async def _worker(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()

    async def ready() -> None:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await loop.run_in_executor(None, sys.stdin.readline)

    latencies: list[float] = []
    report = await run_load(
        args.url,
        clients=args.clients,
        rooms=args.rooms,
        messages=args.messages,
        interval=args.interval,
        mine=range(args.first, args.last),
        ready=ready,
        latencies_out=latencies,
    )
    out = {
        "expected": report.expected,
        "duplicates": report.duplicates,
        "connect_seconds": report.connect_seconds,
        "latencies": [round(x, 6) for x in latencies],
    }
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()


def main() -> None:
    """Entry point of one client process of :func:`run_process_load`."""
    parser = argparse.ArgumentParser(prog="python -m rtcpeer.signaling.loadtest")
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--last", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    asyncio.run(_worker(parser.parse_args()))


if __name__ == "__main__":
    main()
