"""Limits that the reliability work found missing or not wired (issue 9). Each test names the
file and function that needs the change; they fail until those land. The lead decides whether
this file runs in CI (see docs/limits.md, "Not enforced yet")."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from relay import Impairment
from relhelpers import close_all, event_future, negotiate, new_pc, relayed_pair, wait_for

from rtcpeer import OperationError
from rtcpeer.limits import DEFAULT_LIMITS
from rtcpeer.peerconnection import LOCAL_MAX_MESSAGE_SIZE
from rtcpeer.sctp.association import Association, AssociationError
from rtcpeer.sctp.chunks import FLAG_BEGIN, DataChunk, Packet, parse_packet


async def test_full_send_buffer_raises_operation_error_at_the_per_channel_limit() -> None:
    """W3C webrtc-pc 6.2 send(): "If the size of data would exceed the buffer, throw an
    OperationError" (Chromium: 16 MiB per channel). rtcpeer raises InvalidStateError (
    src/rtcpeer/datachannel.py RTCDataChannel.send converts the core's OperationError) and only
    at the association's 64 MiB (src/rtcpeer/sctp/channels.py DataChannelCore.send has no
    per-channel limit)."""
    relay, a, b, dc, remote = await relayed_pair()
    try:
        relay.a_to_b.impairment = Impairment(loss=1.0)  # B never reads
        chunk = bytes(256 * 1024)
        sent = 0
        error: BaseException | None = None
        try:
            for _ in range(512):
                dc.send(chunk)
                sent += len(chunk)
        except Exception as exc:
            error = exc
        assert isinstance(error, OperationError), repr(error)
        assert sent <= DEFAULT_LIMITS.max_buffered_amount
        assert dc.readyState == "open"
    finally:
        await close_all(a, b)
        relay.close()


async def test_remote_candidates_are_capped() -> None:
    """A peer that trickles thousands of candidates: keep at most max_remote_candidates.
    src/rtcpeer/ice/agent.py IceAgent.add_remote_candidate appends to ``_remote`` without a
    bound (only prflx learning checks max_pairs); src/rtcpeer/peerconnection.py
    _add_ice_candidate also appends every line to the remote description."""
    a, b = new_pc(), new_pc()
    try:
        a.createDataChannel("x")
        await negotiate(a, b)
        for i in range(2000):
            port = 10000 + i
            await b.addIceCandidate(
                {
                    # TEST-NET-3 (RFC 5737): checks sent there reach no one.
                    "candidate": f"candidate:{i} 1 udp {2000000000 - i} 203.0.113."
                    f"{i % 250 + 1} {port} typ host",
                    "sdpMid": "0",
                }
            )
        report = await b.getStats()
        remote = [s for s in report.values() if s["type"] == "remote-candidate"]
        assert len(remote) <= DEFAULT_LIMITS.max_remote_candidates, len(remote)
        assert b.remoteDescription is not None
        assert b.remoteDescription.sdp.count("a=candidate:") <= (
            DEFAULT_LIMITS.max_remote_candidates
        )
    finally:
        await close_all(a, b)


async def test_remote_channel_flood_is_capped_with_default_configuration() -> None:
    """A peer opening more channels than Limits.max_channels: the extra DCEP OPENs are refused.
    src/rtcpeer/aio/connection.py Connection.start creates DataChannelCore without
    ``max_channels`` (default 65535)."""
    relay, a, b, dc, remote = await relayed_pair()
    created: list[Any] = []
    b.addEventListener("datachannel", created.append)
    try:
        limit = DEFAULT_LIMITS.max_channels
        channels = [a.createDataChannel(f"c{i}") for i in range(limit + 16)]
        await wait_for(lambda: len(created) >= limit - 1, 20)
        await asyncio.sleep(0.5)
        assert len(created) + 1 <= limit  # +1: the channel relayed_pair opened
        assert any(c.readyState == "closed" for c in channels)
    finally:
        await close_all(a, b)
        relay.close()


async def test_create_data_channel_beyond_the_limit_raises_operation_error() -> None:
    """W3C webrtc-pc 6.1 createDataChannel: once the DTLS role is known, "if no available ID
    could be generated ... throw an OperationError". With Limits.max_channels as the number of
    ids available, the 1024th extra channel must raise (src/rtcpeer/pc/channels.py /
    src/rtcpeer/peerconnection.py createDataChannel; DataChannelCore built with max_channels)."""
    relay, a, b, dc, remote = await relayed_pair()
    try:
        error: BaseException | None = None
        made = 0
        try:
            for i in range(DEFAULT_LIMITS.max_channels + 1):
                a.createDataChannel(f"c{i}")
                made += 1
        except OperationError as exc:
            error = exc
        assert error is not None, f"{made} channels created"
        assert made + 1 <= DEFAULT_LIMITS.max_channels
    finally:
        await close_all(a, b)
        relay.close()


def test_oversized_partial_message_is_reported_when_it_crosses_the_limit() -> None:
    """A message that never ends is bounded but only reported when its last fragment arrives
    (never, for a hostile peer). src/rtcpeer/sctp/receiver.py _add_fragment should append the
    AssociationError("message-too-big") when ``p.oversized`` is first set."""
    a = Association(True, rng=random.Random(1), max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024)
    b = Association(False, rng=random.Random(2), max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024)
    now = 1000.0
    a.connect(now)
    b.connect(now)
    for _ in range(20):
        for src, dst in ((a, b), (b, a)):
            for pkt in src.packets_to_send():
                dst.receive(pkt, now)
    a.send(1, 53, b"probe", now=now)
    pkts = a.packets_to_send()
    tsn = max(c.tsn for p in pkts for c in parse_packet(p).chunks if isinstance(c, DataChunk)) + 1
    for p in pkts:
        b.receive(p, now)
    b.events()
    for i in range(400):  # 440 KB of one message, the limit is 257 KiB
        flags = FLAG_BEGIN if i == 0 else 0
        chunk = DataChunk(tsn + i, 2, 0, 53, bytes(1100), flags)
        b.receive(Packet(5000, 5000, b.local_tag, [chunk]).encode(), now)
        b.packets_to_send()
    kinds = [e.kind for e in b.events() if isinstance(e, AssociationError)]
    assert "message-too-big" in kinds


async def test_receiver_reports_a_dropped_oversized_message_to_the_application() -> None:
    """B drops a message above its a=max-message-size (the sender ignored the SDP). Nothing
    reaches B's application and nothing tells it: the loss should be reported (for instance an
    "error" RTCErrorEvent on the channel with errorDetail "sctp-failure"), not only logged.
    src/rtcpeer/aio/connection.py / peerconnection.py drop AssociationError events."""
    relay, a, b, dc, remote = await relayed_pair()
    errors: list[Any] = []
    remote.addEventListener("error", errors.append)
    b.addEventListener("error", errors.append)
    try:
        conn = a.sctp
        assert conn is not None and conn.channels is not None
        conn.channels.set_remote_max_message_size(0)  # A ignores B's limit
        got = event_future(remote, "message")
        dc.send(bytes(LOCAL_MAX_MESSAGE_SIZE * 2))
        dc.send("next")
        event = await asyncio.wait_for(got, 5)
        assert event.data == "next"
        await asyncio.sleep(0.1)
        assert errors, "the dropped message was not reported"
    finally:
        await close_all(a, b)
        relay.close()


def test_turn_permissions_per_allocation_are_capped() -> None:
    """A client installing permissions for thousands of peer IPs: the embedded TURN server
    should refuse beyond Limits.max_turn_permissions (RFC 8656 allows 508 Insufficient
    Capacity). src/rtcpeer/turnserver/core.py TurnServerCore._create_permission stores every
    peer in ``alloc.permissions`` without a bound."""
    from rtcpeer.stun.turn_client import TurnClient
    from rtcpeer.turnserver.core import TurnServerCore

    relays = iter(range(10000, 20000))

    def relay_factory(family: int) -> tuple[tuple[str, int], int]:
        port = next(relays)
        return ("127.0.0.1", port), port

    server = ("127.0.0.1", 3478)
    client_addr = ("127.0.0.1", 50000)
    core = TurnServerCore("test", users={"u": "p"}, relay_factory=relay_factory)
    client = TurnClient(server, "u", "p")
    now = 1000.0

    def pump() -> None:
        for _ in range(50):
            out = client.datagrams_to_send()
            for data in out:
                core.receive_client(data, "udp", client_addr, now)
            back = core.to_clients()
            for data, _, _ in back:
                client.receive(data, now)
            if not out and not back:
                return

    client.start(now)
    pump()
    assert client.state == "allocated"
    for i in range(1000):
        client.create_permission(f"127.1.{i // 250}.{i % 250 + 1}", now)
        if i % 20 == 0:
            pump()
    pump()
    (alloc,) = core.allocations
    assert len(alloc.permissions) <= DEFAULT_LIMITS.max_turn_permissions, len(alloc.permissions)


async def test_data_resumes_promptly_once_ice_has_a_new_path() -> None:
    """After a NAT rebinding and ICE restart, queued data waits for SCTP's backed-off
    retransmission timer (0.2, 0.4, ... 6.4 s: delivered ~6 s after ICE is back). A new path
    should restart retransmission at once: src/rtcpeer/aio/connection.py
    Connection.selected_pair_changed could call a new Association method (e.g.
    ``path_changed(now)`` in src/rtcpeer/sctp/sender.py: RTO back to its initial value, T3
    restarted, outstanding chunks marked for retransmission)."""
    import time

    from relay import DatagramRelay
    from relhelpers import FakeSignaler

    from rtcpeer.signaling.negotiation import PerfectNegotiation

    relay = await DatagramRelay(seed=5).start()
    a, b = new_pc(), new_pc()
    sig_a, sig_b = FakeSignaler.pair(relay)
    neg_a = PerfectNegotiation(a, sig_a, polite=False)
    neg_b = PerfectNegotiation(b, sig_b, polite=True)
    back_at: list[float] = []

    def on_ice() -> None:
        if a.iceConnectionState == "disconnected":
            a.restartIce()
        elif a.iceConnectionState == "connected" and not back_at:
            back_at.append(time.monotonic())

    try:
        remote_ev = event_future(b, "datachannel")
        dc = a.createDataChannel("chat")
        await wait_for(lambda: dc.readyState == "open", 10)
        remote = (await asyncio.wait_for(remote_ev, 5)).channel
        a.addEventListener("iceconnectionstatechange", lambda e: on_ice())
        got: list[float] = []
        remote.addEventListener("message", lambda e: got.append(time.monotonic()))
        await relay.rebind("a")
        dc.send("during the outage")
        await wait_for(lambda: bool(got), 30)
        assert back_at
        assert got[0] - back_at[0] < 2.0, f"delivered {got[0] - back_at[0]:.1f}s after ICE"
    finally:
        neg_a.close()
        neg_b.close()
        await close_all(a, b)
        relay.close()
