"""TurnClient against the embedded TurnServer over real loopback UDP and TCP."""

from __future__ import annotations

import asyncio
import time

import pytest
from turn_driver import ClientDriver, PeerSocket

from rtcpeer.stun.turn_client import (
    AllocationFailed,
    AllocationSucceeded,
    ChannelBound,
    PermissionCreated,
    TurnClient,
)
from rtcpeer.turnserver import TurnServer, rest_credentials


async def relay_round_trip(driver: ClientDriver, peer: PeerSocket) -> None:
    ok = await driver.wait_for(AllocationSucceeded)
    relayed = ok.relayed_address
    assert relayed[0] == peer.address[0]  # loopback relay of the peer's family
    assert ok.lifetime == 600
    # First packet: permission, then Send indication.
    assert driver.send(b"hello peer", peer.address)
    data, src = await asyncio.wait_for(peer.queue.get(), 3)
    assert data == b"hello peer"
    assert src == relayed
    await driver.wait_for(PermissionCreated)
    # The peer answers to the relayed address; it arrives through the server.
    assert peer.transport is not None
    peer.transport.sendto(b"hello client", relayed)
    got_peer, got = await asyncio.wait_for(driver.received.get(), 3)
    assert (got_peer, got) == (peer.address, b"hello client")
    # A channel is bound after the first send; later traffic uses ChannelData both ways.
    bound = await driver.wait_for(ChannelBound)
    assert bound.peer == peer.address and 0x4000 <= bound.channel <= 0x4FFF
    for i in range(20):
        assert driver.send(b"x%d" % i, peer.address)
    for i in range(20):
        data, _ = await asyncio.wait_for(peer.queue.get(), 3)
        assert data == b"x%d" % i
    peer.transport.sendto(b"via channel", relayed)
    assert await asyncio.wait_for(driver.received.get(), 3) == (peer.address, b"via channel")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_allocate_permission_channel_relay(transport: str) -> None:
    server = TurnServer("test.realm", users={"alice": "secret"}, listen=("127.0.0.1", 0))
    await server.start()
    peer = await PeerSocket.open()
    try:
        addr = server.udp_address if transport == "udp" else server.tcp_address
        assert addr is not None
        client = TurnClient(addr, "alice", "secret", transport=transport)  # type: ignore[arg-type]
        driver = ClientDriver(client)
        await driver.start()
        await relay_round_trip(driver, peer)
        assert len(server.core.allocations) == 1
        alloc = server.core.allocations[0]
        assert client.channels == {peer.address: next(iter(alloc.channels))}
        await driver.close()
        assert client.state == "closed"
        assert server.core.allocations == []
    finally:
        peer.close()
        await server.close()


async def test_wrong_password_fails_with_401() -> None:
    async with TurnServer("r", users={"alice": "secret"}, listen=("127.0.0.1", 0)) as server:
        assert server.udp_address is not None
        driver = ClientDriver(TurnClient(server.udp_address, "alice", "nope"))
        await driver.start()
        failed = await driver.wait_for(AllocationFailed)
        assert failed.code == 401
        assert driver.client.state == "failed"
        await driver.close()


async def test_rest_api_credentials() -> None:
    secret = "s3cret"
    async with TurnServer("r", auth_secret=secret, listen=("127.0.0.1", 0)) as server:
        assert server.udp_address is not None
        username, password = rest_credentials(secret, "bob", int(time.time()) + 3600)
        driver = ClientDriver(TurnClient(server.udp_address, username, password))
        await driver.start()
        await driver.wait_for(AllocationSucceeded)
        await driver.close()
        expired, password = rest_credentials(secret, "bob", int(time.time()) - 10)
        driver = ClientDriver(TurnClient(server.udp_address, expired, password))
        await driver.start()
        assert (await driver.wait_for(AllocationFailed)).code == 401
        await driver.close()


async def test_quota_per_user() -> None:
    async with TurnServer(
        "r", users={"u": "p"}, listen=("127.0.0.1", 0), max_allocations_per_user=1
    ) as server:
        assert server.udp_address is not None
        first = ClientDriver(TurnClient(server.udp_address, "u", "p"))
        await first.start()
        await first.wait_for(AllocationSucceeded)
        second = ClientDriver(TurnClient(server.udp_address, "u", "p"))
        await second.start()
        assert (await second.wait_for(AllocationFailed)).code == 486
        await first.close()
        await second.close()


async def test_cli_style_construction_and_signaling_credentials() -> None:
    # rtcpeer.cli builds the server this way and hands out rtcpeer.signaling.turn credentials.
    from rtcpeer.signaling.turn import turn_credentials

    server = TurnServer(host="127.0.0.1", port=0, auth_secret="shared", realm="cli.realm")
    await server.start()
    try:
        assert server.port is not None and server.port > 0
        assert server.relay_address == "127.0.0.1"
        username, credential = turn_credentials("shared", "web-user", 600, time.time())
        driver = ClientDriver(TurnClient(("127.0.0.1", server.port), username, credential))
        await driver.start()
        ok = await driver.wait_for(AllocationSucceeded)
        assert ok.relayed_address[0] == "127.0.0.1"
        await driver.close()
    finally:
        await server.close()


async def test_ipv6_relay_over_loopback() -> None:
    server = TurnServer("r", users={"alice": "secret"}, listen=("::1", 0), relay_address="::1")
    await server.start()
    peer = await PeerSocket.open("::1")
    try:
        assert server.udp_address is not None
        client = TurnClient(server.udp_address, "alice", "secret", requested_family=2)
        driver = ClientDriver(client)
        await driver.start()
        ok = await driver.wait_for(AllocationSucceeded)
        assert ok.relayed_address[0] == "::1"
        assert ok.mapped_address is not None and ok.mapped_address[0] == "::1"
        await relay_round_trip(driver, peer)
        await driver.close()
    finally:
        peer.close()
        await server.close()
