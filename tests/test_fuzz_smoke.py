"""Smoke run of every atheris fuzz target in fuzz/ (issue 9): a few seconds each, no crash.

atheris is required: CI installs it, and a missing fuzzer must fail here, not skip. The long
run is documented in fuzz/README.md.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
RUN = FUZZ / "run.py"
SECONDS = os.environ.get("RTCPEER_FUZZ_SMOKE_SECONDS", "2")
# Targets that may report "fuzz-skip" while the code they fuzz is still being written (none
# now: a skip would hide an import error in the package under test).
MAY_SKIP: set[str] = set()


def _targets() -> list[str]:
    return sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py"))


def _run(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_atheris_is_installed() -> None:
    assert importlib.util.find_spec("atheris") is not None, (
        "atheris is not installed: the fuzz smoke run cannot run (pip install atheris)"
    )


def test_every_parser_has_a_target() -> None:
    assert {"dtls_demux", "sctp", "dcep", "rtp"} <= set(_targets())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", _targets())
def test_fuzz_target_smoke(target: str, tmp_path: Path) -> None:
    proc = _run(target, "--seconds", SECONDS, "--workdir", str(tmp_path))
    out = proc.stdout + proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(target + " ")), "")
    fields = line.split()
    assert proc.returncode == 0 and len(fields) >= 3, f"fuzz target {target} failed:\n{out}"
    status, runs = fields[1], int(fields[2])
    if status == "skipped":
        assert target in MAY_SKIP, f"{target} skipped: {line}"
        return
    assert status == "ok", out
    assert runs > 100, f"{target} executed only {runs} inputs:\n{out}"
    assert not list(tmp_path.glob(f"{target}/crash-*"))


def test_runner_reports_a_crash(tmp_path: Path) -> None:
    """The runner must notice a crashing target and keep the reproducer."""
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "fuzz_boom.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(FUZZ)!r})\n"
        "import _harness\n"
        "def TestOneInput(data: bytes) -> None:\n"
        "    if data[:1] == b'!':\n"
        "        raise RuntimeError('boom')\n"
        "def seeds():\n"
        "    yield b'!x'\n"
        "if __name__ == '__main__':\n"
        "    _harness.main(TestOneInput)\n"
    )
    work = tmp_path / "work"
    proc = _run("--dir", str(targets), "--seconds", "2", "--workdir", str(work))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "boom" in proc.stdout and " crash " in proc.stdout
    crashes = list((work / "boom").glob("crash-*"))
    assert crashes and crashes[0].read_bytes().startswith(b"!")


def test_runner_lists_targets() -> None:
    proc = _run("--list", timeout=30)
    assert proc.returncode == 0
    assert set(proc.stdout.split()) == set(_targets())
