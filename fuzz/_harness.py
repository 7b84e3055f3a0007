"""Shared plumbing for rtcpeer's atheris fuzz targets (see fuzz/README.md).

A target is a script ``fuzz/fuzz_<name>.py`` that defines ``TestOneInput(data: bytes)`` and may
define ``seeds() -> Iterable[bytes]`` (starting inputs that ``fuzz/run.py`` writes into the
target's corpus). It ends with ``main(TestOneInput)``. A target whose code under test does not
exist yet calls ``skip(reason)``: it prints ``fuzz-skip: <reason>`` and exits with ``SKIP_EXIT``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn

SKIP_EXIT = 3  # libFuzzer uses 77 for a crash and 70 for a timeout, so not those


def skip(reason: str) -> NoReturn:
    print(f"fuzz-skip: {reason}", flush=True)
    raise SystemExit(SKIP_EXIT)


def require_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        raise SystemExit(2) from None


def instrument(*packages: str) -> contextlib.AbstractContextManager[object]:
    """``atheris.instrument_imports`` for ``packages``; a no-op when run.py only collects seeds
    (``RTCPEER_FUZZ_SEEDS_ONLY`` set), which saves the instrumentation time."""
    if os.environ.get("RTCPEER_FUZZ_SEEDS_ONLY"):
        return contextlib.nullcontext()
    import atheris

    return atheris.instrument_imports(include=list(packages))  # type: ignore[no-any-return]


def main(test_one_input: Callable[[bytes], None]) -> None:
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
