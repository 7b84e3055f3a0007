"""Two RTCPeerConnections in one process over real UDP on loopback: every API path."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from pchelpers import close_all, event_future, negotiate, new_pc, open_pair, trickle, wait_for

from rtcpeer import InvalidStateError, RTCDataChannel, RTCPeerConnection


async def _echo(channel: RTCDataChannel) -> None:
    channel.onmessage = lambda e: channel.send(e.data)


async def _collect(channel: RTCDataChannel, n: int, timeout: float = 10) -> list[Any]:
    got: list[Any] = []
    done = asyncio.get_running_loop().create_future()

    def on_message(event: Any) -> None:
        got.append(event.data)
        if len(got) == n and not done.done():
            done.set_result(None)

    channel.addEventListener("message", on_message)
    await asyncio.wait_for(done, timeout)
    channel.removeEventListener("message", on_message)
    return got


async def test_offer_answer_trickle_and_states() -> None:
    a, b = new_pc(), new_pc()
    states: list[str] = []
    gathering: list[str] = []
    candidates: list[Any] = []
    a.onconnectionstatechange = lambda e: states.append(a.connectionState)
    a.onicegatheringstatechange = lambda e: gathering.append(a.iceGatheringState)
    a.addEventListener("icecandidate", lambda e: candidates.append(e.candidate))
    trickle(a, b)
    dc = a.createDataChannel("chat")
    opened = event_future(dc, "open")
    await negotiate(a, b)
    await asyncio.wait_for(opened, 5)
    await wait_for(lambda: a.iceGatheringState == "complete")
    assert states[-1] == "connected" and "connecting" in states
    assert gathering == ["gathering", "complete"]
    assert candidates[-1] is None
    first = candidates[0]
    assert first.sdpMid == "0" and first.sdpMLineIndex == 0
    assert first.usernameFragment == _ufrag(a)
    assert any(c is not None and c.address == "127.0.0.1" for c in candidates)
    local = a.localDescription
    assert local is not None and "a=candidate:" in local.sdp
    assert "a=end-of-candidates" in local.sdp
    assert a.iceConnectionState in ("connected", "completed")
    assert b.connectionState == "connected"
    await close_all(a, b)


async def test_messages_both_ways_str_and_bytes_all_sizes() -> None:
    a, b, dc, remote = await open_pair()
    await _echo(remote)
    sizes = [1, 2, 100, 1200, 1300, 16383, 16384, 65535, 65536, 100000, 262144]
    payloads: list[str | bytes] = []
    for size in sizes:
        payloads.append(os.urandom(size))
        payloads.append("é" * (size // 2) if size > 1 else "x")
    payloads.append("")
    payloads.append(b"")
    waiter = asyncio.ensure_future(_collect(dc, len(payloads)))
    for p in payloads:
        dc.send(p)
    got = await waiter
    assert got == payloads
    assert dc.bufferedAmount == 0
    # the other direction, started by the answerer
    received = asyncio.ensure_future(_collect(dc, 2))
    await asyncio.sleep(0)
    dc.onmessage = None
    remote.onmessage = None
    remote.send("from b")
    remote.send(bytearray(b"\x00\x01"))
    assert await received == ["from b", b"\x00\x01"]
    stats = await a.getStats()
    kinds = {s["type"] for s in stats.values()}
    assert {
        "peer-connection",
        "transport",
        "candidate-pair",
        "local-candidate",
        "remote-candidate",
        "data-channel",
        "certificate",
    } <= kinds
    channel_stats = next(s for s in stats.values() if s["type"] == "data-channel")
    assert channel_stats["messagesSent"] == len(payloads)
    assert channel_stats["label"] == "chat" and channel_stats["state"] == "open"
    transport = next(s for s in stats.values() if s["type"] == "transport")
    assert transport["dtlsState"] == "connected" and transport["bytesSent"] > 262144
    await close_all(a, b)


async def test_message_too_big_and_memoryview() -> None:
    a, b, dc, remote = await open_pair()
    with pytest.raises(TypeError):
        dc.send(b"x" * 262145)
    got = asyncio.ensure_future(_collect(remote, 1))
    dc.send(memoryview(b"abc"))
    assert await got == [b"abc"]
    await close_all(a, b)


async def test_channel_options_unordered_and_partial_reliability() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    seen: list[RTCDataChannel] = []
    b.ondatachannel = lambda e: seen.append(e.channel)
    u = a.createDataChannel("u", {"ordered": False})
    r0 = a.createDataChannel("r0", {"maxRetransmits": 0, "protocol": "proto"})
    lt = a.createDataChannel("lt", {"maxPacketLifeTime": 100})
    opened = [event_future(c, "open") for c in (u, r0, lt)]
    await negotiate(a, b)
    await asyncio.wait_for(asyncio.gather(*opened), 5)
    await wait_for(lambda: len(seen) == 3)
    by_label = {c.label: c for c in seen}
    assert by_label["u"].ordered is False
    assert by_label["r0"].maxRetransmits == 0 and by_label["r0"].protocol == "proto"
    assert by_label["lt"].maxPacketLifeTime == 100
    for local in (u, r0, lt):
        remote = by_label[local.label]
        assert remote.id == local.id
        got = asyncio.ensure_future(_collect(remote, 50))
        for i in range(50):
            local.send(f"{local.label}{i}")
        assert sorted(await got) == sorted(f"{local.label}{i}" for i in range(50))
    await close_all(a, b)


async def test_negotiated_channels() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    # Automatic ids are picked when the transport exists (odd ones for the offerer, the DTLS
    # server): they must skip the negotiated id 5 whatever the creation order.
    autos = [a.createDataChannel(f"auto{i}") for i in range(3)]
    na = a.createDataChannel("n", {"negotiated": True, "id": 5})
    nb = b.createDataChannel("n", {"negotiated": True, "id": 5})
    fired: list[Any] = []
    b.ondatachannel = lambda e: fired.append(e)
    opened = [event_future(na, "open"), event_future(nb, "open")]
    await negotiate(a, b)
    await asyncio.wait_for(asyncio.gather(*opened), 5)
    got = asyncio.ensure_future(_collect(nb, 1))
    na.send("over id 5")
    assert await got == ["over id 5"]
    assert na.id == nb.id == 5
    await wait_for(lambda: all(c.readyState == "open" for c in autos))
    await wait_for(lambda: len(fired) == 3)
    assert sorted(c.id for c in autos if c.id is not None) == [1, 3, 7]
    assert [e.channel.label for e in fired] == ["auto0", "auto1", "auto2"]
    await close_all(a, b)


async def test_channel_created_after_connection_and_close() -> None:
    a, b, dc, remote = await open_pair()
    remote_new = event_future(b, "datachannel")
    late = a.createDataChannel("late")
    assert late.id is not None  # the SCTP transport exists: id assigned at once
    await asyncio.wait_for(event_future(late, "open"), 5)
    other = (await asyncio.wait_for(remote_new, 5)).channel
    assert other.label == "late"
    closed_local = event_future(late, "close")
    closed_remote = event_future(other, "close")
    closing_remote = event_future(other, "closing")
    late.close()
    assert late.readyState == "closing"
    await asyncio.wait_for(asyncio.gather(closed_local, closed_remote, closing_remote), 5)
    assert late.readyState == "closed" and other.readyState == "closed"
    with pytest.raises(InvalidStateError):
        late.send("x")
    # the first channel still works
    got = asyncio.ensure_future(_collect(remote, 1))
    dc.send("still here")
    assert await got == ["still here"]
    await close_all(a, b)


async def test_buffered_amount_low() -> None:
    a, b, dc, remote = await open_pair()
    dc.bufferedAmountLowThreshold = 1000
    low = event_future(dc, "bufferedamountlow")
    for _ in range(20):
        dc.send(b"x" * 60000)
    assert dc.bufferedAmount > 1000
    await asyncio.wait_for(low, 10)
    assert dc.bufferedAmount <= 1000
    await close_all(a, b)


async def test_ten_thousand_ordered_messages() -> None:
    a, b, dc, remote = await open_pair()
    await _echo(remote)
    n = 10000
    waiter = asyncio.ensure_future(_collect(dc, n, timeout=30))
    for i in range(n):
        dc.send(f"message {i}")
    got = await waiter
    assert got == [f"message {i}" for i in range(n)]
    await close_all(a, b)


async def test_restart_ice_keeps_data_flowing() -> None:
    a, b, dc, remote = await open_pair()
    await _echo(remote)
    a.onnegotiationneeded = lambda e: asyncio.ensure_future(negotiate(a, b))
    old = _ufrag(a)
    a.restartIce()
    flowing = asyncio.ensure_future(_collect(dc, 200, timeout=10))
    for i in range(200):
        dc.send(f"m{i}")
        if i % 20 == 0:
            await asyncio.sleep(0.01)
    assert await flowing == [f"m{i}" for i in range(200)]
    await wait_for(lambda: _ufrag(a) != old and a.signalingState == "stable")
    await wait_for(lambda: a.iceConnectionState in ("connected", "completed"))
    assert b.remoteDescription is not None and _ufrag(a) in b.remoteDescription.sdp
    got = asyncio.ensure_future(_collect(dc, 1))
    dc.send("after restart")
    assert await got == ["after restart"]
    await close_all(a, b)


async def test_answerer_restart_with_ice_restart_option() -> None:
    a, b, dc, remote = await open_pair()
    old_a, old_b = _ufrag(a), _ufrag(b)
    offer = await b.createOffer({"iceRestart": True})
    await b.setLocalDescription(offer)
    await a.setRemoteDescription(offer)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    assert _ufrag(a) != old_a and _ufrag(b) != old_b
    await wait_for(lambda: b.iceConnectionState in ("connected", "completed"))
    got = asyncio.ensure_future(_collect(remote, 1))
    dc.send("ok")
    assert await got == ["ok"]
    # the DTLS roles survive a re-offer from the former answerer
    assert "a=setup:passive" in (a.localDescription.sdp if a.localDescription else "")
    await close_all(a, b)


async def test_perfect_negotiation_glare() -> None:
    """MDN's perfect negotiation on both sides, both creating channels at once."""
    a, b = new_pc(), new_pc()
    queues: dict[str, asyncio.Queue[dict[str, Any]]] = {"a": asyncio.Queue(), "b": asyncio.Queue()}
    tasks = [
        asyncio.ensure_future(_perfect(a, polite=True, inbox=queues["a"], outbox=queues["b"])),
        asyncio.ensure_future(_perfect(b, polite=False, inbox=queues["b"], outbox=queues["a"])),
    ]
    ca = a.createDataChannel("from-a")
    cb = b.createDataChannel("from-b")
    await asyncio.wait_for(asyncio.gather(event_future(ca, "open"), event_future(cb, "open")), 10)
    assert a.signalingState == "stable" and b.signalingState == "stable"
    for t in tasks:
        t.cancel()
    await close_all(a, b)


