"""examples/video_call.py: two Python peers call each other through the signaling server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")

from rtcpeer.signaling.server import run_server

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
sys.path.insert(0, EXAMPLES)

import video_call  # noqa: E402

pytestmark = pytest.mark.timeout(60)


async def test_two_python_peers_call_each_other() -> None:
    server = await run_server("127.0.0.1", 0)
    try:
        first = asyncio.ensure_future(video_call.run(server.ws_url, "room1", 6.0, None))
        await asyncio.sleep(0.5)
        second = asyncio.ensure_future(video_call.run(server.ws_url, "room1", 5.0, None))
        frames_first, frames_second = await asyncio.gather(first, second)
    finally:
        await server.close()
    for frames in (frames_first, frames_second):
        assert frames["video"] >= 30 and frames["audio"] >= 30, (frames_first, frames_second)


def test_runs_from_the_command_line() -> None:
    script = os.path.join(EXAMPLES, "video_call.py")
    done = subprocess.run(
        [sys.executable, script, "--serve", "0", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "/static/call.html?room=" in done.stderr
    assert "frames received" in done.stderr
