"""One benchmark run in a child process; the driver (bench/__main__.py) starts these.

    python -m bench.worker SCENARIO --impl rtcpeer|aiortc [--loop asyncio|uvloop] [--params JSON]

Scenarios: ``setup``, ``memory`` (both peers in this process), ``stream`` and ``pingpong`` (this
process is the offerer and sender; it starts ``answerer``, the receiver, as a second process
with the same interpreter, and signals to it over the child's stdin/stdout), ``ceiling`` (raw
asyncio UDP, starting ``ceiling-recv``). The last stdout line is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.peers import Impl, Json, load

# ---------------------------------------------------------------- helpers


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def write_line(obj: Json) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.worker",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )


async def read_json(stream: asyncio.StreamReader | None, timeout: float) -> Json:
    assert stream is not None
    line = await asyncio.wait_for(stream.readline(), timeout)
    if not line:
        raise RuntimeError("peer process ended early")
    result: Json = json.loads(line)
    return result


# ---------------------------------------------------------------- scenarios in one process


async def scenario_setup(impl: Impl, params: Json) -> Json:
    """Construct two peer connections until the channel is open on both sides, n times."""
    times = []
    for i in range(params["n"] + 1):
        start = time.perf_counter()
        a, b, _, _ = await asyncio.wait_for(impl.connect_pair(), 30)
        elapsed = time.perf_counter() - start
        if i:  # the first one warms up imports and caches
            times.append(round(elapsed * 1e3, 3))
        await impl.close(a)
        await impl.close(b)
    return {"setup_ms": times}


async def scenario_memory(impl: Impl, params: Json) -> Json:
    """RSS growth per connected idle pair (two peer connections with an open channel)."""
    n = params["pairs"]
    warm = await asyncio.wait_for(impl.connect_pair(), 30)
    await asyncio.sleep(0.2)
    gc.collect()
    before = rss_bytes()
    pairs = []
    for _ in range(n):
        pairs.append(await asyncio.wait_for(impl.connect_pair(), 30))
    await asyncio.sleep(params.get("idle", 1.0))
    gc.collect()
    after = rss_bytes()
    for a, b, _, _ in [*pairs, warm]:
        await impl.close(a)
        await impl.close(b)
    return {"kib_per_pair": (after - before) / n / 1024, "pairs": n, "rss_before": before}


# ---------------------------------------------------------------- two processes


async def connect_to_answerer(
    impl: Impl, mode: Json
) -> tuple[asyncio.subprocess.Process, Any, Any]:
    proc = await spawn("answerer", "--impl", impl.name, "--loop", mode["loop"])
    pc = impl.new_pc()
    dc = impl.create_channel(pc, "bench")
    offer = await impl.offer(pc)
    assert proc.stdin is not None
    proc.stdin.write((json.dumps({**offer, "mode": mode}) + "\n").encode())
    answer = await read_json(proc.stdout, 30)
    await impl.accept(pc, answer)
    await asyncio.wait_for(impl.wait_open(dc), 30)
    return proc, pc, dc


def kill(proc: asyncio.subprocess.Process) -> None:
    """Never leave an answerer behind (it holds the driver's stderr pipe open)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def finish(impl: Impl, proc: asyncio.subprocess.Process, pc: Any) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b'{"type": "bye"}\n')
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    await impl.close(pc)


async def drain(dc: Any, drained: asyncio.Event, low: int, stall: float = 60.0) -> int:
    """Wait for "bufferedamountlow"; poll bufferedAmount each second as well, so a missed
    event shows up as a count (returned: 1) instead of a hang, and give up only after
    ``stall`` seconds without any progress."""
    best, idle = dc.bufferedAmount, 0.0
    while True:
        try:
            await asyncio.wait_for(drained.wait(), 1.0)
            return 0
        except TimeoutError:
            amount = dc.bufferedAmount
            if amount <= low:
                return 1
            if amount < best:
                best, idle = amount, 0.0
            else:
                idle += 1.0
                if idle >= stall:
                    raise TimeoutError(
                        f"bufferedAmount stuck at {amount} for {stall:.0f} s"
                    ) from None


async def scenario_stream(impl: Impl, params: Json) -> Json:
    """``count`` messages of ``size`` bytes, reliable ordered, bufferedAmountLowThreshold
    back-pressure: send while bufferedAmount <= high, else wait for "bufferedamountlow"."""
    size, count = params["size"], params["count"]
    low, high = params.get("low", 1 << 20), params.get("high", 4 << 20)
    proc, pc, dc = await connect_to_answerer(
        impl, {"kind": "sink", "count": count, "loop": params["loop"]}
    )
    try:
        dc.bufferedAmountLowThreshold = low
        drained = asyncio.Event()
        impl.on_buffered_amount_low(dc, drained.set)
        payload = bytes(size)
        send = dc.send
        cpu0 = time.process_time()
        start = time.monotonic()
        sent = 0
        polled = 0  # waits that ended by polling bufferedAmount, not by the event
        while sent < count:
            while sent < count and dc.bufferedAmount <= high:
                send(payload)
                sent += 1
            if sent < count:
                drained.clear()
                polled += await drain(dc, drained, low)
        report = await read_json(proc.stdout, 300)
        cpu = time.process_time() - cpu0
    except BaseException:
        kill(proc)
        raise
    await finish(impl, proc, pc)
    elapsed = report["last"] - start
    mib = size * count / (1 << 20)
    busiest = max(cpu, report["cpu"])
    return {
        "mb_per_s": size * count / elapsed / 1e6,
        "msgs_per_s": count / elapsed,
        # What the busier side could sustain with a core to itself: on a shared machine the
        # wall-clock rate mostly measures the scheduler, CPU time much less so.
        "mb_per_cpu_s": size * count / busiest / 1e6,
        "msgs_per_cpu_s": count / busiest,
        "elapsed": elapsed,
        "cpu_per_mib_sender": cpu / mib,
        "cpu_per_mib_receiver": report["cpu"] / mib,
        "cpu_sender": cpu,
        "cpu_receiver": report["cpu"],
        "low_event_missed": polled,
    }


async def scenario_pingpong(impl: Impl, params: Json) -> Json:
    """``count`` round trips of ``size`` bytes, one at a time, after ``warmup`` more."""
    size, count, warmup = params["size"], params["count"], params.get("warmup", 50)
    proc, pc, dc = await connect_to_answerer(impl, {"kind": "echo", "loop": params["loop"]})
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[None]] = []

    def on_message(data: Any) -> None:
        fut = waiting.pop()
        if not fut.done():
            fut.set_result(None)

    impl.on_message(dc, on_message)
    payload = bytes(size)
    rtts = []
    try:
        for i in range(warmup + count):
            fut = loop.create_future()
            waiting.append(fut)
            start = time.perf_counter()
            dc.send(payload)
            await asyncio.wait_for(fut, 10)
            if i >= warmup:
                rtts.append(round((time.perf_counter() - start) * 1e6, 1))
    except BaseException:
        kill(proc)
        raise
    await finish(impl, proc, pc)
    return {
        "rtt_median_us": statistics.median(rtts),
        "rtt_p99_us": percentile(rtts, 99),
        "rtt_us": rtts,
    }