async def _perfect(
    pc: RTCPeerConnection,
    polite: bool,
    inbox: asyncio.Queue[dict[str, Any]],
    outbox: asyncio.Queue[dict[str, Any]],
) -> None:
    making_offer = False
    ignore_offer = False

    async def on_negotiation_needed(event: Any) -> None:
        nonlocal making_offer
        try:
            making_offer = True
            await pc.setLocalDescription()
            outbox.put_nowait({"description": pc.localDescription})
        finally:
            making_offer = False

    pc.onnegotiationneeded = on_negotiation_needed
    pc.onicecandidate = lambda e: outbox.put_nowait({"candidate": e.candidate})
    while True:
        msg = await inbox.get()
        description = msg.get("description")
        if description is not None:
            offer_collision = description.type == "offer" and (
                making_offer or pc.signalingState != "stable"
            )
            ignore_offer = not polite and offer_collision
            if ignore_offer:
                continue
            await pc.setRemoteDescription(description)
            if description.type == "offer":
                await pc.setLocalDescription()
                outbox.put_nowait({"description": pc.localDescription})
        elif "candidate" in msg:
            try:
                await pc.addIceCandidate(msg["candidate"])
            except Exception:
                if not ignore_offer:
                    raise


async def test_close_fires_remote_close_and_stops() -> None:
    a, b, dc, remote = await open_pair()
    remote_closed = event_future(remote, "close")
    await close_all(a)
    assert dc.readyState == "closed"
    await asyncio.wait_for(remote_closed, 5)
    assert remote.readyState == "closed"
    await wait_for(lambda: b._dtls_state == "closed", 5)  # close_notify arrived
    await close_all(b)
    assert b.connectionState == "closed"


