"""Hostile peers through the public API: forged STUN checks, a DTLS certificate that does not
match the SDP, a missing fingerprint, a huge a=max-message-size, a peer that never reads, and
the resource limits (rtcpeer.limits): send buffers, remote candidates, channels, oversized
messages reported to the application, TURN permissions."""

from __future__ import annotations

import asyncio
import random
import re
import socket
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from relay import DatagramRelay, Impairment
from relhelpers import (
    close_all,
    description_dict,
    event_future,
    negotiate,
    new_pc,
    relay_trickle,
    relayed_pair,
    wait_for,
)

from rtcpeer import InvalidAccessError, OperationError, RTCError, RTCPeerConnection
from rtcpeer.limits import DEFAULT_LIMITS, Limits
from rtcpeer.peerconnection import LOCAL_MAX_MESSAGE_SIZE
from rtcpeer.stun import Attr, MessageClass, Method, StunMessage
from rtcpeer.stun import ParseError as StunParseError
from rtcpeer.stun import parse as parse_stun


def _ice_creds(sdp: str) -> tuple[str, str]:
    ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp)
    pwd = re.search(r"a=ice-pwd:(\S+)", sdp)
    assert ufrag and pwd
    return ufrag.group(1), pwd.group(1)


async def _stats_of(pc: RTCPeerConnection, kind: str) -> list[dict[str, Any]]:
    report = await pc.getStats()
    return [s for s in report.values() if s["type"] == kind]


async def _roundtrip(dc: Any, remote: Any, text: str) -> None:
    got = event_future(remote, "message")
    dc.send(text)
    event = await asyncio.wait_for(got, 5)
    assert event.data == text


async def test_forged_stun_checks_are_ignored() -> None:
    relay, a, b, dc, remote = await relayed_pair()
    try:
        assert a.localDescription is not None and b.localDescription is not None
        a_ufrag, a_pwd = _ice_creds(a.localDescription.sdp)
        b_ufrag, _ = _ice_creds(b.localDescription.sdp)
        target = relay.target["a"]
        assert target is not None
        ice_before = a.iceConnectionState
        remote_before = await _stats_of(a, "remote-candidate")
        pair_before = [p["id"] for p in await _stats_of(a, "candidate-pair")]

        def check(integrity: bytes | None, username: str | None, nominate: bool = False) -> bytes:
            msg = StunMessage(Method.BINDING, MessageClass.REQUEST)
            if username is not None:
                msg.add(Attr.USERNAME, username)
            msg.add(Attr.PRIORITY, 0x7EFFFFFF)
            msg.add(Attr.ICE_CONTROLLING, 0x1234567890ABCDEF)
            if nominate:
                msg.add(Attr.USE_CANDIDATE, True)
            return msg.encode(integrity_key=integrity, fingerprint=True)

        forged = [
            check(b"not the password", f"{a_ufrag}:{b_ufrag}"),  # wrong MESSAGE-INTEGRITY
            check(b"not the password", f"{a_ufrag}:{b_ufrag}", nominate=True),
            check(None, f"{a_ufrag}:{b_ufrag}"),  # no MESSAGE-INTEGRITY
            check(None, f"{a_ufrag}:{b_ufrag}", nominate=True),
            check(None, None),  # nothing at all
            check(b"x" * 24, f"wrong:{b_ufrag}"),  # unknown username
            check(a_pwd.encode()[:-1] + b"?", f"{a_ufrag}:{b_ufrag}"),  # near-miss password
        ]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            for _ in range(3):
                for raw in forged:
                    sock.sendto(raw, target)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            replies: list[bytes] = []
            while True:
                try:
                    replies.append(await asyncio.wait_for(loop.sock_recv(sock, 2048), 0.05))
                except TimeoutError:
                    break
        finally:
            sock.close()
        for raw in replies:
            try:
                reply = parse_stun(raw)
            except StunParseError:
                pytest.fail(f"peer connection answered a forged check with non-STUN {raw!r}")
            # An error response (400/401) is allowed; success or anything keyed is not.
            assert reply.message_class == MessageClass.ERROR, reply
            assert not reply.has(Attr.MESSAGE_INTEGRITY)
            assert not reply.has(Attr.MESSAGE_INTEGRITY_SHA256)
            assert a_pwd.encode() not in raw
        assert a.iceConnectionState == ice_before
        assert a.connectionState == "connected"
        remote_after = await _stats_of(a, "remote-candidate")
        assert sorted(c["port"] for c in remote_after) == sorted(c["port"] for c in remote_before)
        assert [p["id"] for p in await _stats_of(a, "candidate-pair")] == pair_before
        await _roundtrip(dc, remote, "still connected")
    finally:
        await close_all(a, b)
        relay.close()


