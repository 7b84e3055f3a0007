"""UDP socket options of the ICE transport (buffers, don't-fragment), EMSGSIZE handling, the
public test hooks (``consent_timeout``, ``udp_blocked``) and ``set_role``."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_ice_transport import LO4, Peer, link

from rtcpeer.aio.ice import UDP_BUFFER_SIZE, IceTransport, tune_udp_socket
from rtcpeer.ice.agent import IceAgent, IceState, RoleChanged

LINUX = sys.platform.startswith("linux")


def _sysctl(name: str) -> int | None:
    try:
        with open(f"/proc/sys/net/core/{name}") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


async def _connected_pair(**kwargs: object) -> tuple[Peer, Peer]:
    a = Peer(True, [LO4], **kwargs)
    b = Peer(False, [LO4], **kwargs)
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
    return a, b


def test_udp_socket_buffers_and_dont_fragment() -> None:
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            continue  # no IPv6 in this kernel
        with sock:
            default = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            tune_udp_socket(sock, version)
            rcv = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            snd = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            if LINUX:
                # Linux doubles the value asked for (bookkeeping), capped at rmem_max/wmem_max.
                rmem, wmem = _sysctl("rmem_max"), _sysctl("wmem_max")
                if rmem is not None and wmem is not None:
                    assert rcv >= 2 * min(rmem, UDP_BUFFER_SIZE)
                    assert snd >= 2 * min(wmem, UDP_BUFFER_SIZE)
                if version == 4:
                    assert sock.getsockopt(socket.IPPROTO_IP, 10) == 2  # IP_PMTUDISC_DO
                else:
                    assert sock.getsockopt(socket.IPPROTO_IPV6, 23) == 2  # IPV6_PMTUDISC_DO
            else:
                assert rcv >= default


async def test_gathered_sockets_are_tuned() -> None:
    a = Peer(True, [LO4])
    await a.ice.gather()
    try:
        (sock,) = a.ice._sockets.values()
        if LINUX:
            assert sock.sock.getsockopt(socket.IPPROTO_IP, 10) == 2
            rmem = _sysctl("rmem_max")
            if rmem is not None:
                got = sock.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                assert got >= 2 * min(rmem, UDP_BUFFER_SIZE)
    finally:
        await a.ice.close()


async def test_oversized_datagram_is_dropped_and_reported() -> None:
    a, b = await _connected_pair()
    sizes: list[int] = []
    a.ice.on_datagram_too_big = sizes.append
    try:
        # Larger than any UDP datagram: EMSGSIZE from the data path and from the STUN path.
        a.ice.send(b"\x80" * 70000)
        assert a.ice.datagrams_too_big == 1 and sizes == [70000]
        (sock,) = a.ice._sockets.values()
        sock.sendto(b"\x00" * 70000, ("127.0.0.1", 9))
        assert a.ice.datagrams_too_big == 2 and sizes == [70000, 70000]
        # The loopback MTU (65536) still carries a 16 KiB datagram (SCTP's same-host probe).
        a.ice.send(b"\x80" + bytes(16383))
        await asyncio.wait_for(b.got_data.wait(), 2.0)
        assert [len(d) for d in b.data] == [16384]
        assert a.ice.datagrams_too_big == 2
    finally:
        await a.ice.close()
        await b.ice.close()


def _non_loopback_ipv4() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks a route, sends nothing
        addr = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if addr.startswith("127.") else addr


@pytest.mark.skipif(not LINUX, reason="IP_MTU_DISCOVER is Linux-only")
def test_dont_fragment_refuses_datagrams_over_the_interface_mtu() -> None:
    local = _non_loopback_ipv4()
    if local is None:
        pytest.skip("no non-loopback IPv4 route in this sandbox")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        tune_udp_socket(sock, 4)
        sock.bind((local, 0))
        with pytest.raises(OSError) as info:
            # Over the link MTU of any Ethernet-like route (< 9000): never fragmented.
            sock.sendto(bytes(20000), ("192.0.2.1", 9))
        assert info.value.errno == 90  # EMSGSIZE


async def test_consent_timeout_hook_and_udp_blocked() -> None:
    a, b = await _connected_pair(consent_timeout=30.0)
    try:
        assert a.ice.consent_timeout == 30.0
        a.ice.consent_timeout = 0.6
        assert a.ice.agent.consent_timeout == 0.6
        with pytest.raises(ValueError):
            a.ice.consent_timeout = 0
        # b goes silent (a firewall in front of it): a's consent expires, ICE fails.
        b.ice.udp_blocked = True
        assert b.ice.udp_blocked
        b.ice.send(b"\x80lost")
        await asyncio.sleep(0.05)
        assert a.data == []
        for _ in range(400):
            if IceState.FAILED in a.states:
                break
            await asyncio.sleep(0.01)
        assert IceState.FAILED in a.states
        b.ice.udp_blocked = False
        assert not b.ice.udp_blocked
    finally:
        await a.ice.close()
        await b.ice.close()


async def test_udp_blocked_before_gathering_keeps_new_sockets_silent() -> None:
    a = Peer(True, [LO4])
    b = Peer(False, [LO4])
    a.ice.udp_blocked = True
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b.ice.connect(), 0.5)
        assert b.ice.state is not IceState.CONNECTED
    finally:
        await a.ice.close()
        await b.ice.close()


def test_agent_set_role() -> None:
    agent = IceAgent(True)
    agent.set_role(False)
    assert agent.controlling is False
    assert [e for e in agent.events() if isinstance(e, RoleChanged)] == [RoleChanged(False)]
    agent.set_role(False)  # no change, no event
    assert agent.events() == []


async def test_set_role_before_checks() -> None:
    # Both created controlling (a pool guesses the role); one learns it is controlled.
    a = Peer(True, [LO4])
    b = Peer(True, [LO4])
    b.ice.set_role(False)
    assert b.ice.role == "controlled"
    link(a, b)
    await asyncio.gather(a.ice.gather(), b.ice.gather())
    try:
        await asyncio.wait_for(asyncio.gather(a.ice.connect(), b.ice.connect()), 5.0)
        assert a.ice.role == "controlling" and b.ice.role == "controlled"
    finally:
        await a.ice.close()
        await b.ice.close()


def test_transport_consent_timeout_keyword_validates() -> None:
    with pytest.raises(ValueError):
        IceTransport(True, consent_timeout=-1.0)
    assert IceTransport(True, consent_timeout=2.5).consent_timeout == 2.5
