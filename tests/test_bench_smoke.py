"""Smoke run of the benchmark suite (bench/): ``python -m bench --quick --only rtcpeer`` must
finish and report every scenario with positive figures."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCENARIOS = {
    "setup": ["setup_ms:median", "setup_ms:p90"],
    "throughput_64k": ["mb_per_s", "cpu_per_mib_sender", "cpu_per_mib_receiver"],
    "throughput_16k": ["mb_per_s", "cpu_per_mib_sender", "cpu_per_mib_receiver"],
    "rate_64b": ["msgs_per_s"],
    "latency_32b": ["rtt_us:median", "rtt_us:p99"],
    "memory": ["kib_per_pair"],
    "ceiling_asyncio": ["datagrams_per_s"],
}


@pytest.mark.slow
def test_quick_bench_reports_every_scenario(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "rtcpeer", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True
    for name, keys in SCENARIOS.items():
        entry = results["scenarios"][name]
        for key in keys:
            figure = entry["metrics"][key]["rtcpeer" if name != "ceiling_asyncio" else "python"]
            assert figure is not None and figure > 0, (name, key, entry)
    # the printed table names every figure the README shows
    assert "throughput 64 KiB msgs (MB/s)" in proc.stdout
    assert "memory per idle pair (KiB)" in proc.stdout
