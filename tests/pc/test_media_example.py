"""examples/video_call.py: two Python peers call each other through the signaling server."""

from __future__ import annotations

import asyncio
import contextlib
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
    calls = [video_call.Call(), video_call.Call()]
    tasks = []
    try:
        for call in calls:
            tasks.append(
                asyncio.ensure_future(video_call.run(server.ws_url, "room1", None, None, call))
            )
            await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while not all(c.frames["video"] >= 30 and c.frames["audio"] >= 30 for c in calls):
            assert loop.time() < end, [c.frames for c in calls]
            assert not any(t.done() for t in tasks)
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.close()


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