async def role_answerer(impl: Impl, params: Json) -> Json:
    """The second process: answers, then sinks (counts) or echoes what arrives."""
    reader = await stdin_reader()
    offer = await read_json(reader, 30)
    mode = offer.pop("mode")
    pc = impl.new_pc()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Json] = loop.create_future()

    def on_channel(dc: Any) -> None:
        if mode["kind"] == "echo":
            send = dc.send
            impl.on_message(dc, send)
            return
        expected = mode["count"]
        state = {"n": 0, "bytes": 0}
        cpu0 = time.process_time()

        def on_message(data: Any) -> None:
            state["n"] += 1
            state["bytes"] += len(data)
            if state["n"] == expected and not done.done():
                done.set_result(
                    {
                        "last": time.monotonic(),
                        "cpu": time.process_time() - cpu0,
                        "bytes": state["bytes"],
                    }
                )

        impl.on_message(dc, on_message)

    impl.on_datachannel(pc, on_channel)
    write_line(await impl.answer(pc, offer))
    # Until the offerer says bye or goes away (stdin closes), reporting when the sink is full.
    line_task = asyncio.ensure_future(reader.readline())
    if mode["kind"] == "sink":
        await asyncio.wait([done, line_task], return_when=asyncio.FIRST_COMPLETED)
        if done.done():
            write_line(done.result())
    while True:
        line = await line_task
        if not line or b"bye" in line:
            break
        line_task = asyncio.ensure_future(reader.readline())
    await impl.close(pc)
    return {}


