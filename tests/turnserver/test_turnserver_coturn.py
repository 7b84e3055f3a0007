"""TurnClient against a real coturn ``turnserver`` on loopback: interop with an independent
implementation (long-term credentials and TURN REST API secrets)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator

import pytest
from test_turnserver_loopback import relay_round_trip
from turn_driver import ClientDriver, PeerSocket

from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, parse
from rtcpeer.stun.turn_client import AllocationFailed, AllocationSucceeded, TurnClient
from rtcpeer.turnserver import rest_credentials

COTURN = "/usr/bin/turnserver"
# CI installs coturn (scripts/setup.sh); a missing binary is a failure, not a skip.
pytestmark = pytest.mark.interop
SECRET = "rest-secret"


def free_port() -> int:
    # A port free for both UDP and TCP (coturn listens on both).
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return int(port)
    raise RuntimeError("no free port")


def binding_ok(port: int) -> bool:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(msg.encode(fingerprint=True), ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    reply = parse(data)
    return reply.message_class == MessageClass.SUCCESS and reply.has(Attr.XOR_MAPPED_ADDRESS)


async def start_coturn(*auth: str) -> AsyncIterator[int]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="coturn-")
    relay_low = 20000 + (port % 20000)
    args = [
        COTURN,
        "-n",
        "--no-cli",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--realm=rtcpeer.test",
        "--no-tls",
        "--no-dtls",
        "--allow-loopback-peers",
        "--log-file=stdout",
        "--simple-log",
        f"--min-port={relay_low}",
        f"--max-port={relay_low + 200}",
        f"--pidfile={workdir}/turn.pid",
        f"--userdb={workdir}/turndb",
        "--no-rfc5780",
        *auth,
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(binding_ok, port):
            assert proc.poll() is None, "coturn exited"
            assert time.monotonic() < deadline, "coturn did not answer"
            await asyncio.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def coturn_lt() -> AsyncIterator[int]:
    async for port in start_coturn("--lt-cred-mech", "--user=alice:wonderland"):
        yield port


@pytest.fixture
async def coturn_rest() -> AsyncIterator[int]:
    async for port in start_coturn("--use-auth-secret", f"--static-auth-secret={SECRET}"):
        yield port


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_coturn_long_term(coturn_lt: int, transport: str) -> None:
    peer = await PeerSocket.open()
    client = TurnClient(
        ("127.0.0.1", coturn_lt),
        "alice",
        "wonderland",
        transport=transport,  # type: ignore[arg-type]
    )
    driver = ClientDriver(client)
    try:
        await driver.start()
        await relay_round_trip(driver, peer)
        assert client.mapped_address is not None
        assert client.mapped_address[0] == "127.0.0.1"
        await driver.close()
        assert client.state == "closed"
    finally:
        peer.close()


async def test_coturn_wrong_password(coturn_lt: int) -> None:
    driver = ClientDriver(TurnClient(("127.0.0.1", coturn_lt), "alice", "wrong"))
    await driver.start()
    failed = await driver.wait_for(AllocationFailed)
    assert failed.code == 401
    await driver.close()


async def test_coturn_rest_api(coturn_rest: int) -> None:
    username, password = rest_credentials(SECRET, "carol", int(time.time()) + 600)
    peer = await PeerSocket.open()
    driver = ClientDriver(TurnClient(("127.0.0.1", coturn_rest), username, password))
    try:
        await driver.start()
        ok = await driver.wait_for(AllocationSucceeded)
        assert ok.relayed_address[0] == "127.0.0.1"
        await relay_round_trip(driver, peer)
        await driver.close()
    finally:
        peer.close()