def _swap_fingerprint(sdp: str) -> str:
    def flip(m: re.Match[str]) -> str:
        value = m.group(2)
        first = "00" if not value.startswith("00") else "11"
        return f"a=fingerprint:{m.group(1)} {first}{value[2:]}"

    out, n = re.subn(r"a=fingerprint:(\S+) (\S+)", flip, sdp)
    assert n >= 1
    return out


async def _connect_rewritten(
    rewrite_offer: Callable[[str], str] | None = None,
    rewrite_answer: Callable[[str], str] | None = None,
) -> tuple[DatagramRelay, RTCPeerConnection, RTCPeerConnection, Any]:
    relay = await DatagramRelay().start()
    a, b = new_pc(), new_pc()
    relay_trickle(a, b, relay)
    dc = a.createDataChannel("x")
    await a.setLocalDescription(await a.createOffer())
    assert a.localDescription is not None
    offer = description_dict(a.localDescription)
    if rewrite_offer is not None:
        offer["sdp"] = rewrite_offer(offer["sdp"])
    await b.setRemoteDescription(offer)
    await b.setLocalDescription(await b.createAnswer())
    assert b.localDescription is not None
    answer = description_dict(b.localDescription)
    if rewrite_answer is not None:
        answer["sdp"] = rewrite_answer(answer["sdp"])
    await a.setRemoteDescription(answer)
    return relay, a, b, dc


@pytest.mark.parametrize("side", ["offerer-checks", "answerer-checks"])
async def test_certificate_not_matching_the_sdp_fingerprint_fails_the_connection(
    side: str,
) -> None:
    if side == "offerer-checks":
        relay, a, b, dc = await _connect_rewritten(rewrite_answer=_swap_fingerprint)
        checker = a
    else:
        relay, a, b, dc = await _connect_rewritten(rewrite_offer=_swap_fingerprint)
        checker = b
    states: list[str] = []
    checker.addEventListener(
        "connectionstatechange", lambda e: states.append(checker.connectionState)
    )
    opened: list[Any] = []
    dc.addEventListener("open", opened.append)
    b.addEventListener("datachannel", opened.append)
    try:
        await wait_for(lambda: checker.connectionState == "failed", 10)
        assert "connected" not in states
        assert states[-1] == "failed"
        await asyncio.sleep(0.2)
        assert opened == []  # no data channel ever opened, on either side
        assert dc.readyState != "open"
    finally:
        await close_all(a, b)
        relay.close()


@pytest.mark.parametrize("which", ["offer", "answer"])
async def test_missing_fingerprint_is_rejected(which: str) -> None:
    a, b = new_pc(), new_pc()
    try:
        a.createDataChannel("x")
        await a.setLocalDescription(await a.createOffer())
        assert a.localDescription is not None
        offer = description_dict(a.localDescription)
        strip = re.compile(r"^a=fingerprint:.*\r\n", re.M)
        if which == "offer":
            offer["sdp"] = strip.sub("", offer["sdp"])
            with pytest.raises(InvalidAccessError):
                await b.setRemoteDescription(offer)
            assert b.signalingState == "stable"
            assert b.remoteDescription is None
            return
        await b.setRemoteDescription(offer)
        await b.setLocalDescription(await b.createAnswer())
        assert b.localDescription is not None
        answer = description_dict(b.localDescription)
        answer["sdp"] = strip.sub("", answer["sdp"])
        with pytest.raises(InvalidAccessError):
            await a.setRemoteDescription(answer)
        assert a.signalingState == "have-local-offer"
        assert a.connectionState != "connected"
    finally:
        await close_all(a, b)


