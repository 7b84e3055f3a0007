"""Shared plumbing for rtcpeer's atheris fuzz targets (see fuzz/README.md).

A target is a script ``fuzz/fuzz_<name>.py`` that defines ``TestOneInput(data: bytes)`` and may
define ``seeds() -> Iterable[bytes]`` (starting inputs: ``main`` writes them into the directory
named by ``RTCPEER_FUZZ_SEED_DIR``, which ``fuzz/run.py`` sets to the target's corpus). It ends
with ``main(TestOneInput)``. A target whose code under test does not
exist yet calls ``skip(reason)``: it prints ``fuzz-skip: <reason>`` and exits with ``SKIP_EXIT``.
"""

from __future__ import annotations

import contextlib
import hashlib
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
    """``atheris.instrument_imports`` for ``packages`` (a no-op with ``RTCPEER_FUZZ_NO_COVERAGE``
    set, to replay inputs quickly)."""
    if os.environ.get("RTCPEER_FUZZ_NO_COVERAGE"):
        return contextlib.nullcontext()
    import atheris

    return atheris.instrument_imports(include=list(packages))  # type: ignore[no-any-return]


def write_seeds(directory: str) -> int:
    """Write the ``seeds()`` of the running target (``__main__``) into ``directory``."""
    seeds = getattr(sys.modules["__main__"], "seeds", None)
    if seeds is None:
        return 0
    os.makedirs(directory, exist_ok=True)
    count = 0
    for seed in seeds():
        data = bytes(seed)
        with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
        count += 1
    return count


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run the target under atheris. With ``RTCPEER_FUZZ_SEED_DIR`` set (fuzz/run.py does),
    the target's ``seeds()`` are written there first."""
    import atheris

    seed_dir = os.environ.get("RTCPEER_FUZZ_SEED_DIR")
    if seed_dir:
        write_seeds(seed_dir)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