def _ufrag(pc: RTCPeerConnection) -> str:
    desc = pc.localDescription
    assert desc is not None
    for line in desc.sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1]
    raise AssertionError("no ufrag")


async def test_icecandidateerror_for_unreachable_stun_server() -> None:
    import socket

    # A bound UDP socket that never answers: the STUN request times out.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    pc = new_pc(iceServers=[{"urls": f"stun:127.0.0.1:{port}"}])
    errors: list[Any] = []
    pc.onicecandidateerror = lambda e: errors.append(e)
    pc.createDataChannel("x")
    pc._ensure_ice(True).stun_timeout = 0.3  # keep the test fast
    await pc.setLocalDescription()
    await wait_for(lambda: pc.iceGatheringState == "complete", 5)
    silent.close()
    assert errors, "no icecandidateerror"
    assert errors[0].url.startswith("stun:127.0.0.1") and errors[0].errorCode == 701
    assert errors[0].errorText
    await close_all(pc)


async def test_rollback_of_restart_offer_restores_credentials() -> None:
    a, b, dc, remote = await open_pair()
    await _echo(remote)
    old = _ufrag(a)
    a.restartIce()
    await a.setLocalDescription()
    assert _ufrag(a) != old and a.signalingState == "have-local-offer"
    await a.setLocalDescription({"type": "rollback"})
    assert _ufrag(a) == old and a.signalingState == "stable"
    got = asyncio.ensure_future(_collect(dc, 20))
    for i in range(20):
        dc.send(f"r{i}")
    assert await got == [f"r{i}" for i in range(20)]
    # The restart is still wanted: negotiating now changes the credentials for real.
    await negotiate(a, b)
    assert _ufrag(a) != old
    await wait_for(lambda: a.iceConnectionState in ("connected", "completed"))
    got = asyncio.ensure_future(_collect(dc, 1))
    dc.send("after")
    assert await got == ["after"]
    await close_all(a, b)


async def test_relay_policy_gathers_no_host_candidates() -> None:
    pc = new_pc(iceTransportPolicy="relay")
    found: list[Any] = []
    pc.onicecandidate = lambda e: found.append(e.candidate)
    pc.createDataChannel("x")
    await pc.setLocalDescription()
    await wait_for(lambda: pc.iceGatheringState == "complete")
    assert found == [None]
    assert pc.localDescription is not None and "a=candidate" not in pc.localDescription.sdp
    await close_all(pc)