@pytest.mark.parametrize("value", ["4294967296", "9007199254740993", "18446744073709551615"])
async def test_huge_max_message_size_is_bounded_by_the_receiver(value: str) -> None:
    """The answer claims B takes enormous messages. A believes it; B, which really accepts
    256 KiB, drops what is larger without buffering it, and the channel goes on."""

    def huge(sdp: str) -> str:
        return re.sub(r"a=max-message-size:\d+", f"a=max-message-size:{value}", sdp)

    relay, a, b, dc = await _connect_rewritten(rewrite_answer=huge)
    try:
        remote_ev = event_future(b, "datachannel")
        await wait_for(lambda: dc.readyState == "open", 10)
        remote = (await asyncio.wait_for(remote_ev, 5)).channel
        got: list[Any] = []
        remote.addEventListener("message", lambda e: got.append(e.data))
        dc.send(b"\x01" * (1024 * 1024))  # 4x what B accepts: allowed by the SDP we were given
        dc.send("after the big one")
        await wait_for(lambda: "after the big one" in got, 10)
        assert all(not isinstance(m, bytes) or len(m) <= 256 * 1024 for m in got)
        assert b.connectionState == "connected" and a.connectionState == "connected"
    finally:
        await close_all(a, b)
        relay.close()


async def test_peer_that_never_reads_bounds_the_sender() -> None:
    """B stops reading its socket (everything towards it is lost). A's sends queue up in
    bufferedAmount until the channel's buffer is full; then send() raises OperationError (W3C
    webrtc-pc 6.2 send(): "If the size of data would exceed the buffer, throw an
    OperationError"; Chromium: 16 MiB per channel) instead of growing memory without bound."""
    relay, a, b, dc, remote = await relayed_pair()
    try:
        relay.a_to_b.impairment = Impairment(loss=1.0)
        chunk = bytes(256 * 1024)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        sent = 0
        error: BaseException | None = None
        try:
            for _ in range(1024):  # up to 256 MiB if nothing stopped us
                dc.send(chunk)
                sent += len(chunk)
                if sent % (8 * 1024 * 1024) == 0:
                    await asyncio.sleep(0)
        except Exception as exc:
            error = exc
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert type(error) is OperationError, repr(error)
        assert sent <= DEFAULT_LIMITS.max_buffered_amount
        assert sent > DEFAULT_LIMITS.max_buffered_amount - 2 * 1024 * 1024
        assert dc.bufferedAmount <= DEFAULT_LIMITS.max_buffered_amount
        assert dc.bufferedAmount >= sent - 2 * 1024 * 1024  # hardly anything left
        assert grown < 40 * 1024 * 1024, grown
        assert dc.readyState == "open"  # a full buffer is not a closed channel
        # Nothing was queued by the failed call: a smaller message still fits.
        dc.send(bytes(1024))
    finally:
        await close_all(a, b)
        relay.close()


async def test_all_channels_together_are_bounded_by_the_send_buffer() -> None:
    """Per channel 16 MiB, per peer connection 64 MiB: five never-read channels hit the
    association's total first (Limits.max_send_buffer), again with OperationError."""
    relay, a, b, dc, remote = await relayed_pair()
    try:
        channels = [dc] + [a.createDataChannel(f"extra{i}") for i in range(4)]
        await wait_for(lambda: all(c.readyState == "open" for c in channels[1:]), 5)
        relay.a_to_b.impairment = Impairment(loss=1.0)
        chunk = bytes(256 * 1024)
        sent = 0
        error: BaseException | None = None
        try:
            for _ in range(64):
                for channel in channels:
                    channel.send(chunk)
                    sent += len(chunk)
        except Exception as exc:
            error = exc
        assert type(error) is OperationError, repr(error)
        # What is in flight (one initial window: nothing is ever acknowledged) is not queued.
        assert DEFAULT_LIMITS.max_send_buffer - 2 * len(chunk) <= sent
        assert sent <= DEFAULT_LIMITS.max_send_buffer + len(chunk)
        assert all(c.bufferedAmount <= DEFAULT_LIMITS.max_buffered_amount for c in channels)
    finally:
        await close_all(a, b)
        relay.close()


