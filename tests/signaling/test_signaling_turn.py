"""TURN REST credentials from the signaling server carry a data channel with policy "relay".

Two TURN servers: the embedded one started by ``rtcpeer serve --turn embedded``, and coturn
(installed by scripts/setup.sh) in ``use-auth-secret`` mode, the production set-up
docs/signaling.md describes. The signaling server mints each peer's credentials from the shared
secret; the selected candidate pair must be relay/relay on both sides.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
from signaling_helpers import free_port

from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.peers import RoomPeers, create_negotiated_channel
from rtcpeer.signaling.server import run_server
from rtcpeer.signaling.turn import turn_credentials

SECRET = "test-shared-secret"
COTURN = shutil.which("turnserver")


@pytest.fixture
def coturn() -> Iterator[str]:
    if COTURN is None:
        raise RuntimeError("coturn's turnserver is not installed (scripts/setup.sh installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rtcpeer-coturn-") as workdir:
        proc = subprocess.Popen(
            [COTURN, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
             "--realm=rtcpeer", "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
             f"--pidfile={workdir}/pid", f"--userdb={workdir}/turndb", "--log-file=stdout",
             "--min-port=49152", "--max-port=65000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield f"turn:127.0.0.1:{port}?transport=udp"
        finally:
            proc.terminate()
            proc.wait(10)


async def _relay_pair(pc: Any) -> tuple[str, str]:
    stats = await pc.getStats()
    transport = next(s for s in stats.values() if s.get("type") == "transport")
    pair = stats[transport["selectedCandidatePairId"]]
    local = stats[pair["localCandidateId"]]
    remote = stats[pair["remoteCandidateId"]]
    return local["candidateType"], remote["candidateType"]


async def _relay_chat(url: str) -> None:
    """Two Python peers with iceTransportPolicy "relay" exchange messages; pairs are relay."""
    async with (
        SignalingChannel(url, "relay", "a") as a,
        SignalingChannel(url, "relay", "b") as b,
    ):
        turn = a.ice_servers[0]
        assert turn["urls"][0].startswith("turn:127.0.0.1:")
        expiry, _, user = turn["username"].partition(":")
        assert user == "a" and int(expiry) > time.time() + 3600
        got: dict[str, asyncio.Future[str]] = {
            "a": asyncio.get_running_loop().create_future(),
            "b": asyncio.get_running_loop().create_future(),
        }
        channels: dict[str, Any] = {}

        def setup_for(me: str) -> Any:
            def setup(pc: Any, peer: str) -> None:
                chan = create_negotiated_channel(pc, "chat", 0)
                channels[me] = chan
                chan.addEventListener("open", lambda e: chan.send(f"hi from {me}"))

                def on_message(event: Any) -> None:
                    if not got[me].done():
                        got[me].set_result(event.data)

                chan.addEventListener("message", on_message)

            return setup

        peers_a = RoomPeers(a, setup_for("a"), ice_transport_policy="relay")
        peers_b = RoomPeers(b, setup_for("b"), ice_transport_policy="relay")
        try:
            assert await asyncio.wait_for(got["a"], 15) == "hi from b"
            assert await asyncio.wait_for(got["b"], 15) == "hi from a"
            for peers in (peers_a, peers_b):
                ((pc, _),) = peers.connections.values()
                assert await _relay_pair(pc) == ("relay", "relay")
        finally:
            await peers_a.close()
            await peers_b.close()


async def test_data_channel_over_coturn_with_rest_credentials(coturn: str) -> None:
    await asyncio.sleep(0.3)  # coturn binds its listener
    async with await run_server(turn_secret=SECRET, turn_urls=[coturn]) as server:
        await _relay_chat(server.url)
    # The credentials are coturn's use-auth-secret scheme, computed as documented.
    username, credential = turn_credentials(SECRET, "a", 60.0, 1000.0)
    digest = hmac.new(SECRET.encode(), b"1060:a", hashlib.sha1).digest()
    assert (username, credential) == ("1060:a", base64.b64encode(digest).decode())


async def test_data_channel_over_the_embedded_turn_server_via_cli() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtcpeer", "serve", "--port", "0", "--turn", "embedded",
         "--turn-host", "127.0.0.1", "--turn-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.lstrip().startswith("TURN:") for line in lines):
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
            assert line, (lines, proc.stderr.read() if proc.stderr else "")
            lines.append(line)
        url = lines[0].split(" on ", 1)[1].strip().rstrip("/")
        assert "turn:127.0.0.1:" in lines[-1]
        await _relay_chat(url)
    finally:
        proc.terminate()
        proc.wait(10)
