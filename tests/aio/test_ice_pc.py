"""ICE features seen through RTCPeerConnection: the candidate pool (iceCandidatePoolSize),
ICE-TCP (``iceTcp``), the consent timeout extra (``iceConsentTimeout``) and the
icecandidateerror event's address/port."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pc"))
from pchelpers import close_all, event_future, negotiate, new_pc, open_pair, trickle, wait_for

from rtcpeer import RTCPeerConnection
from rtcpeer.aio.ice import IceTransport


def _ice(pc: RTCPeerConnection) -> IceTransport:
    ice = pc._ice
    assert ice is not None
    return ice


def _record(pc: RTCPeerConnection) -> list[Any]:
    log: list[Any] = []
    pc.addEventListener("icecandidate", lambda e: log.append(e.candidate))
    pc.addEventListener(
        "icegatheringstatechange", lambda e: log.append(("state", pc.iceGatheringState))
    )
    return log


async def test_pool_gathers_at_construction_and_releases_at_set_local_description() -> None:
    pc = new_pc(iceCandidatePoolSize=1)
    log = _record(pc)
    try:
        ice = _ice(pc)  # created with the peer connection
        await wait_for(lambda: ice.gathering_state == "complete", 3)
        # Held: nothing signalled, the peer connection's gathering state is still "new".
        assert log == [] and pc.iceGatheringState == "new"
        pooled = [c.to_sdp() for c in ice.local_candidates]
        pc.createDataChannel("x")
        t0 = time.perf_counter()
        await pc.setLocalDescription(await pc.createOffer())
        assert log == []  # released as queued tasks, never before the description
        await wait_for(lambda: pc.iceGatheringState == "complete", 1)
        elapsed = time.perf_counter() - t0
        assert elapsed < 1.0
        cands = [c for c in log if c is not None and not isinstance(c, tuple)]
        # Exactly the pooled candidates: nothing was gathered again.
        assert [c.candidate for c in cands] == pooled and ice is _ice(pc)
        assert cands and all(c.candidate.startswith("candidate:") for c in cands)
        assert all(c.usernameFragment == pc.localDescription.sdp.split("a=ice-ufrag:")[1][:8]
                   for c in cands)  # fmt: skip
        # W3C order: gathering, the candidates, the null candidate, complete.
        assert log[0] == ("state", "gathering")
        assert log[-2:] == [None, ("state", "complete")]
        sdp = pc.localDescription.sdp
        assert sdp.count("a=candidate:") == len(cands)
        assert "a=end-of-candidates" in sdp
    finally:
        await close_all(pc)


async def test_pooled_peers_connect_with_the_right_roles() -> None:
    a = new_pc(iceCandidatePoolSize=1)
    b = new_pc(iceCandidatePoolSize=2)
    trickle(a, b)
    try:
        remote = event_future(b, "datachannel")
        dc = a.createDataChannel("chat")
        opened = event_future(dc, "open")
        await wait_for(lambda: _ice(b).gathering_state == "complete", 3)
        await negotiate(a, b)
        await asyncio.wait_for(opened, 5)
        channel = (await asyncio.wait_for(remote, 5)).channel
        got = event_future(channel, "message")
        dc.send("pooled")
        assert (await asyncio.wait_for(got, 5)).data == "pooled"
        assert _ice(a).role == "controlling" and _ice(b).role == "controlled"
    finally:
        await close_all(a, b)


async def test_pool_discarded_on_close_and_by_set_configuration() -> None:
    pc = new_pc(iceCandidatePoolSize=1)
    ice = _ice(pc)
    await wait_for(lambda: ice.gathering_state == "complete", 3)
    sockets = list(ice._sockets.values())
    assert sockets and all(s.open for s in sockets)
    await close_all(pc)
    assert all(not s.open for s in sockets)

    pc = new_pc()
    try:
        assert pc._ice is None  # no pool, no transport before a description
        pc.setConfiguration({"includeLoopback": True, "iceCandidatePoolSize": 3})
        ice = _ice(pc)
        await wait_for(lambda: ice.gathering_state == "complete", 3)
        sockets = list(ice._sockets.values())
        pc.setConfiguration({"includeLoopback": True, "iceCandidatePoolSize": 0})
        assert pc._ice is None
        await wait_for(lambda: all(not s.open for s in sockets), 2)
        # Negotiation still gathers normally afterwards.
        log = _record(pc)
        pc.createDataChannel("x")
        await pc.setLocalDescription(await pc.createOffer())
        await wait_for(lambda: pc.iceGatheringState == "complete", 3)
        assert any(c is not None and not isinstance(c, tuple) for c in log)
    finally:
        await close_all(pc)


async def test_pool_without_running_loop_is_a_hint() -> None:
    def build() -> RTCPeerConnection:
        return RTCPeerConnection({"iceCandidatePoolSize": 4, "includeLoopback": True})

    pc = await asyncio.get_running_loop().run_in_executor(None, build)
    assert pc._ice is None  # no loop in that thread: gathering waits for setLocalDescription
    await close_all(pc)


async def test_tcp_only_between_two_peer_connections() -> None:
    a = new_pc(iceTcp=True)
    b = new_pc(ice_tcp=True)
    assert a.getConfiguration()["iceTcp"] is True
    trickle(a, b)
    try:
        remote = event_future(b, "datachannel")
        dc = a.createDataChannel("tcp")
        opened = event_future(dc, "open")
        await a.setLocalDescription(await a.createOffer())
        _ice(a).udp_blocked = True  # test hook: a firewall that drops all UDP
        await b.setRemoteDescription(a.localDescription)
        _ice(b).udp_blocked = True
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await asyncio.wait_for(opened, 8)
        channel = (await asyncio.wait_for(remote, 5)).channel
        got = event_future(channel, "message")
        dc.send(b"x" * 100_000)
        assert len((await asyncio.wait_for(got, 5)).data) == 100_000
        pair = _ice(a).get_selected_pair()
        assert pair is not None and pair[0].transport == "tcp" and pair[1].transport == "tcp"
        sdp = a.localDescription.sdp
        assert "tcptype passive" in sdp and "tcptype active" in sdp
    finally:
        await close_all(a, b)


async def test_tcp_off_by_default() -> None:
    pc = new_pc()
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription(await pc.createOffer())
        await wait_for(lambda: pc.iceGatheringState == "complete", 3)
        assert " tcp " not in pc.localDescription.sdp.lower()
        assert pc.getConfiguration()["iceTcp"] is False
    finally:
        await close_all(pc)


async def test_consent_timeout_extra_fails_ice_when_the_peer_goes_silent() -> None:
    a = new_pc(iceConsentTimeout=0.8)
    b = new_pc()
    trickle(a, b)
    states: list[str] = []
    a.addEventListener("iceconnectionstatechange", lambda e: states.append(a.iceConnectionState))
    try:
        dc = a.createDataChannel("c")
        opened = event_future(dc, "open")
        await negotiate(a, b)
        await asyncio.wait_for(opened, 5)
        assert _ice(a).consent_timeout == 0.8
        assert a.getConfiguration()["iceConsentTimeout"] == 0.8
        _ice(b).udp_blocked = True
        await wait_for(lambda: "failed" in states, 5)
    finally:
        await close_all(a, b)


def test_consent_timeout_extra_validation() -> None:
    for bad in (0, -1, "3", True):
        with pytest.raises(TypeError):
            RTCPeerConnection({"iceConsentTimeout": bad})
    pc = RTCPeerConnection({"ice_consent_timeout": 2})
    assert pc.getConfiguration()["iceConsentTimeout"] == 2.0
    assert RTCPeerConnection().getConfiguration()["iceConsentTimeout"] is None


async def test_icecandidateerror_carries_the_local_address_and_port() -> None:
    pc = new_pc(iceServers=[{"urls": "stun:127.0.0.1:9"}])
    errors: list[Any] = []
    pc.addEventListener("icecandidateerror", errors.append)
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription(await pc.createOffer())
        _ice(pc).stun_timeout = 0.3
        await wait_for(lambda: pc.iceGatheringState == "complete", 5)
        assert len(errors) == 1
        (err,) = errors
        host = next(c for c in _ice(pc).local_candidates if c.host == "127.0.0.1")
        assert (err.url, err.errorCode) == ("stun:127.0.0.1:9", 701)
        assert (err.address, err.port) == ("127.0.0.1", host.port)
        assert err.errorText
    finally:
        await close_all(pc)


async def test_emsgsize_sends_sctp_back_to_its_base_packet_size() -> None:
    a, b, dc, _ = await open_pair()
    try:
        conn = a._conn
        assert conn is not None and conn.channels is not None
        assoc = conn.channels.association
        dc.send(b"x" * 200_000)  # enough queued data to trigger the same-host 16 KiB probe
        await wait_for(lambda: assoc.mtu > 16000, 5)
        # What the ICE transport reports when a send fails with EMSGSIZE:
        assert _ice(a).on_datagram_too_big is not None  # the connection listens
        _ice(a)._datagram_too_big(assoc.mtu + 48)
        assert assoc.mtu == 1200 and _ice(a).datagrams_too_big == 1
        got = event_future(dc, "bufferedamountlow")
        dc.send(b"y" * 100_000)  # still flows, in small packets, and no new probe
        await asyncio.wait_for(got, 5)
        assert assoc.mtu == 1200
    finally:
        await close_all(a, b)
