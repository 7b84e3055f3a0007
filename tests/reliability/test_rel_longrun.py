"""Quick versions of the long runs (the big counts: ``python -m tests.reliability.longrun``):
sequential connect/transfer/close cycles and many concurrent pairs leak no file descriptors,
no asyncio tasks and no memory."""

from __future__ import annotations

import pytest
from longrun import RunReport, run_concurrent, run_cycles


def _check(report: RunReport, traced_budget: int) -> None:
    assert report.errors == []
    growth = report.growth()
    assert growth["fds"] <= 0, [(s.label, s.fds) for s in report.samples]
    assert growth["tasks"] <= 0, [(s.label, s.tasks) for s in report.samples]
    # Bounded caches (keyed HMACs, interned names) may fill a little; nothing per cycle.
    assert growth["traced"] < traced_budget, growth
    assert growth["rss"] < 32 * 1024 * 1024, growth


@pytest.mark.slow
async def test_sequential_cycles_leak_nothing() -> None:
    report = await run_cycles(30, total=64 * 1024, warmup=3)
    _check(report, traced_budget=256 * 1024)
    print("cycles:", report.growth())


@pytest.mark.slow
async def test_concurrent_pairs_leak_nothing() -> None:
    report = await run_concurrent(20, total=32 * 1024, rounds=2)
    _check(report, traced_budget=512 * 1024)
    opened = [s for s in report.samples if "pairs open" in s.label]
    base = report.base
    # 20 pairs were really open at once: at least two sockets per peer connection.
    assert all(s.fds >= base.fds + 20 * 2 * 2 for s in opened), [s.fds for s in opened]
    print("concurrent:", report.growth())
