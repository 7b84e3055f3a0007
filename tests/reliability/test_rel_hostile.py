"""Hostile peers through the public API: forged STUN checks, a DTLS certificate that does not
match the SDP, a missing fingerprint, a huge a=max-message-size and a peer that never reads."""

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
    new_pc,
    relay_trickle,
    relayed_pair,
    wait_for,
)

from rtcpeer import InvalidAccessError, InvalidStateError, OperationError, RTCPeerConnection
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
    bufferedAmount until the send buffer is full; then send() raises instead of growing
    memory without bound."""
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
        except (OperationError, InvalidStateError) as exc:
            error = exc
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert error is not None, f"{sent} bytes queued without any error"
        assert dc.bufferedAmount <= 64 * 1024 * 1024 + len(chunk)
        assert dc.bufferedAmount >= sent - 2 * 1024 * 1024  # hardly anything left
        assert grown < 80 * 1024 * 1024, grown
        assert dc.readyState == "open"  # a full buffer is not a closed channel
        print(f"never-reading peer: send() raised {type(error).__name__} after {sent} bytes")
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
