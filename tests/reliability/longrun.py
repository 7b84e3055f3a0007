"""Long runs: many sequential connect/transfer/close cycles, many concurrent peer connections
and big transfers over a lossy relay, watching for leaked sockets, tasks and memory.

By hand (the figures in docs/limits.md come from these)::

    .venv/bin/python -m tests.reliability.longrun cycles --count 1000
    .venv/bin/python -m tests.reliability.longrun concurrent --count 200
    .venv/bin/python -m tests.reliability.longrun lossy --size 2097152

CI runs the same functions with small counts (tests/reliability/test_rel_longrun.py).
Leaks are measured after a warm-up (first connections fill caches: the default certificate,
codec tables, the loop's selector) as: open file descriptors (/proc/self/fd), asyncio tasks,
tracemalloc's traced bytes and the process RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relhelpers import (
    Receiver,
    close_all,
    event_future,
    fd_count,
    new_pc,
    relayed_pair,
    rss_bytes,
    send_stream,
)

from rtcpeer import RTCDataChannel, RTCPeerConnection


@dataclass
class Sample:
    label: str
    fds: int
    tasks: int
    traced: int
    rss: int
    elapsed: float


@dataclass
class RunReport:
    kind: str
    count: int
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def base(self) -> Sample:
        return self.samples[0]

    @property
    def last(self) -> Sample:
        return self.samples[-1]

    def growth(self) -> dict[str, int]:
        return {
            "fds": self.last.fds - self.base.fds,
            "tasks": self.last.tasks - self.base.tasks,
            "traced": self.last.traced - self.base.traced,
            "rss": self.last.rss - self.base.rss,
        }

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["growth"] = self.growth()
        return out


def _tasks() -> int:
    current = asyncio.current_task()
    return sum(1 for t in asyncio.all_tasks() if t is not current and not t.done())


async def settle() -> None:
    """Let closing transports and finished tasks go away before sampling."""
    for _ in range(5):
        await asyncio.sleep(0.02)
    gc.collect()


async def sample(label: str, t0: float) -> Sample:
    await settle()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return Sample(label, fd_count(), _tasks(), traced, rss_bytes(), time.monotonic() - t0)


def _direct_trickle(a: RTCPeerConnection, b: RTCPeerConnection, keep: set[Any]) -> None:
    async def forward(dst: RTCPeerConnection, cand: Any) -> None:
        while dst.remoteDescription is None and dst.signalingState != "closed":
            await asyncio.sleep(0.002)
        if dst.signalingState != "closed":
            await dst.addIceCandidate(cand)

    def wire(src: RTCPeerConnection, dst: RTCPeerConnection) -> None:
        def on_candidate(event: Any) -> None:
            task = asyncio.ensure_future(forward(dst, event.candidate))
            keep.add(task)
            task.add_done_callback(keep.discard)

        src.addEventListener("icecandidate", on_candidate)

    wire(a, b)
    wire(b, a)


async def connect_pair(
    timeout: float = 10.0,
) -> tuple[RTCPeerConnection, RTCPeerConnection, RTCDataChannel, RTCDataChannel, set[Any]]:
    a, b = new_pc(), new_pc()
    keep: set[Any] = set()
    _direct_trickle(a, b, keep)
    remote = event_future(b, "datachannel")
    dc = a.createDataChannel("cycle")
    opened = event_future(dc, "open")
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened, timeout)
    event = await asyncio.wait_for(remote, timeout)
    return a, b, dc, event.channel, keep


async def transfer(dc: RTCDataChannel, remote: RTCDataChannel, total: int, timeout: float) -> None:
    count = (total + 16383) // 16384
    receiver = Receiver(remote, count)
    _, digest = await send_stream(dc, total)
    await asyncio.wait_for(receiver.done, timeout)
    if receiver.errors or receiver.sha.hexdigest() != digest:
        raise AssertionError(f"transfer corrupted: {receiver.errors[:3]}")


async def one_cycle(total: int) -> None:
    a, b, dc, remote, keep = await connect_pair()
    try:
        await transfer(dc, remote, total, 10.0)
    finally:
        await close_all(a, b)
        for task in list(keep):
            task.cancel()


async def run_cycles(
    count: int, total: int = 64 * 1024, warmup: int = 3, every: int = 0, trace: bool = True
) -> RunReport:
    """``count`` sequential connect/transfer/close cycles."""
    report = RunReport("cycles", count)
    t0 = time.monotonic()
    for _ in range(warmup):
        await one_cycle(total)
    if trace:
        tracemalloc.start()
    report.samples.append(await sample("after warm-up", t0))
    every = every or max(count // 10, 1)
    try:
        for i in range(1, count + 1):
            try:
                await one_cycle(total)
            except Exception as exc:  # keep going: the report counts them
                report.errors.append(f"cycle {i}: {type(exc).__name__}: {exc}")
            if i % every == 0 or i == count:
                report.samples.append(await sample(f"cycle {i}", t0))
    finally:
        if trace:
            tracemalloc.stop()
    return report


async def run_concurrent(
    count: int, total: int = 32 * 1024, rounds: int = 2, trace: bool = True
) -> RunReport:
    """``count`` pairs connected at once, each transferring, all closed; ``rounds`` times."""
    report = RunReport("concurrent", count)
    t0 = time.monotonic()
    await one_cycle(total)  # warm-up
    if trace:
        tracemalloc.start()
    report.samples.append(await sample("after warm-up", t0))
    sem = asyncio.Semaphore(32)  # connection set-up in waves; all stay open together

    async def connect() -> tuple[Any, ...]:
        async with sem:
            return await connect_pair(timeout=30.0)

    try:
        for r in range(rounds):
            p: Any = None
            m: Any = None
            results = await asyncio.gather(
                *(connect() for _ in range(count)), return_exceptions=True
            )
            pairs = [p for p in results if isinstance(p, tuple)]
            for p in results:
                if isinstance(p, BaseException):
                    report.errors.append(f"round {r} connect: {type(p).__name__}: {p}")
            report.samples.append(await sample(f"round {r}: {len(pairs)} pairs open", t0))
            moved = await asyncio.gather(
                *(transfer(p[2], p[3], total, 60.0) for p in pairs), return_exceptions=True
            )
            for m in moved:
                if isinstance(m, BaseException):
                    report.errors.append(f"round {r} transfer: {type(m).__name__}: {m}")
            await asyncio.gather(*(close_all(p[0], p[1]) for p in pairs))
            for p in pairs:
                for task in list(p[4]):
                    task.cancel()
            # Drop every reference to the closed peers before measuring.
            del results, pairs, moved, p, m
            report.samples.append(await sample(f"round {r}: closed", t0))
    finally:
        if trace:
            tracemalloc.stop()
    return report


async def run_lossy(total: int, loss: float, seed: int) -> dict[str, Any]:
    from relay import Impairment

    imp = Impairment(
        loss=loss, duplicate=0.02, reorder=0.05, delay=0.002, jitter=0.002, rate=40_000_000
    )
    t0 = time.monotonic()
    relay, a, b, dc, remote = await relayed_pair(imp, imp, seed=seed)
    setup = time.monotonic() - t0
    try:
        t1 = time.monotonic()
        await transfer(dc, remote, total, 600.0)
        elapsed = time.monotonic() - t1
    finally:
        await close_all(a, b)
        relay.close()
    stats = {k: asdict(v) for k, v in relay.stats.items()}
    return {
        "loss": loss,
        "bytes": total,
        "setup_s": round(setup, 2),
        "transfer_s": round(elapsed, 2),
        "throughput_kBps": round(total / elapsed / 1000, 1),
        "relay": stats,
    }


def _print(report: RunReport) -> None:
    for s in report.samples:
        print(
            f"{s.label:>28}: fds {s.fds:5d} tasks {s.tasks:4d} traced {s.traced / 1e6:8.2f} MB "
            f"rss {s.rss / 1e6:8.1f} MB  t={s.elapsed:7.1f}s"
        )
    print("growth:", json.dumps(report.growth()), "errors:", len(report.errors))
    for e in report.errors[:10]:
        print("  ", e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.longrun")
    parser.add_argument("what", choices=["cycles", "concurrent", "lossy"])
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--size", type=int, default=None, help="bytes per transfer")
    parser.add_argument("--no-trace", action="store_true", help="skip tracemalloc (faster)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=2, help="concurrent: open/close rounds")
    args = parser.parse_args(argv)
    trace = not args.no_trace
    if args.what == "cycles":
        report = asyncio.run(
            run_cycles(args.count or 1000, total=args.size or 64 * 1024, trace=trace)
        )
        _print(report)
        return 1 if report.errors else 0
    if args.what == "concurrent":
        report = asyncio.run(
            run_concurrent(
                args.count or 200, total=args.size or 32 * 1024, rounds=args.rounds, trace=trace
            )
        )
        _print(report)
        return 1 if report.errors else 0
    for loss in (0.05, 0.20):
        result = asyncio.run(run_lossy(args.size or 2 * 1024 * 1024, loss, args.seed))
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
