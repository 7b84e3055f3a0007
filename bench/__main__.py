"""``python -m bench``: rtcpeer and aiortc side by side (issue 7; see bench/README.md).

    .venv/bin/python -m bench                  # full run (bash bench/setup.sh first for aiortc)
    .venv/bin/python -m bench --quick          # CI smoke run, well under a minute
    .venv/bin/python -m bench --only rtcpeer   # without aiortc
    .venv/bin/python -m bench --rounds 5 --scenarios setup,latency_32b

Each scenario runs in fresh child processes (``bench/worker.py``), with the right interpreter
for each implementation: rtcpeer from the project's .venv (this interpreter), aiortc from
bench/.venv-aiortc. Rounds interleave the implementations (rtcpeer, aiortc, rtcpeer, aiortc...)
so a machine that slows down mid-run hurts both alike. The table shows medians over rounds
(set-up time and latency: over all samples) and the ratio rtcpeer/aiortc; bench/results.json
keeps every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
AIORTC_PY = ROOT / "bench" / ".venv-aiortc" / "bin" / "python"
# "rtcpeer-1200": rtcpeer with its same-host packet-size extension hidden from the peer, so
# SCTP packets stay at 1,200 bytes as on any network path (loopback alone allows 16 KiB).
IMPLS = ("rtcpeer", "rtcpeer-1200", "aiortc")

Json = dict[str, Any]


@dataclass
class Scenario:
    name: str
    worker: str  # the worker scenario
    full: Json
    quick: Json
    title: str
    impls: tuple[str, ...] = IMPLS
    loop: str = "asyncio"
    metrics: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    # (key in the worker result, label, "higher"/"lower" is better, target ratio text)


MIB = 1 << 20
SCENARIOS = [
    Scenario(
        "setup",
        "setup",
        {"n": 20},
        {"n": 5},
        "set-up: two peer connections to channel open on both sides",
        metrics=[
            ("setup_ms:median", "set-up median (ms)", "lower", "<= 0.5x"),
            ("setup_ms:p90", "set-up p90 (ms)", "lower", None),
        ],
    ),
    Scenario(
        "throughput_64k",
        "stream",
        {"size": 65536, "count": 64 * MIB // 65536},
        {"size": 65536, "count": 4 * MIB // 65536},
        "throughput, 64 KiB messages",
        metrics=[
            ("mb_per_s", "throughput 64 KiB msgs (MB/s)", "higher", ">= 3x"),
            ("mb_per_cpu_s", "  MB per CPU second (busier side)", "higher", None),
            ("cpu_per_mib_sender", "  CPU s/MiB sender", "lower", None),
            ("cpu_per_mib_receiver", "  CPU s/MiB receiver", "lower", None),
        ],
    ),
    Scenario(
        "throughput_16k",
        "stream",
        {"size": 16384, "count": 64 * MIB // 16384},
        {"size": 16384, "count": 4 * MIB // 16384},
        "throughput, 16 KiB messages",
        metrics=[
            ("mb_per_s", "throughput 16 KiB msgs (MB/s)", "higher", ">= 3x"),
            ("mb_per_cpu_s", "  MB per CPU second (busier side)", "higher", None),
            ("cpu_per_mib_sender", "  CPU s/MiB sender", "lower", None),
            ("cpu_per_mib_receiver", "  CPU s/MiB receiver", "lower", None),
        ],
    ),
    Scenario(
        "rate_64b",
        "stream",
        # back-pressure scaled to the message size: 4 MiB of 64-byte messages is 65k queued
        {"size": 64, "count": 100_000, "low": 64 << 10, "high": 256 << 10},
        {"size": 64, "count": 5_000, "low": 64 << 10, "high": 256 << 10},
        "message rate, 64-byte messages",
        metrics=[
            ("msgs_per_s", "message rate 64 B (msgs/s)", "higher", ">= 3x"),
            ("msgs_per_cpu_s", "  msgs per CPU second (busier side)", "higher", None),
            ("cpu_per_mib_sender", "  CPU s/MiB sender", "lower", None),
            ("cpu_per_mib_receiver", "  CPU s/MiB receiver", "lower", None),
        ],
    ),
    Scenario(
        "latency_32b",
        "pingpong",
        {"size": 32, "count": 2000},
        {"size": 32, "count": 200},
        "round-trip latency, 32-byte ping-pong",
        metrics=[
            ("rtt_us:median", "round trip median (us)", "lower", None),
            ("rtt_us:p99", "round trip p99 (us)", "lower", None),
        ],
    ),
    Scenario(
        "memory",
        "memory",
        {"pairs": 50},
        {"pairs": 10, "idle": 0.3},
        "memory per connected idle pair",
        metrics=[("kib_per_pair", "memory per idle pair (KiB)", "lower", "<= 1x")],
    ),
    Scenario(
        "ceiling_asyncio",
        "ceiling",
        {"seconds": 3.0},
        {"seconds": 1.0},
        "ceiling: raw asyncio UDP loopback, 1,200-byte datagrams, default loop",
        impls=("python",),
        metrics=[("datagrams_per_s", "ceiling asyncio endpoint (datagrams/s)", "higher", None)],
    ),
    Scenario(
        "ceiling_batch",
        "ceiling",
        {"seconds": 3.0, "reader": "batch"},
        {"seconds": 1.0, "reader": "batch"},
        "ceiling: loop.add_reader + 64 recvfrom(65536) per wake-up, default loop",
        impls=("python",),
        metrics=[("datagrams_per_s", "ceiling add_reader batch (datagrams/s)", "higher", None)],
    ),
    Scenario(
        "ceiling_uvloop",
        "ceiling",
        {"seconds": 3.0},
        {"seconds": 1.0},
        "ceiling: raw asyncio UDP loopback, 1,200-byte datagrams, uvloop",
        impls=("python",),
        loop="uvloop",
        metrics=[("datagrams_per_s", "ceiling uvloop endpoint (datagrams/s)", "higher", None)],
    ),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def interpreter(impl: str, loop: str) -> pathlib.Path | None:
    """The Python that runs ``impl``: this one for rtcpeer, the bench venv for aiortc (and for
    uvloop, which is installed only there). None when it is not installed."""
    if impl == "aiortc" or loop == "uvloop":
        return AIORTC_PY if AIORTC_PY.exists() else None
    return pathlib.Path(sys.executable)


def has_module(python: pathlib.Path, module: str) -> bool:
    probe = subprocess.run(
        [str(python), "-c", f"import {module}"], cwd=ROOT, capture_output=True, timeout=60
    )
    return probe.returncode == 0


def run_worker(
    python: pathlib.Path,
    sc: Scenario,
    impl: str,
    params: Json,
    timeout: float,
    profile_dir: str | None = None,
) -> Json:
    cmd = [str(python), "-m", "bench.worker", sc.worker, "--loop", sc.loop]
    cmd += ["--params", json.dumps(params)]
    if impl != "python":
        cmd += ["--impl", "rtcpeer" if impl.startswith("rtcpeer") else impl]
    env = dict(os.environ)
    env.pop("BENCH_RTCPEER_MTU1200", None)
    if impl == "rtcpeer-1200":
        env["BENCH_RTCPEER_MTU1200"] = "1"
    env.pop("BENCH_PROFILE_DIR", None)
    if profile_dir:
        env["BENCH_PROFILE_DIR"] = profile_dir
        env["BENCH_IMPL_LABEL"] = impl
    # rtcpeer is importable from src/ in any interpreter; bench from the repo root.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: Json = json.loads(line[len("RESULT ") :])
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def value(samples: list[Json], key: str) -> float | None:
    """Median over rounds of a scalar; for "list:stat" keys the stat over all samples."""
    ok = [s for s in samples if "error" not in s and key.split(":")[0] in s]
    if not ok:
        return None
    if ":" in key:
        name, stat = key.split(":")
        pooled = [v for s in ok for v in s[name]]
        if not pooled:
            return None
        return (
            statistics.median(pooled)
            if stat == "median"
            else percentile(pooled, 90 if stat == "p90" else 99)
        )
    return statistics.median(s[key] for s in ok)


def metrics_of(sc: Scenario, samples: dict[str, list[Json]]) -> Json:
    metrics: Json = {}
    for key, _label, better, target in sc.metrics:
        m: Json = {"better": better, "target": target}
        for impl, runs in samples.items():
            m[impl] = value(runs, key)
        b = m.get("aiortc")
        for impl, suffix in (("rtcpeer", ""), ("rtcpeer-1200", "_1200")):
            a = m.get(impl)
            if a is not None and b:
                m["ratio" + suffix] = a / b
                if target is not None:
                    m["met" + suffix] = target_met(a / b, target)
        metrics[key] = m
    return metrics


def machine() -> Json:
    cpu = platform.processor()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 0.1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def ratio_text(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def table(results: Json) -> str:
    rows = [("", "rtcpeer", "(1200 B)", "aiortc", "ratio", "(1200 B)", "target", "met")]
    for sc in SCENARIOS:
        entry = results["scenarios"].get(sc.name)
        if entry is None:
            continue
        metrics = metrics_of(sc, entry["samples"])  # from the samples: works for old files
        for key, label, _, target in sc.metrics:
            m = metrics[key]
            if sc.impls == ("python",):
                rows.append((label, fmt(m.get("python")), "", "", "", "", "", ""))
                continue

            met = ""
            if target is not None:
                met = "/".join(
                    "-" if m.get(k) is None else ("yes" if m[k] else "no")
                    for k in ("met", "met_1200")
                )
            rows.append(
                (
                    label,
                    fmt(m.get("rtcpeer")),
                    fmt(m.get("rtcpeer-1200")),
                    fmt(m.get("aiortc")),
                    ratio_text(m.get("ratio")),
                    ratio_text(m.get("ratio_1200")),
                    target or "",
                    met,
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def print_report(results: Json) -> None:
    mach, versions = results["machine"], results["versions"]
    print(f"{mach['cpu']}, {mach['cores']} cores, {mach['system']}, Python {mach['python']}")
    print(
        f"rtcpeer {versions.get('rtcpeer', '-')} vs aiortc {versions.get('aiortc', '-')}; "
        f"{results['rounds']} round(s){' (quick)' if results['quick'] else ''}, "
        f"{results.get('loop', 'asyncio')} loop; {results['started']}; ratio = rtcpeer / aiortc"
    )
    print(table(results))


def print_profiles(directory: pathlib.Path, top: int = 12) -> None:
    """The functions with the most CPU time of their own, per profiled process."""
    import pstats

    for path in sorted(directory.glob("*.prof")):
        stats: Any = pstats.Stats(str(path))
        print(f"\n== {path.name}: {stats.total_tt:.2f} s CPU (profiled)")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
        for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in rows:
            where = f"{pathlib.Path(filename).name}:{line}({func})" if line else func
            print(f"  {tottime:7.3f} s self {cumtime:7.3f} s cum {ncalls:9d} calls  {where}")


def target_met(ratio: float, target: str) -> bool:
    op, num = target.split()
    bound = float(num.rstrip("x"))
    return ratio >= bound if op == ">=" else ratio <= bound


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description="rtcpeer vs aiortc benchmarks (issue 7)"
    )
    ap.add_argument("--quick", action="store_true", help="small sizes, one round (CI smoke)")
    ap.add_argument("--only", choices=IMPLS, help="run one implementation")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    ap.add_argument("--scenarios", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results.json"), help="output file")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per child run")
    ap.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop for the implementations (uvloop: both run from bench/.venv-aiortc)",
    )
    ap.add_argument("--show", metavar="JSON", help="print the table of an earlier run and exit")
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="cProfile (CPU time) every child process into DIR/SCENARIO-IMPL-PID.prof and "
        "print the top functions (figures are slower under the profiler)",
    )
    args = ap.parse_args(argv)
    if args.show:
        print_report(json.loads(pathlib.Path(args.show).read_text()))
        return 0

    rounds = args.rounds or (1 if args.quick else 3)
    timeout = args.timeout or (60.0 if args.quick else 600.0)
    wanted = args.scenarios.split(",") if args.scenarios else [s.name for s in SCENARIOS]
    unknown = set(wanted) - {s.name for s in SCENARIOS}
    if unknown:
        ap.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    impls = [args.only] if args.only else list(IMPLS)
    if "aiortc" in impls and (not AIORTC_PY.exists() or not has_module(AIORTC_PY, "aiortc")):
        print("aiortc is not installed (bash bench/setup.sh): rtcpeer only", file=sys.stderr)
        impls.remove("aiortc")
    uvloop_ok = AIORTC_PY.exists() and has_module(AIORTC_PY, "uvloop")

    versions: Json = {}
    results: Json = {
        "machine": machine(),
        "quick": args.quick,
        "loop": args.loop,
        "rounds": rounds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions,
        "scenarios": {},
    }
    profile_dir = None
    if args.profile:
        profile_dir = str(pathlib.Path(args.profile).resolve())
        pathlib.Path(profile_dir).mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for sc in SCENARIOS:
        if sc.name not in wanted:
            continue
        if sc.loop == "uvloop" and not uvloop_ok:
            print(f"{sc.name}: skipped (uvloop is only in bench/.venv-aiortc)", file=sys.stderr)
            continue
        run_impls = list(sc.impls) if sc.impls == ("python",) else impls
        if args.loop == "uvloop" and sc.impls != ("python",):
            if not uvloop_ok:
                ap.error("--loop uvloop needs bench/.venv-aiortc (bash bench/setup.sh)")
            sc.loop = "uvloop"
        params = sc.quick if args.quick else sc.full
        samples: dict[str, list[Json]] = {i: [] for i in run_impls}
        for r in range(rounds):
            for impl in run_impls:
                python = interpreter(impl, sc.loop)
                if python is None:
                    continue
                start = time.monotonic()
                res = run_worker(python, sc, impl, params, timeout, profile_dir)
                took = time.monotonic() - start
                status = res.get("error", "ok")
                print(f"[{sc.name} round {r + 1}/{rounds}] {impl}: {status} ({took:.1f} s)")
                if "version" in res:
                    versions[impl] = res["version"]
                samples[impl].append(res)
        results["scenarios"][sc.name] = {
            "title": sc.title,
            "params": params,
            "loop": sc.loop,
            "metrics": metrics_of(sc, samples),
            "samples": samples,
        }
    results["seconds"] = time.monotonic() - t0
    pathlib.Path(args.json).write_text(json.dumps(results, separators=(",", ":")) + "\n")
    print()
    print_report(results)
    print(f"\n{results['seconds']:.0f} s; results in {args.json}")
    if profile_dir:
        print_profiles(pathlib.Path(profile_dir))
    errors = [
        (name, impl)
        for name, e in results["scenarios"].items()
        for impl, runs in e["samples"].items()
        for s in runs
        if "error" in s
    ]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
