"""W3C state machine tests: every invalid call raises what a browser raises."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pchelpers import close_all, negotiate, new_pc

from rtcpeer import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    OperationError,
    RTCError,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)
from rtcpeer.errors import SyntaxError_

CAND = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"


async def test_initial_state() -> None:
    pc = RTCPeerConnection()
    assert pc.signalingState == "stable"
    assert pc.iceGatheringState == "new"
    assert pc.iceConnectionState == "new"
    assert pc.connectionState == "new"
    assert pc.canTrickleIceCandidates is None
    assert pc.localDescription is None and pc.remoteDescription is None
    assert pc.currentLocalDescription is None and pc.pendingLocalDescription is None
    assert pc.currentRemoteDescription is None and pc.pendingRemoteDescription is None
    await close_all(pc)


async def test_set_remote_answer_in_stable() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    offer = await a.createOffer()
    with pytest.raises(InvalidStateError, match="stable"):
        await a.setRemoteDescription({"type": "answer", "sdp": offer.sdp})
    with pytest.raises(InvalidStateError, match="stable"):
        await a.setRemoteDescription({"type": "pranswer", "sdp": offer.sdp})
    await close_all(a, b)


async def test_set_local_answer_in_stable_and_create_answer() -> None:
    pc = new_pc()
    with pytest.raises(InvalidStateError):
        await pc.createAnswer()
    with pytest.raises(InvalidStateError):
        await pc.setLocalDescription({"type": "answer", "sdp": ""})
    await close_all(pc)


async def test_rollback_invalid_in_stable() -> None:
    pc = new_pc()
    with pytest.raises(InvalidStateError, match="stable"):
        await pc.setLocalDescription({"type": "rollback"})
    with pytest.raises(InvalidStateError, match="stable"):
        await pc.setRemoteDescription({"type": "rollback"})
    await close_all(pc)


async def test_bad_types() -> None:
    pc = new_pc()
    with pytest.raises(TypeError):
        await pc.setRemoteDescription({"type": "bogus", "sdp": ""})
    with pytest.raises(TypeError):
        await pc.setRemoteDescription({"sdp": "v=0"})
    with pytest.raises(TypeError):
        RTCSessionDescription({"type": "nope"})
    with pytest.raises(TypeError):
        await pc.addIceCandidate(42)
    await close_all(pc)


async def test_set_remote_bad_sdp_is_rtcerror() -> None:
    pc = new_pc()
    with pytest.raises(RTCError) as info:
        await pc.setRemoteDescription({"type": "offer", "sdp": "garbage"})
    assert info.value.errorDetail == "sdp-syntax-error"
    assert pc.signalingState == "stable"
    await close_all(pc)


async def test_set_remote_without_credentials_or_fingerprint() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    offer = (await a.createOffer()).sdp
    no_fp = "".join(line + "\r\n" for line in offer.splitlines() if "fingerprint" not in line)
    with pytest.raises(InvalidAccessError, match="fingerprint"):
        await b.setRemoteDescription({"type": "offer", "sdp": no_fp})
    no_ice = "".join(line + "\r\n" for line in offer.splitlines() if "ice-ufrag" not in line)
    with pytest.raises(InvalidAccessError, match="ice-ufrag"):
        await b.setRemoteDescription({"type": "offer", "sdp": no_ice})
    await close_all(a, b)


async def test_modified_offer_rejected() -> None:
    pc = new_pc()
    pc.createDataChannel("x")
    offer = await pc.createOffer()
    munged = offer.sdp.replace("a=max-message-size:262144", "a=max-message-size:1")
    with pytest.raises(InvalidModificationError):
        await pc.setLocalDescription({"type": "offer", "sdp": munged})
    assert pc.signalingState == "stable"
    await pc.setLocalDescription(offer)
    assert pc.signalingState == "have-local-offer"
    await close_all(pc)


async def test_modified_answer_rejected() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    answer = await b.createAnswer()
    with pytest.raises(InvalidModificationError):
        await b.setLocalDescription(
            {"type": "answer", "sdp": answer.sdp.replace("active", "passive")}
        )
    await close_all(a, b)


async def test_answer_in_have_local_offer_state_rules() -> None:
    a = new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    with pytest.raises(InvalidStateError, match="have-local-offer"):
        await a.createAnswer()
    with pytest.raises(InvalidStateError, match="have-local-offer"):
        await a.setLocalDescription({"type": "answer", "sdp": ""})
    await close_all(a)


async def test_answer_with_wrong_section_count() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    answer = b.localDescription
    assert answer is not None
    extra = answer.sdp + "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:9\r\n"
    with pytest.raises(InvalidAccessError):
        await a.setRemoteDescription({"type": "answer", "sdp": extra})
    assert a.signalingState == "have-local-offer"
    await close_all(a, b)


async def test_add_ice_candidate_rules() -> None:
    a, b = new_pc(), new_pc()
    with pytest.raises(InvalidStateError, match="setRemoteDescription"):
        await a.addIceCandidate({"candidate": CAND, "sdpMid": "0"})
    with pytest.raises(TypeError):
        await a.addIceCandidate({"candidate": CAND})
    with pytest.raises(TypeError):
        RTCIceCandidate({"candidate": CAND})
    b.createDataChannel("x")
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    with pytest.raises(OperationError, match="sdpMid"):
        await a.addIceCandidate({"candidate": CAND, "sdpMid": "nope"})
    with pytest.raises(OperationError, match="sdpMLineIndex"):
        await a.addIceCandidate({"candidate": CAND, "sdpMLineIndex": 7})
    with pytest.raises(OperationError, match="usernameFragment"):
        await a.addIceCandidate({"candidate": CAND, "sdpMid": "0", "usernameFragment": "zzzz"})
    with pytest.raises(OperationError, match="parse"):
        await a.addIceCandidate({"candidate": "candidate:bogus", "sdpMid": "0"})
    await a.addIceCandidate({"candidate": CAND, "sdpMid": "0"})
    await a.addIceCandidate(RTCIceCandidate({"candidate": CAND, "sdpMLineIndex": 0}))
    remote = a.remoteDescription
    assert remote is not None and remote.sdp.count(CAND) == 2
    await a.addIceCandidate(None)  # end of candidates
    await a.addIceCandidate({})
    await a.addIceCandidate({"candidate": "", "sdpMid": "0"})
    remote = a.remoteDescription
    assert remote is not None and "a=end-of-candidates" in remote.sdp
    await close_all(a, b)


async def test_add_ice_candidate_queued_behind_set_remote() -> None:
    a, b = new_pc(), new_pc()
    b.createDataChannel("x")
    await b.setLocalDescription()
    desc = b.localDescription
    # Not awaited in between: the operations chain orders them.
    t1 = asyncio.ensure_future(a.setRemoteDescription(desc))
    t2 = asyncio.ensure_future(a.addIceCandidate({"candidate": CAND, "sdpMid": "0"}))
    await asyncio.gather(t1, t2)
    assert a.remoteDescription is not None and CAND in a.remoteDescription.sdp
    await close_all(a, b)


async def test_closed_connection_rejects_everything() -> None:
    pc = new_pc()
    await close_all(pc)
    assert pc.signalingState == "closed"
    assert pc.connectionState == "closed"
    assert pc.iceConnectionState == "closed"
    for call in (
        pc.createOffer(),
        pc.createAnswer(),
        pc.setLocalDescription(),
        pc.setRemoteDescription({"type": "offer", "sdp": "v=0"}),
        pc.addIceCandidate(None),
    ):
        with pytest.raises(InvalidStateError, match="closed"):
            await call
    with pytest.raises(InvalidStateError):
        pc.createDataChannel("x")
    with pytest.raises(InvalidStateError):
        pc.setConfiguration({})
    pc.restartIce()  # a no-op once closed
    assert pc.close() is not None  # idempotent


async def test_create_data_channel_type_errors() -> None:
    pc = new_pc()
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"maxRetransmits": 1, "maxPacketLifeTime": 1})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"negotiated": True})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"negotiated": True, "id": 65535})
    with pytest.raises(TypeError):
        pc.createDataChannel("x" * 65536)
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"protocol": "p" * 65536})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"maxRetransmits": -1})
    dc = pc.createDataChannel("n", {"negotiated": True, "id": 5})
    with pytest.raises(OperationError):
        pc.createDataChannel("n2", {"negotiated": True, "id": 5})
    assert dc.id == 5 and dc.negotiated and dc.readyState == "connecting"
    big = pc.createDataChannel("big", maxRetransmits=100000)
    assert big.maxRetransmits == 65535
    ignored = pc.createDataChannel("y", {"id": 7})
    assert ignored.id is None  # id only counts for negotiated channels
    with pytest.raises(InvalidStateError):
        dc.send("not open yet")
    with pytest.raises(TypeError):
        dc.send(12)  # type: ignore[arg-type]
    with pytest.raises(SyntaxError_):
        dc.binaryType = "text"
    with pytest.raises(TypeError):
        dc.bufferedAmountLowThreshold = -1
    await close_all(pc)
    assert dc.readyState == "closed"


def test_configuration_validation() -> None:
    with pytest.raises(SyntaxError_):
        RTCPeerConnection({"iceServers": [{"urls": "http://example.org"}]})
    with pytest.raises(InvalidAccessError):
        RTCPeerConnection({"iceServers": [{"urls": "turn:example.org"}]})
    with pytest.raises(TypeError):
        RTCPeerConnection({"iceTransportPolicy": "none"})
    with pytest.raises(TypeError):
        RTCPeerConnection({"bundlePolicy": "everything"})
    with pytest.raises(TypeError):
        RTCPeerConnection({"iceCandidatePoolSize": 256})
    pc = RTCPeerConnection(
        {
            "iceServers": [
                {"urls": ["stun:127.0.0.1:3478"]},
                {"urls": "turn:127.0.0.1:3478", "username": "u", "credential": "p"},
            ],
            "bundlePolicy": "max-bundle",
            "include_loopback": True,
        }
    )
    conf = pc.getConfiguration()
    assert conf["bundlePolicy"] == "max-bundle" and conf["includeLoopback"] is True
    assert conf["iceServers"][1] == {
        "urls": ["turn:127.0.0.1:3478"],
        "username": "u",
        "credential": "p",
    }
    assert len(conf["certificates"]) == 1


async def test_set_configuration_rules() -> None:
    pc = new_pc(bundlePolicy="max-bundle")
    other = await RTCPeerConnection.generateCertificate({"name": "ECDSA", "namedCurve": "P-256"})
    with pytest.raises(InvalidModificationError, match="certificates"):
        pc.setConfiguration({"certificates": [other], "bundlePolicy": "max-bundle"})
    with pytest.raises(InvalidModificationError, match="bundlePolicy"):
        pc.setConfiguration({"bundlePolicy": "balanced"})
    pc.setConfiguration(
        {"iceServers": [{"urls": "stun:127.0.0.1:1"}], "bundlePolicy": "max-bundle"}
    )
    assert pc.getConfiguration()["iceServers"] == [{"urls": ["stun:127.0.0.1:1"]}]
    cert = pc.getConfiguration()["certificates"][0]
    pc.setConfiguration({"certificates": [cert], "bundlePolicy": "max-bundle"})
    expired = await RTCPeerConnection.generateCertificate({"name": "ECDSA", "expires": 1})
    await asyncio.sleep(0.01)
    with pytest.raises(InvalidAccessError, match="expired"):
        RTCPeerConnection({"certificates": [expired]})
    await close_all(pc)


async def test_signaling_states_and_events() -> None:
    a, b = new_pc(), new_pc()
    seen: dict[str, list[str]] = {"a": [], "b": []}
    a.onsignalingstatechange = lambda e: seen["a"].append(a.signalingState)
    b.addEventListener("signalingstatechange", lambda e: seen["b"].append(b.signalingState))
    a.createDataChannel("x")
    await negotiate(a, b)
    assert seen == {"a": ["have-local-offer", "stable"], "b": ["have-remote-offer", "stable"]}
    assert a.currentLocalDescription is not None and a.pendingLocalDescription is None
    assert a.currentRemoteDescription is not None and b.currentLocalDescription is not None
    assert a.canTrickleIceCandidates is True
    await close_all(a, b)


async def test_pranswer_flow() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    answer = await b.createAnswer()
    await b.setLocalDescription({"type": "pranswer", "sdp": answer.sdp})
    assert b.signalingState == "have-local-pranswer"
    pr = b.localDescription
    assert pr is not None and pr.type == "pranswer"
    await a.setRemoteDescription({"type": "pranswer", "sdp": pr.sdp})
    assert a.signalingState == "have-remote-pranswer"
    assert a.pendingRemoteDescription is not None
    await b.setLocalDescription({"type": "answer", "sdp": answer.sdp})
    await a.setRemoteDescription(b.localDescription)
    assert a.signalingState == "stable" and b.signalingState == "stable"
    await close_all(a, b)


async def test_rollback_local_and_remote() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    assert a.pendingLocalDescription is not None
    await a.setLocalDescription({"type": "rollback"})
    assert a.signalingState == "stable" and a.pendingLocalDescription is None
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setRemoteDescription({"type": "rollback"})
    assert b.signalingState == "stable" and b.remoteDescription is None
    await close_all(a, b)


async def test_implicit_rollback_on_remote_offer() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    b.createDataChannel("y")
    await a.setLocalDescription()
    await b.setLocalDescription()
    states: list[str] = []
    a.onsignalingstatechange = lambda e: states.append(a.signalingState)
    await a.setRemoteDescription(b.localDescription)  # glare: a is polite
    assert a.signalingState == "have-remote-offer"
    assert states == ["stable", "have-remote-offer"]
    await a.setLocalDescription()
    assert a.signalingState == "stable"
    assert a.localDescription is not None and a.localDescription.type == "answer"
    await close_all(a, b)


async def test_implicit_set_local_description() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await a.setLocalDescription()
    assert a.localDescription is not None and a.localDescription.type == "offer"
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    assert b.localDescription is not None and b.localDescription.type == "answer"
    assert "a=setup:active" in b.localDescription.sdp
    assert "a=setup:actpass" in a.localDescription.sdp
    await close_all(a, b)


async def test_negotiationneeded_rules() -> None:
    pc = new_pc()
    fired: list[str] = []
    pc.onnegotiationneeded = lambda e: fired.append(pc.signalingState)
    pc.createDataChannel("a")
    pc.createDataChannel("b")  # same need: fired once
    assert fired == []  # queued, not synchronous
    await asyncio.sleep(0.01)
    assert fired == ["stable"]
    other = new_pc()
    await negotiate(pc, other)
    await asyncio.sleep(0.01)
    assert fired == ["stable"]  # satisfied
    pc.createDataChannel("c")  # data already negotiated: no need
    await asyncio.sleep(0.01)
    assert fired == ["stable"]
    pc.restartIce()
    await asyncio.sleep(0.01)
    assert fired == ["stable", "stable"]
    await close_all(pc, other)


async def test_negotiationneeded_waits_for_stable() -> None:
    a, b = new_pc(), new_pc()
    b.createDataChannel("x")
    await negotiate(b, a)
    await b.setLocalDescription(await b.createOffer())
    await a.setRemoteDescription(b.localDescription)
    fired: list[str] = []
    a.onnegotiationneeded = lambda e: fired.append(a.signalingState)
    a.restartIce()
    await asyncio.sleep(0.01)
    assert fired == []  # not in have-remote-offer
    await a.setLocalDescription()
    await asyncio.sleep(0.01)
    assert fired == ["stable"]
    await close_all(a, b)


async def test_operations_chain_order() -> None:
    a = new_pc()
    a.createDataChannel("x")
    order: list[str] = []

    async def run(name: str, coro: Any) -> None:
        await coro
        order.append(name)

    await asyncio.gather(
        run("offer", a.createOffer()),
        run("sld", a.setLocalDescription()),
        run("rollback", a.setLocalDescription({"type": "rollback"})),
    )
    assert order == ["offer", "sld", "rollback"]
    assert a.signalingState == "stable"
    await close_all(a)


async def test_ice_restart_offer_changes_credentials() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await negotiate(a, b)
    first = a.localDescription
    assert first is not None
    ufrag = _ufrag(first.sdp)
    again = await a.createOffer()
    assert _ufrag(again.sdp) == ufrag
    restarted = await a.createOffer({"iceRestart": True})
    assert _ufrag(restarted.sdp) != ufrag
    await close_all(a, b)


async def test_rejects_unsupported_media_sections() -> None:
    b = new_pc()
    offer = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a d\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:d\r\n"
        "a=sctp-port:5000\r\n"
    )
    await b.setRemoteDescription({"type": "offer", "sdp": offer})
    answer = await b.createAnswer()
    lines = answer.sdp.splitlines()
    assert "m=audio 0 UDP/TLS/RTP/SAVPF 111" in lines
    assert "a=group:BUNDLE d" in lines
    assert "m=application 9 UDP/DTLS/SCTP webrtc-datachannel" in lines
    await close_all(b)


def _ufrag(sdp: str) -> str:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1]
    raise AssertionError("no ufrag")


@given(st.text(max_size=300))
@settings(max_examples=50, deadline=None)
def test_random_remote_sdp_only_raises_w3c_errors(text: str) -> None:
    async def run() -> None:
        pc = RTCPeerConnection()
        try:
            await pc.setRemoteDescription({"type": "offer", "sdp": "v=0\r\n" + text})
        except (RTCError, InvalidAccessError):
            pass
        await close_all(pc)

    asyncio.run(run())


async def test_second_offer_gets_a_fresh_answer() -> None:
    a, b = new_pc(), new_pc()
    a.createDataChannel("x")
    await negotiate(a, b)
    first = b.localDescription
    assert first is not None
    await a.setLocalDescription(await a.createOffer({"iceRestart": True}))
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()  # implicit answer: must answer the new offer
    second = b.localDescription
    assert second is not None and second.type == "answer"
    assert _ufrag(second.sdp) != _ufrag(first.sdp)  # the remote restarted ICE: so do we
    assert second.sdp.split("\r\n")[1] != first.sdp.split("\r\n")[1]  # new o= version
    await a.setRemoteDescription(second)
    assert a.signalingState == b.signalingState == "stable"
    await close_all(a, b)