# ---------------------------------------------------------------- the ceiling: raw UDP


class _Counter(asyncio.DatagramProtocol):
    def __init__(self, seconds: float, done: asyncio.Future[Json]) -> None:
        self.n = 0
        self.bytes = 0
        self.seconds = seconds
        self.done = done
        self.start = 0.0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.n:
            self.start = time.monotonic()
            asyncio.get_running_loop().call_later(self.seconds, self.stop)
        self.n += 1
        self.bytes += len(data)

    def stop(self) -> None:
        if not self.done.done():
            elapsed = time.monotonic() - self.start
            self.done.set_result({"received": self.n, "bytes": self.bytes, "elapsed": elapsed})


async def role_ceiling_recv(impl: Impl | None, params: Json) -> Json:
    """Counts datagrams for ``seconds`` from the first one. ``reader`` "endpoint": asyncio's
    datagram transport (one recvfrom per readiness); "batch": loop.add_reader and up to 64
    recvfrom(65536) per readiness, as a careful asyncio program reads."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    done: asyncio.Future[Json] = loop.create_future()
    counter = _Counter(float(params["seconds"]), done)
    if params.get("reader", "endpoint") == "endpoint":
        transport, _ = await loop.create_datagram_endpoint(lambda: counter, sock=sock)
        close = transport.close
    else:
        received = counter.datagram_received
        recv = sock.recvfrom

        def ready() -> None:
            for _ in range(64):
                try:
                    data, addr = recv(65536)
                except (BlockingIOError, InterruptedError):
                    return
                received(data, addr)

        loop.add_reader(sock.fileno(), ready)

        def close() -> None:
            loop.remove_reader(sock.fileno())
            sock.close()

    write_line({"port": sock.getsockname()[1]})
    write_line(await asyncio.wait_for(done, 60))
    close()
    return {}


async def scenario_ceiling(impl: Impl | None, params: Json) -> Json:
    """Datagrams/s one asyncio process receives from another blasting 1,200-byte datagrams."""
    seconds, size = params["seconds"], params.get("size", 1200)
    proc = await spawn(
        "ceiling-recv",
        "--loop",
        params["loop"],
        "--params",
        json.dumps({"seconds": seconds, "reader": params.get("reader", "endpoint")}),
    )
    port = (await read_json(proc.stdout, 30))["port"]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port)
    )
    result_task = asyncio.ensure_future(read_json(proc.stdout, seconds + 30))
    payload = bytes(size)
    sendto = transport.sendto
    sent = 0
    start = time.monotonic()
    while not result_task.done():
        for _ in range(64):
            sendto(payload)
        sent += 64
        if transport.get_write_buffer_size():
            await asyncio.sleep(0.001)
        else:
            await asyncio.sleep(0)
    send_elapsed = time.monotonic() - start
    report = result_task.result()
    transport.close()
    await proc.wait()
    return {
        "datagrams_per_s": report["received"] / report["elapsed"],
        "mb_per_s": report["bytes"] / report["elapsed"] / 1e6,
        "sent_per_s": sent / send_elapsed,
    }


SCENARIOS: dict[str, Callable[[Any, Json], Awaitable[Json]]] = {
    "setup": scenario_setup,
    "memory": scenario_memory,
    "stream": scenario_stream,
    "pingpong": scenario_pingpong,
    "answerer": role_answerer,
    "ceiling": scenario_ceiling,
    "ceiling-recv": role_ceiling_recv,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="one benchmark run (started by python -m bench)")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--impl", default=None)
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--params", default="{}")
    args = ap.parse_args(argv)
    params: Json = json.loads(args.params)
    params["loop"] = args.loop
    impl = load(args.impl) if args.impl else None
    coro = SCENARIOS[args.scenario](impl, params)
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    profiler = None
    if profile_dir:  # python -m bench --profile DIR: CPU-time profile of every process
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    if profiler is not None and profile_dir:
        profiler.disable()
        name = f"{args.scenario}-{os.environ.get('BENCH_IMPL_LABEL', args.impl)}-{os.getpid()}"
        profiler.dump_stats(os.path.join(profile_dir, name + ".prof"))
    if args.scenario not in ("answerer", "ceiling-recv"):
        meta = {"impl": args.impl, "loop": args.loop, "python": sys.version.split()[0]}
        if impl is not None:
            meta["version"] = impl.version()
        sys.stdout.write("RESULT " + json.dumps({**meta, **result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