async def test_send_buffer_limit_from_the_configuration() -> None:
    """rtcpeer's ``limits`` configuration member (not W3C) lowers the per-channel limit."""
    limits = {"limits": {"maxBufferedAmount": 1024 * 1024}}
    relay, a, b, dc, remote = await relayed_pair(a_config=limits)
    try:
        relay.a_to_b.impairment = Impairment(loss=1.0)
        chunk = bytes(64 * 1024)
        sent = 0
        with pytest.raises(OperationError):
            for _ in range(64):
                dc.send(chunk)
                sent += len(chunk)
        assert 1024 * 1024 - 2 * len(chunk) < sent <= 1024 * 1024
        assert dc.readyState == "open"
    finally:
        await close_all(a, b)
        relay.close()


async def test_candidate_flood_does_not_disturb_a_connected_pair() -> None:
    relay, a, b, dc, remote = await relayed_pair()
    try:
        for i in range(1500):
            # TEST-NET-3 (RFC 5737): checks sent there reach no one.
            line = (
                f"candidate:{i} 1 udp {2000000000 - i} 203.0.113.{i % 250 + 1} {20000 + i} typ host"
            )
            await a.addIceCandidate({"candidate": line, "sdpMid": "0"})
        for i in range(200):
            with pytest.raises(OperationError):
                await a.addIceCandidate({"candidate": f"candidate:{i} garbage", "sdpMid": "0"})
        await _roundtrip(dc, remote, "still fine")
        await asyncio.sleep(0.3)
        await _roundtrip(remote, dc, "both ways")
        assert a.connectionState == "connected" and b.connectionState == "connected"
    finally:
        await close_all(a, b)
        relay.close()


async def test_flood_of_forged_checks_and_garbage_holds_no_state() -> None:
    relay, a, b, dc, remote = await relayed_pair()
    try:
        assert a.localDescription is not None and b.localDescription is not None
        a_ufrag, _ = _ice_creds(a.localDescription.sdp)
        b_ufrag, _ = _ice_creds(b.localDescription.sdp)
        target = relay.target["a"]
        assert target is not None
        rng = random.Random(9)
        socks = []
        for _ in range(8):  # several source addresses
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            socks.append(s)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        try:
            for i in range(4000):
                sock = socks[i % len(socks)]
                kind = i % 4
                if kind == 0:
                    msg = StunMessage(Method.BINDING, MessageClass.REQUEST)
                    msg.add(Attr.USERNAME, f"{a_ufrag}:{b_ufrag}")
                    msg.add(Attr.PRIORITY, rng.getrandbits(31))
                    msg.add(Attr.ICE_CONTROLLING, rng.getrandbits(64))
                    msg.add(Attr.USE_CANDIDATE, True)
                    raw = msg.encode(integrity_key=rng.randbytes(16), fingerprint=True)
                elif kind == 1:  # a "response" to a transaction we never started
                    msg = StunMessage(Method.BINDING, MessageClass.SUCCESS)
                    msg.add(Attr.XOR_MAPPED_ADDRESS, ("127.0.0.1", rng.randrange(1, 65536)))
                    raw = msg.encode(integrity_key=rng.randbytes(16), fingerprint=True)
                elif kind == 2:  # DTLS/SCTP-looking garbage
                    raw = bytes([rng.choice((22, 23, 128))]) + rng.randbytes(rng.randrange(200))
                else:
                    raw = rng.randbytes(rng.randrange(1, 600))
                try:
                    sock.sendto(raw, target)
                except BlockingIOError:
                    pass
                if i % 200 == 0:
                    await asyncio.sleep(0.005)
            await asyncio.sleep(0.2)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
            for s in socks:
                s.close()
        assert grown < 1024 * 1024, grown
        assert a.connectionState == "connected"
        assert len(await _stats_of(a, "remote-candidate")) == 1
        await _roundtrip(dc, remote, "unharmed")
    finally:
        await close_all(a, b)
        relay.close()


