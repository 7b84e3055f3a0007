from __future__ import annotations

import asyncio

import pytest

import rtcpeer
from rtcpeer.cli import main
from rtcpeer.errors import InvalidStateError, OperationError, RTCError
from rtcpeer.events import Event, EventTarget


def test_version_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features"]) == 0
    assert rtcpeer.__version__ in capsys.readouterr().out


def test_error_names() -> None:
    err = InvalidStateError("setRemoteDescription(answer) called in signalingState 'stable'")
    assert err.name == "InvalidStateError"
    assert "stable" in str(err)
    detail = RTCError("fingerprint mismatch", errorDetail="dtls-failure")
    assert isinstance(detail, OperationError) and detail.errorDetail == "dtls-failure"


async def test_event_target_sync_async_once_and_handler() -> None:
    target = EventTarget()
    seen: list[str] = []
    done = asyncio.Event()

    def sync_listener(event: Event) -> None:
        seen.append("sync:" + event.type)

    async def async_listener(event: Event) -> None:
        seen.append("async:" + event.type)
        done.set()

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug must not propagate")

    target.addEventListener("ping", sync_listener)
    target.addEventListener("ping", sync_listener)  # duplicates are ignored, as in the DOM
    target.addEventListener("ping", broken)
    target.on("ping")(async_listener)
    target.addEventListener("ping", lambda e: seen.append("once"), {"once": True})
    target.onping = lambda e: seen.append("handler")  # type: ignore[attr-defined]
    target.dispatchEvent(Event("ping"))
    target.dispatchEvent(Event("ping"))
    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)
    assert seen.count("sync:ping") == 2
    assert seen.count("once") == 1
    assert seen.count("handler") == 2
    assert seen.count("async:ping") == 2
    target.removeEventListener("ping", sync_listener)
    target.dispatchEvent(Event("ping"))
    assert seen.count("sync:ping") == 2


def test_test_module_names_are_unique() -> None:
    """pytest's default import mode needs unique basenames for test modules and helpers."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("*.py") if p.name != "__init__.py")
    names.pop("conftest.py", None)
    assert [n for n, c in names.items() if c > 1] == []


def test_ci_environment_has_everything_the_suite_needs() -> None:
    """Under scripts/test.sh (RTCPEER_REQUIRE_ALL=1) nothing the suite skips without may be missing.

    Some tests skip on machines without root, coturn, a codec library or a browser; in CI that
    would hide a failure, so this test turns a missing piece into a red run instead.
    """
    import importlib.util
    import os
    import shutil

    import pytest

    if os.environ.get("RTCPEER_REQUIRE_ALL") != "1":
        pytest.skip("only checked under scripts/test.sh (RTCPEER_REQUIRE_ALL=1)")
    missing = [
        m
        for m in ("av", "pylibsrtp", "playwright", "redis", "atheris")
        if importlib.util.find_spec(m) is None
    ]
    missing += [
        p
        for p in ("/usr/bin/chromium", "/usr/bin/turnserver", "/usr/bin/redis-server")
        if not os.path.exists(p)
    ]
    missing += [t for t in ("firefox-esr", "ip", "iptables", "openssl") if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    from rtcpeer.rtp.codecs.encoders import h264_encoder_available

    if not h264_encoder_available():
        missing.append("an FFmpeg H.264 encoder")
    assert missing == []
