"""The data path's performance features and the error paths around it.

- SCTP core (fake clock, lossless in-memory link): path MTU probe (HEARTBEAT + PAD), slow
  start with stretch SACKs, SACK-IMMEDIATE when the window fills, SHUTDOWN COMPLETE for an
  out-of-the-blue SHUTDOWN ACK;
- full stack over UDP loopback: large packets only between rtcpeer peers
  (a=x-rtcpeer-max-packet), OperationError on a full send queue, fatal SCTP errors closing
  the channels with an error, a changed remote fingerprint refused.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from pchelpers import close_all, event_future, new_pc, open_pair, trickle

from rtcpeer import InvalidAccessError, OperationError, RTCPeerConnection
from rtcpeer.aio.connection import LOOPBACK_MTU, MAX_PACKET_ATTRIBUTE
from rtcpeer.sctp.association import Association, AssociationState, DataReceived
from rtcpeer.sctp.chunks import FLAG_IMMEDIATE, iter_chunks

# --------------------------------------------------------------------- SCTP core, in memory


def _pump(a: Association, b: Association, now: float, log: list[bytes] | None = None) -> None:
    for _ in range(10_000):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for packet in src.packets_to_send():
                moved = True
                if log is not None and src is a:
                    log.append(packet)
                dst.receive(packet, now)
        if not moved:
            return
    raise AssertionError("no quiescence")


def _pair() -> tuple[Association, Association]:
    a = Association(True, rng=random.Random(1))
    b = Association(False, rng=random.Random(2))
    a.connect(1.0)
    b.connect(1.0)
    _pump(a, b, 1.0)
    assert a.state is b.state is AssociationState.ESTABLISHED
    a.events()
    b.events()
    return a, b


def test_mtu_probe_raises_the_packet_size() -> None:
    a, b = _pair()
    assert a.mtu == 1200
    assert a.probe_mtu(16384, 2.0)
    probe = a.packets_to_send()
    assert len(probe) == 1 and 16380 < len(probe[0]) <= 16384
    assert [c[0] for c in iter_chunks(probe[0])] == [4, 0x84]  # HEARTBEAT + PAD
    b.receive(probe[0], 2.0)
    _pump(a, b, 2.0)
    assert 16380 < a.mtu <= 16384 and b.mtu == 1200  # only the prober's sending side changes
    log: list[bytes] = []
    a.send(1, 53, bytes(100_000), now=2.0)
    _pump(a, b, 2.0, log)
    got = [e for e in b.events() if isinstance(e, DataReceived)]
    assert [len(e.data) for e in got] == [100_000]
    assert max(len(p) for p in log) > 16000
    assert not a.probe_mtu(16384, 3.0)  # not above the current MTU: nothing sent


def test_unanswered_probe_changes_nothing() -> None:
    a, b = _pair()
    assert a.probe_mtu(9000, 2.0)
    a.packets_to_send()  # lost
    _pump(a, b, 2.0)
    assert a.mtu == 1200
    a.send(1, 53, bytes(5000), now=2.0)
    log: list[bytes] = []
    _pump(a, b, 2.0, log)
    assert max(len(p) for p in log) <= 1200


def test_stretch_sack_grows_slow_start_like_per_two_packet_sacks() -> None:
    a, b = _pair()
    start = a.cwnd
    a.send(1, 53, bytes(200_000), now=2.0)
    burst = a.packets_to_send()
    assert len(burst) >= 3
    for packet in burst:  # the receiver reads the whole burst, then SACKs once
        b.receive(packet, 2.0)
    sacks = b.packets_to_send()
    assert len(sacks) == 1
    acked = sum(len(p) - 28 for p in burst)  # DATA payload of the burst
    a.receive(sacks[0], 2.01)
    # One MTU per two packets acked, as if the peer had sent a SACK every second packet.
    assert a.cwnd >= start + acked // 2 - 64
    assert a.cwnd > start + 1200


def test_last_chunk_of_a_full_window_asks_for_an_immediate_sack() -> None:
    a, b = _pair()
    a.send(1, 53, bytes(50_000), now=2.0)
    burst = a.packets_to_send()
    flags = [c[1] for p in burst for c in iter_chunks(p) if c[0] == 0]
    assert flags[-1] & FLAG_IMMEDIATE
    assert not any(f & FLAG_IMMEDIATE for f in flags[:-1])
    b.receive(burst[-1], 2.0)
    assert b.packets_to_send()  # SACKed at once, no delayed-ack timer


def test_shutdown_ack_after_close_gets_shutdown_complete() -> None:
    a, b = _pair()
    a.shutdown(2.0)
    shutdown = a.packets_to_send()
    for p in shutdown:
        b.receive(p, 2.0)
    shutdown_ack = b.packets_to_send()
    for p in shutdown_ack:
        a.receive(p, 2.0)
    complete = a.packets_to_send()
    assert a.state is AssociationState.CLOSED
    # SHUTDOWN COMPLETE lost; b retransmits SHUTDOWN ACK to the closed a.
    b.timeout(10.0)
    again = b.packets_to_send()
    assert again and complete
    for p in again:
        a.receive(p, 10.0)
    answer = a.packets_to_send()
    assert len(answer) == 1 and answer[0][12] == 14 and answer[0][13] & 1  # T bit
    b.receive(answer[0], 10.0)
    assert b.state is AssociationState.CLOSED


# --------------------------------------------------------------------- full stack, loopback


def _strip_max_packet(pc: RTCPeerConnection) -> None:
    """Make ``pc`` look like a browser: its descriptions lose a=x-rtcpeer-max-packet."""
    original = pc._write

    def write(*args: Any, **kwargs: Any) -> str:
        sdp = original(*args, **kwargs)
        return "".join(
            line for line in sdp.splitlines(keepends=True) if MAX_PACKET_ATTRIBUTE not in line
        )

    pc._write = write  # type: ignore[method-assign]


async def _open(a: RTCPeerConnection, b: RTCPeerConnection) -> tuple[Any, Any]:
    trickle(a, b)
    remote = event_future(b, "datachannel")
    dc = a.createDataChannel("data")
    opened = event_future(dc, "open")
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened, 5)
    return dc, (await asyncio.wait_for(remote, 5)).channel


async def _transfer(dc: Any, other: Any, sizes: list[int]) -> list[int]:
    got: list[int] = []
    done = asyncio.get_running_loop().create_future()

    def on_message(ev: Any) -> None:
        got.append(len(ev.data))
        if len(got) == len(sizes) and not done.done():
            done.set_result(None)

    other.addEventListener("message", on_message)
    for size in sizes:
        dc.send(bytes(size))
    await asyncio.wait_for(done, 10)
    return got


async def _wait_mtu(pc: RTCPeerConnection, mtu: int) -> None:
    for _ in range(200):
        assert pc._conn is not None and pc._conn.channels is not None
        if pc._conn.channels.association.mtu >= mtu:
            return
        await asyncio.sleep(0.01)


async def test_rtcpeer_peers_use_full_record_packets_on_loopback() -> None:
    a, b, dc, other = await open_pair()
    try:
        local = a.localDescription
        assert local is not None and f"a={MAX_PACKET_ATTRIBUTE}:{LOOPBACK_MTU}" in local.sdp
        # An idle or chatty connection keeps 1,200-byte packets (no record-sized buffers)...
        assert await _transfer(dc, other, [10, 20]) == [10, 20]
        for pc in (a, b):
            assert pc._conn is not None and pc._conn.channels is not None
            assert pc._conn.channels.association.mtu == 1200
        # ...bulk data makes each side probe for full-record packets.
        assert await _transfer(dc, other, [200_000]) == [200_000]
        assert await _transfer(other, dc, [200_000]) == [200_000]
        await _wait_mtu(a, 16000)
        await _wait_mtu(b, 16000)
        for pc in (a, b):
            assert pc._conn is not None and pc._conn.channels is not None
            assert pc._conn.channels.association.mtu > 16000
        assert a._conn is not None
        sent = a._conn.packets_sent
        sizes = [1, 65536, 200_000, 17]
        assert await _transfer(dc, other, sizes) == sizes
        assert a._conn is not None and a._conn.packets_sent - sent < 40
    finally:
        await close_all(a, b)


async def test_no_large_packets_toward_a_peer_without_the_attribute() -> None:
    a, b = new_pc(), new_pc()
    _strip_max_packet(b)
    try:
        dc, other = await _open(a, b)
        await asyncio.sleep(0.1)
        assert a._conn is not None and a._conn.channels is not None
        assert a._conn.channels.association.mtu == 1200  # b never announced it: no probe
        assert await _transfer(other, dc, [200_000]) == [200_000]  # bulk data from b
        await _wait_mtu(b, 16000)  # a announced it: b may probe a
        sizes = [70_000, 3]
        assert await _transfer(dc, other, sizes) == sizes
        assert await _transfer(other, dc, sizes) == sizes
    finally:
        await close_all(a, b)


async def test_send_raises_operation_error_when_the_queue_is_full() -> None:
    a, b, dc, other = await open_pair()
    try:
        assert a._conn is not None and a._conn.channels is not None
        a._conn.channels.association.max_send_buffer = 100_000
        with pytest.raises(OperationError):
            for _ in range(10):
                dc.send(bytes(30_000))
        assert dc.readyState == "open"
        queued = dc.bufferedAmount
        assert 0 < queued <= 100_000
        with pytest.raises(OperationError):
            dc.send(bytes(100_001))
        assert dc.bufferedAmount == queued  # nothing queued by the failed calls
    finally:
        await close_all(a, b)


async def test_fatal_sctp_error_closes_channels_with_an_error() -> None:
    a, b = new_pc(), new_pc()
    _strip_max_packet(a)
    _strip_max_packet(b)  # 1200-byte packets: a large message arrives in fragments
    try:
        dc, other = await _open(a, b)
        assert b._conn is not None and b._conn.channels is not None
        b._conn.channels.association.max_reassembly = 10_000
        errors: list[Any] = []
        other.addEventListener("error", errors.append)
        closed = event_future(other, "close")
        a_closed = event_future(dc, "close")
        dc.send(bytes(50_000))
        await asyncio.wait_for(closed, 5)
        await asyncio.wait_for(a_closed, 5)  # the ABORT reached the sender too
        assert len(errors) == 1 and errors[0].error.errorDetail == "sctp-failure"
        assert "reassembly-limit" in str(errors[0].error)
        assert [e.kind for e in b._chans.sctp_errors] == ["reassembly-limit"]
    finally:
        await close_all(a, b)


async def test_changed_remote_fingerprint_is_refused() -> None:
    a, b, dc, other = await open_pair()
    try:
        await b.setLocalDescription(await b.createOffer())
        assert b.localDescription is not None
        genuine = b.localDescription.sdp
        line = next(x for x in genuine.splitlines() if x.startswith("a=fingerprint:"))
        last = line[-2:]
        forged = genuine.replace(line, line[:-2] + ("00" if last != "00" else "11"))
        with pytest.raises(InvalidAccessError):
            await a.setRemoteDescription({"type": "offer", "sdp": forged})
        assert a.signalingState == "stable" and a.connectionState == "connected"
        # The genuine renegotiation still works, and data still flows.
        await a.setRemoteDescription({"type": "offer", "sdp": genuine})
        await a.setLocalDescription(await a.createAnswer())
        await b.setRemoteDescription(a.localDescription)
        assert await _transfer(dc, other, [10]) == [10]
    finally:
        await close_all(a, b)


async def test_path_change_goes_back_to_safe_packets_then_probes_again() -> None:
    a, b, dc, other = await open_pair()
    try:
        assert await _transfer(dc, other, [200_000]) == [200_000]
        await _wait_mtu(a, 16000)
        assert a._conn is not None and a._conn.channels is not None
        assoc = a._conn.channels.association
        assert assoc.mtu > 16000
        a._conn.selected_pair_changed()  # as the peer connection does when ICE switches pairs
        assert assoc.mtu == 1200
        assert await _transfer(dc, other, [200_000]) == [200_000]
        await _wait_mtu(a, 16000)  # still the same host: the new probe succeeds
        assert assoc.mtu > 16000
        assert await _transfer(dc, other, [100_000]) == [100_000]
    finally:
        await close_all(a, b)