async def test_remote_candidates_are_capped() -> None:
    """A peer that trickles thousands of candidates: the ICE agent keeps at most
    Limits.max_remote_candidates and so does the remote description."""
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
        assert 0 < len(remote) <= DEFAULT_LIMITS.max_remote_candidates, len(remote)
        assert b.remoteDescription is not None
        assert b.remoteDescription.sdp.count("a=candidate:") <= (
            DEFAULT_LIMITS.max_remote_candidates
        )
    finally:
        await close_all(a, b)


async def test_remote_candidate_limit_from_the_configuration() -> None:
    a = new_pc()
    b = new_pc(limits=Limits(max_remote_candidates=5))
    try:
        a.createDataChannel("x")
        await negotiate(a, b)
        for i in range(50):
            line = f"candidate:{i} 1 udp {2000000000 - i} 203.0.113.{i + 1} {30000 + i} typ host"
            await b.addIceCandidate({"candidate": line, "sdpMid": "0"})
        report = await b.getStats()
        remote = [s for s in report.values() if s["type"] == "remote-candidate"]
        assert len(remote) == 5
        assert b.remoteDescription is not None
        assert b.remoteDescription.sdp.count("a=candidate:") == 5
    finally:
        await close_all(a, b)


async def test_remote_channel_flood_is_capped_with_default_configuration() -> None:
    """A peer opening more channels than Limits.max_channels: the extra DCEP OPENs are refused
    (the stream is reset, the opener sees its channel closed). A raises its own limit through
    the configuration so that it can open them; B has the defaults."""
    limit = DEFAULT_LIMITS.max_channels
    relay, a, b, dc, remote = await relayed_pair(a_config={"limits": {"maxChannels": limit + 64}})
    created: list[Any] = []
    b.addEventListener("datachannel", created.append)
    try:
        channels = [a.createDataChannel(f"c{i}") for i in range(limit + 16)]
        await wait_for(lambda: len(created) >= limit - 1, 20)
        await wait_for(lambda: sum(c.readyState == "closed" for c in channels) >= 17, 10)
        assert len(created) + 1 == limit  # +1: the channel relayed_pair opened
        assert sum(c.readyState == "open" for c in channels) == limit - 1
        await _roundtrip(dc, remote, "still fine")
    finally:
        await close_all(a, b)
        relay.close()


async def test_create_data_channel_beyond_the_limit_raises_operation_error() -> None:
    """W3C webrtc-pc 6.1 createDataChannel: once the DTLS role is known, "if no available ID
    could be generated ... throw an OperationError". Limits.max_channels ids are available."""
    relay, a, b, dc, remote = await relayed_pair()
    try:
        made = 0
        with pytest.raises(OperationError):
            for i in range(DEFAULT_LIMITS.max_channels + 1):
                a.createDataChannel(f"c{i}")
                made += 1
        assert made + 1 == DEFAULT_LIMITS.max_channels
        # A closed channel frees its id.
        dc.close()
        await wait_for(lambda: dc.readyState == "closed", 5)
        assert a.createDataChannel("again").readyState == "connecting"
    finally:
        await close_all(a, b)
        relay.close()


async def test_channel_limit_from_the_configuration() -> None:
    relay, a, b, dc, remote = await relayed_pair(a_config={"limits": Limits(max_channels=4)})
    try:
        extra = [a.createDataChannel(f"c{i}") for i in range(3)]
        with pytest.raises(OperationError):
            a.createDataChannel("one too many")
        await wait_for(lambda: all(c.readyState == "open" for c in extra), 5)
    finally:
        await close_all(a, b)
        relay.close()


