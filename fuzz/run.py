#!/usr/bin/env python3
"""Run rtcpeer's atheris fuzz targets (every ``fuzz/fuzz_*.py``), each for a bounded time.

    python fuzz/run.py --list
    python fuzz/run.py --seconds 10                 # every target, 10 s each
    python fuzz/run.py dtls_demux sctp --seconds 600
    python fuzz/run.py all --runs 20000             # bounded by executions instead of time
    python fuzz/run.py stun -- -max_len=4096        # extra libFuzzer flags after "--"

Each target gets a corpus directory ``<workdir>/<target>/corpus`` seeded from the target's
``seeds()`` (written by ``_harness.main`` when ``RTCPEER_FUZZ_SEED_DIR`` is set) and from ``fuzz/corpus/<target>/`` when that exists; crash reproducers are written
to ``<workdir>/<target>/`` and listed in the summary. ``--workdir`` defaults to
``$TMPDIR/rtcpeer-fuzz`` (new corpus entries are scratch, not source; it persists between runs
so a long run continues from the last one's corpus). The exit
status is non-zero when any target crashed or failed to start; targets whose code under test
does not exist yet (exit status 3, "fuzz-skip") are reported and do not fail the run unless
``--strict`` is given.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SKIP_EXIT = 3


@dataclass
class Result:
    name: str
    status: str  # ok, crash, skipped, error
    runs: int
    seconds: float
    detail: str = ""


def targets(directory: Path = HERE) -> dict[str, Path]:
    return {p.stem.removeprefix("fuzz_"): p for p in sorted(directory.glob("fuzz_*.py"))}


def run_target(
    name: str, path: Path, workdir: Path, seconds: float, runs: int | None, extra: list[str]
) -> Result:
    tdir = workdir / name
    corpus = tdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    dirs = [str(corpus)]
    static = HERE / "corpus" / name
    if static.is_dir():
        dirs.append(str(static))
    limit = [f"-runs={runs}"] if runs is not None else [f"-max_total_time={max(1, int(seconds))}"]
    cmd = [
        sys.executable,
        str(path),
        *dirs,
        *limit,
        f"-artifact_prefix={tdir}{os.sep}",
        "-timeout=20",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        *extra,
    ]
    env = dict(os.environ)
    env["RTCPEER_FUZZ_SEED_DIR"] = str(corpus)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    start = time.monotonic()
    budget = (seconds if runs is None else 600.0) + 120.0
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", env=env, timeout=budget
        )
    except subprocess.TimeoutExpired:
        return Result(name, "error", 0, time.monotonic() - start, "did not finish in time")
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    done = re.findall(r"Done (\d+) runs", out) or re.findall(r"#(\d+)\s+DONE", out)
    executed = int(done[-1]) if done else 0
    if proc.returncode == SKIP_EXIT and "fuzz-skip:" in out:
        reason = out.split("fuzz-skip:", 1)[1].strip().splitlines()[0]
        return Result(name, "skipped", 0, elapsed, reason)
    if proc.returncode == 0 and executed > 0:
        return Result(name, "ok", executed, elapsed)
    crashes = sorted(str(p) for p in tdir.glob("crash-*")) + sorted(
        str(p) for p in tdir.glob("timeout-*")
    )
    status = "crash" if crashes or "Uncaught Python exception" in out else "error"
    tail = "\n".join(out.strip().splitlines()[-40:])
    return Result(name, status, executed, elapsed, "\n".join([*crashes, tail]))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the target names")
    parser.add_argument("--seconds", type=float, default=10.0, help="time per target")
    parser.add_argument("--runs", type=int, default=None, help="executions per target")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rtcpeer-fuzz"
    )
    parser.add_argument("--strict", action="store_true", help="a skipped target fails the run")
    parser.add_argument("--dir", type=Path, default=HERE, help=argparse.SUPPRESS)  # for tests
    args = parser.parse_args(argv)

    available = targets(args.dir)
    if args.list:
        print("\n".join(available))
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris): cannot fuzz", file=sys.stderr)
        return 2
    wanted = [t.removeprefix("fuzz_") for t in args.targets if t != "all"] or list(available)
    unknown = [t for t in wanted if t not in available]
    if unknown:
        print(f"unknown targets: {', '.join(unknown)}; have {', '.join(available)}")
        return 2
    results = []
    for name in wanted:
        res = run_target(name, available[name], args.workdir, args.seconds, args.runs, extra)
        results.append(res)
        line = f"{res.name:<16} {res.status:<8} {res.runs:>9} runs  {res.seconds:6.1f} s"
        if res.status == "skipped":
            line += f"  ({res.detail})"
        print(line, flush=True)
        if res.status in ("crash", "error"):
            print(res.detail, flush=True)
    bad = [r for r in results if r.status in ("crash", "error")]
    if args.strict:
        bad += [r for r in results if r.status == "skipped"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
