"""Shared helpers for the signaling tests: WebSocket clients and a throwaway redis-server."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

TIMEOUT = 3.0


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next JSON message; fails the test on a close or anything but text."""
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
    data = json.loads(msg.data)
    assert isinstance(data, dict)
    return data


async def recv_close(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> int:
    """Skip messages until the server closes; return the close code."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            # The code in the close frame; ws.close_code may already say 1006 if the server
            # dropped the TCP connection right after its close frame.
            return int(msg.data)
        if msg.type == aiohttp.WSMsgType.CLOSED:
            assert ws.close_code is not None
            return ws.close_code
        if msg.type == aiohttp.WSMsgType.ERROR:
            raise AssertionError(f"websocket error {msg.data!r}")


async def no_message(ws: aiohttp.ClientWebSocketResponse, wait: float = 0.15) -> None:
    """Assert that nothing arrives within ``wait`` seconds."""
    try:
        msg = await asyncio.wait_for(ws.receive(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {msg.type} {msg.data!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """A private redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    workdir = tempfile.mkdtemp(prefix="rtcpeer-redis-")
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 5.0
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                ready = True
                break
            except OSError:
                await asyncio.sleep(0.02)
        if ready:
            break
        proc.kill()
        proc.wait()
    else:
        raise RuntimeError("could not start redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@asynccontextmanager
async def server_process(*args: str, timeout: float = 20.0) -> AsyncIterator[ServerProcess]:
    """``rtcpeer serve --port 0 ARGS`` in its own process; yields it once it prints its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcpeer", "serve", "--host", "127.0.0.1", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    handle = ServerProcess(proc, "")
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
            if not line:
                raise RuntimeError(f"rtcpeer serve exited early ({await proc.wait()})")
            match = re.search(r"signaling server on (http://\S+?)/?$", line.strip())
            if match:
                handle.url = match.group(1)
                break
        yield handle
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@dataclass
class ServerProcess:
    proc: asyncio.subprocess.Process
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:] + "/ws"

    def kill(self) -> None:
        """SIGKILL: the server dies without closing a socket or leaving a room."""
        self.proc.send_signal(signal.SIGKILL)