async def test_receiver_reports_a_dropped_oversized_message_to_the_application() -> None:
    """B drops a message above its a=max-message-size (the sender ignored the SDP): B's
    channel gets an "error" RTCErrorEvent (errorDetail "sctp-failure") and stays open."""
    relay, a, b, dc, remote = await relayed_pair()
    errors: list[Any] = []
    pc_errors: list[Any] = []
    remote.addEventListener("error", errors.append)
    b.addEventListener("error", pc_errors.append)
    try:
        conn = a._conn
        assert conn is not None and conn.channels is not None
        conn.channels.set_remote_max_message_size(0)  # A ignores B's limit
        got = event_future(remote, "message")
        dc.send(bytes(LOCAL_MAX_MESSAGE_SIZE * 2))
        dc.send("next")
        event = await asyncio.wait_for(got, 5)
        assert event.data == "next"
        await wait_for(lambda: bool(errors), 2)
        (error,) = errors
        assert isinstance(error.error, RTCError)
        assert error.error.errorDetail == "sctp-failure"
        assert "message-too-big" in str(error.error)
        assert not pc_errors
        assert remote.readyState == "open"
    finally:
        await close_all(a, b)
        relay.close()


def test_turn_permissions_per_allocation_are_capped() -> None:
    """A client installing permissions for thousands of peer IPs: the embedded TURN server
    refuses beyond Limits.max_turn_permissions with 508 Insufficient Capacity (RFC 8656)."""
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
    codes: list[int] = []

    def pump() -> None:
        for _ in range(50):
            out = client.datagrams_to_send()
            for data in out:
                core.receive_client(data, "udp", client_addr, now)
            back = core.to_clients()
            for data, _, _ in back:
                msg = parse_stun(data)
                if msg.message_class is MessageClass.ERROR:
                    error = msg.get(Attr.ERROR_CODE)
                    assert error is not None
                    codes.append(error[0])
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
    assert len(alloc.permissions) == DEFAULT_LIMITS.max_turn_permissions
    assert codes.count(508) > 0 and set(codes) <= {401, 508}, set(codes)  # 401: the first Allocate
    assert core.max_permissions == DEFAULT_LIMITS.max_turn_permissions


def test_ice_agent_caps_remote_candidates_per_generation() -> None:
    """Sans-I/O: the agent keeps max_remote_candidates per ICE generation and counts the
    rest; duplicates and unusable candidates are refused without counting; a restart starts a
    fresh generation with room again."""
    from rtcpeer.ice.agent import IceAgent
    from rtcpeer.sdp.candidate import Candidate

    agent = IceAgent(True, max_remote_candidates=3)
    agent.set_remote_credentials("abcd", "x" * 24)

    def cand(i: int) -> Candidate:
        return Candidate.from_sdp(f"candidate:{i} 1 udp {2000 - i} 203.0.113.{i + 1} 9 typ host")

    results = [agent.add_remote_candidate(cand(i)) for i in range(10)]
    assert results == [True] * 3 + [False] * 7
    assert len(agent.remote_candidates) == 3
    assert agent.dropped_remote_candidates == 7
    assert agent.add_remote_candidate(cand(0)) is False  # known: not counted as dropped
    assert agent.dropped_remote_candidates == 7
    agent.restart()
    agent.set_remote_credentials("efgh", "y" * 24)
    assert agent.add_remote_candidate(cand(50)) is True
    assert len(agent.remote_candidates) == 1


@pytest.mark.parametrize("value", ["0", "18446744073709551615"])
async def test_send_message_size_is_capped_when_the_peer_claims_no_limit(value: str) -> None:
    """a=max-message-size:0 ("no limit", RFC 8841) or a huge value: send() still raises
    TypeError above Limits.max_send_message_size (rtcpeer never queues one larger message)."""

    def claim(sdp: str) -> str:
        return re.sub(r"a=max-message-size:\d+", f"a=max-message-size:{value}", sdp)

    relay, a, b, dc = await _connect_rewritten(rewrite_answer=claim)
    try:
        await wait_for(lambda: dc.readyState == "open", 10)
        with pytest.raises(TypeError):
            dc.send(bytes(DEFAULT_LIMITS.max_send_message_size + 1))
        assert dc.bufferedAmount == 0
        dc.send(bytes(1024 * 1024))  # within the cap: allowed by what the peer said
        assert dc.readyState == "open"
    finally:
        await close_all(a, b)
        relay.close()
