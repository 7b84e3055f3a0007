"""MDN's API reference pages, one test per documented behaviour or exception.

Each test names the MDN page; what the page documents is checked against rtcpeer. Where
rtcpeer deliberately differs from W3C (RTCIceCandidate.toJSON follows Chromium) the test
asserts rtcpeer's behaviour and docs/mdn.md says why.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mdnhelpers import (
    LOOPBACK,
    close_all,
    load_example,
    negotiate,
    open_channel_pair,
    trickle,
    wait_for,
)

from rtcpeer import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    NotSupportedError,
    OperationError,
    RTCCertificate,
    RTCDataChannel,
    RTCError,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)
from rtcpeer.errors import DOMException, SyntaxError_

HOST = "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host"


async def with_remote_offer() -> tuple[RTCPeerConnection, RTCPeerConnection]:
    """An answerer that has the offerer's offer as its remote description."""
    offerer = RTCPeerConnection(LOOPBACK)
    offerer.createDataChannel("x")
    answerer = RTCPeerConnection(LOOPBACK)
    await answerer.setRemoteDescription(await offerer.createOffer())
    return offerer, answerer


# ------------------------------------------------------------------ addIceCandidate()


async def test_add_ice_candidate_type_error_without_mid_and_index() -> None:
    """MDN addIceCandidate: TypeError when sdpMid and sdpMLineIndex are both null."""
    offerer, pc = await with_remote_offer()
    with pytest.raises(TypeError):
        await pc.addIceCandidate({"candidate": HOST})
    await close_all(offerer, pc)


async def test_add_ice_candidate_invalid_state_without_remote_description() -> None:
    """MDN addIceCandidate: InvalidStateError when there is no remote description."""
    pc = RTCPeerConnection(LOOPBACK)
    with pytest.raises(InvalidStateError):
        await pc.addIceCandidate({"candidate": HOST, "sdpMid": "0"})
    await close_all(pc)


@pytest.mark.parametrize(
    "init",
    [
        {"candidate": HOST, "sdpMid": "no-such-mid"},
        {"candidate": HOST, "sdpMLineIndex": 7},
        {"candidate": HOST, "sdpMid": "0", "usernameFragment": "not-the-remote-ufrag"},
        {"candidate": "candidate:garbage", "sdpMid": "0"},
    ],
    ids=["unknown-mid", "index-out-of-range", "wrong-ufrag", "unparsable"],
)
async def test_add_ice_candidate_operation_error(init: dict[str, Any]) -> None:
    """MDN addIceCandidate: OperationError when the mid/index match no media section, the
    ufrag matches no remote generation, or the candidate cannot be parsed."""
    offerer, pc = await with_remote_offer()
    with pytest.raises(OperationError):
        await pc.addIceCandidate(init)
    await close_all(offerer, pc)


async def test_add_ice_candidate_end_of_candidates_forms() -> None:
    """MDN addIceCandidate: null, no argument, or candidate "" mean end-of-candidates."""
    offerer, pc = await with_remote_offer()
    await pc.addIceCandidate(None)
    await pc.addIceCandidate()
    await pc.addIceCandidate({"candidate": "", "sdpMid": "0"})
    assert "a=end-of-candidates" in pc.remoteDescription.sdp  # type: ignore[union-attr]
    await close_all(offerer, pc)


async def test_add_ice_candidate_accepts_init_dict_and_object() -> None:
    offerer, pc = await with_remote_offer()
    await pc.addIceCandidate({"candidate": HOST, "sdpMid": "0"})
    other = HOST.replace("50000", "50001")
    await pc.addIceCandidate(RTCIceCandidate({"candidate": other, "sdpMLineIndex": 0}))
    sdp = pc.remoteDescription.sdp  # type: ignore[union-attr]
    assert "192.0.2.1 50000" in sdp and "192.0.2.1 50001" in sdp
    await close_all(offerer, pc)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=120))
def test_add_ice_candidate_random_text_only_operation_error(text: str) -> None:
    """Whatever text arrives from the signaling channel, addIceCandidate() either works or
    rejects with OperationError (W3C 4.4.1.x); nothing else escapes."""

    async def run() -> None:
        offerer, pc = await with_remote_offer()
        try:
            await pc.addIceCandidate({"candidate": text, "sdpMid": "0"})
        except OperationError:
            pass
        finally:
            await close_all(offerer, pc)

    asyncio.run(run())


# ------------------------------------------------------------------ createDataChannel()


def test_create_data_channel_exceptions() -> None:
    """MDN createDataChannel: TypeError (label/protocol over 65535 bytes, id 65535,
    negotiated without id, both maxPacketLifeTime and maxRetransmits: the W3C spec says
    TypeError where older MDN text says SyntaxError), OperationError (id in use),
    InvalidStateError (closed connection)."""
    pc = RTCPeerConnection()
    with pytest.raises(TypeError):
        pc.createDataChannel("x" * 65536)
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"protocol": "p" * 65536})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"negotiated": True, "id": 65535})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"negotiated": True})
    with pytest.raises(TypeError):
        pc.createDataChannel("x", {"maxPacketLifeTime": 10, "maxRetransmits": 1})
    pc.createDataChannel("a", {"negotiated": True, "id": 5})
    with pytest.raises(OperationError):
        pc.createDataChannel("b", {"negotiated": True, "id": 5})
    pc.close()
    with pytest.raises(InvalidStateError):
        pc.createDataChannel("late")


def test_create_data_channel_attributes() -> None:
    """MDN RTCDataChannel properties: defaults and the options given at creation."""
    pc = RTCPeerConnection()
    dc = pc.createDataChannel("label")
    assert isinstance(dc, RTCDataChannel)
    assert (dc.label, dc.ordered, dc.protocol, dc.negotiated) == ("label", True, "", False)
    assert dc.maxPacketLifeTime is None and dc.maxRetransmits is None
    assert dc.id is None  # assigned once the DTLS role is known
    assert dc.readyState == "connecting"
    assert dc.bufferedAmount == 0 and dc.bufferedAmountLowThreshold == 0
    assert dc.binaryType == "arraybuffer"
    assert dc.priority == "low"
    unordered = pc.createDataChannel(
        "u", {"ordered": False, "maxRetransmits": 3, "protocol": "json"}
    )
    assert (unordered.ordered, unordered.maxRetransmits, unordered.protocol) == (
        False,
        3,
        "json",
    )
    timed = pc.createDataChannel("t", {"maxPacketLifeTime": 70000})
    assert timed.maxPacketLifeTime == 65535  # clamped to unsigned short
    neg = pc.createDataChannel("n", {"negotiated": True, "id": 9})
    assert (neg.negotiated, neg.id) == (True, 9)
    pc.close()


async def test_first_data_channel_fires_negotiationneeded_once() -> None:
    """MDN createDataChannel: the first channel starts renegotiation (negotiationneeded)."""
    pc = RTCPeerConnection()
    fired: list[str] = []
    pc.onnegotiationneeded = lambda e: fired.append(e.type)
    pc.createDataChannel("a")
    pc.createDataChannel("b")
    await asyncio.sleep(0.01)
    assert fired == ["negotiationneeded"]
    pc.close()


# ------------------------------------------------------------------ RTCDataChannel


async def test_send_exceptions() -> None:
    """MDN RTCDataChannel.send(): InvalidStateError unless open (nothing is queued);
    TypeError for what is not str/bytes-like (Blob etc. do not exist in Python)."""
    pc = RTCPeerConnection()
    dc = pc.createDataChannel("x")
    with pytest.raises(InvalidStateError):
        dc.send("too early")
    assert dc.bufferedAmount == 0
    with pytest.raises(TypeError):
        dc.send(42)  # type: ignore[arg-type]
    pc.close()
    with pytest.raises(InvalidStateError):
        dc.send("closed")


async def test_send_too_big_is_type_error() -> None:
    """W3C RTCDataChannel.send(): TypeError when the message is bigger than the peer's
    max-message-size (MDN's "Understanding message size limits"); nothing is queued."""
    a, b, local, remote = await open_channel_pair()
    local.send(bytes(65536))
    before = local.bufferedAmount
    with pytest.raises(TypeError):
        local.send(bytes(4 << 20))
    assert local.bufferedAmount == before
    await close_all(a, b)


async def test_send_types_and_binary_type() -> None:
    """str arrives as str, bytes/bytearray/memoryview as bytes (binaryType "arraybuffer")."""
    a, b, local, remote = await open_channel_pair()
    got: list[Any] = []
    remote.onmessage = lambda e: got.append(e.data)
    local.send("text")
    local.send(b"\x00\x01")
    local.send(bytearray(b"ba"))
    local.send(memoryview(b"mv"))
    await wait_for(lambda: len(got) == 4)
    assert got == ["text", b"\x00\x01", b"ba", b"mv"]
    with pytest.raises(SyntaxError_):
        remote.binaryType = "text"
    remote.binaryType = "blob"
    assert remote.binaryType == "blob"
    await close_all(a, b)


async def test_buffered_amount_low_threshold() -> None:
    """MDN bufferedAmountLowThreshold: settable, TypeError when negative; bufferedamountlow
    fires when bufferedAmount falls to or below it."""
    a, b, local, remote = await open_channel_pair()
    with pytest.raises(TypeError):
        local.bufferedAmountLowThreshold = -1
    local.bufferedAmountLowThreshold = 1024
    assert local.bufferedAmountLowThreshold == 1024
    low: list[int] = []
    local.addEventListener("bufferedamountlow", lambda e: low.append(local.bufferedAmount))
    for _ in range(8):
        local.send(bytes(32768))
    assert local.bufferedAmount > 1024
    await wait_for(lambda: bool(low))
    assert low[0] <= 1024
    await close_all(a, b)


async def test_close_fires_closing_and_close() -> None:
    """MDN RTCDataChannel.close(): "closing" on the remote end, "close" on both; the events
    run in the documented order and readyState follows."""
    a, b, local, remote = await open_channel_pair()
    log: list[tuple[str, str, str]] = []
    for name, channel in (("local", local), ("remote", remote)):
        for event in ("closing", "close"):
            channel.addEventListener(
                event, lambda e, n=name, c=channel: log.append((n, e.type, c.readyState))
            )
    local.close()
    assert local.readyState == "closing"
    await wait_for(lambda: local.readyState == "closed" and remote.readyState == "closed")
    await asyncio.sleep(0.01)
    assert ("local", "close", "closed") in log and ("remote", "close", "closed") in log
    assert log.index(("remote", "closing", "closing")) < log.index(("remote", "close", "closed"))
    with pytest.raises(InvalidStateError):
        local.send("after close")
    await close_all(a, b)


async def test_remote_pc_close_closes_channel() -> None:
    """When the peer closes its RTCPeerConnection our channel gets "close"."""
    a, b, local, remote = await open_channel_pair()
    closed: list[str] = []
    remote.onclose = lambda e: closed.append(remote.readyState)
    await close_all(a)
    await wait_for(lambda: bool(closed), timeout=5)
    assert closed == ["closed"]
    await close_all(b)


# ------------------------------------------------------------------ setConfiguration()


async def test_set_configuration_exceptions() -> None:
    """MDN setConfiguration: InvalidModificationError (certificates, bundlePolicy,
    rtcpMuxPolicy, iceCandidatePoolSize after setLocalDescription), InvalidAccessError (TURN
    without credentials), SyntaxError (bad URL), InvalidStateError (closed)."""
    pc = RTCPeerConnection()
    cert = await RTCPeerConnection.generateCertificate({"name": "ECDSA", "namedCurve": "P-256"})
    with pytest.raises(InvalidModificationError):
        pc.setConfiguration({"certificates": [cert]})
    with pytest.raises(InvalidModificationError):
        pc.setConfiguration({"bundlePolicy": "max-compat"})
    with pytest.raises(InvalidAccessError):
        pc.setConfiguration({"iceServers": [{"urls": "turn:turn.example.org"}]})
    with pytest.raises(SyntaxError_):
        pc.setConfiguration({"iceServers": [{"urls": "http://example.org"}]})
    pc.createDataChannel("x")
    await pc.setLocalDescription()
    with pytest.raises(InvalidModificationError):
        pc.setConfiguration({"iceCandidatePoolSize": 4})
    pc.setConfiguration({"iceServers": [{"urls": "stun:stun.example.org"}]})
    assert pc.getConfiguration()["iceServers"] == [{"urls": ["stun:stun.example.org"]}]
    pc.close()
    with pytest.raises(InvalidStateError):
        pc.setConfiguration({})


def test_get_configuration_defaults() -> None:
    """MDN getConfiguration: the W3C defaults, and a generated certificate."""
    pc = RTCPeerConnection()
    config = pc.getConfiguration()
    assert config["iceServers"] == []
    assert config["iceTransportPolicy"] == "all"
    assert config["bundlePolicy"] == "balanced"
    assert config["rtcpMuxPolicy"] == "require"
    assert config["iceCandidatePoolSize"] == 0
    assert len(config["certificates"]) == 1
    assert isinstance(config["certificates"][0], RTCCertificate)
    pc.close()


def test_constructor_type_errors() -> None:
    """MDN RTCPeerConnection(): invalid enum values are TypeErrors (WebIDL)."""
    for bad in ({"iceTransportPolicy": "none"}, {"bundlePolicy": "x"}, {"rtcpMuxPolicy": "x"}):
        with pytest.raises(TypeError):
            RTCPeerConnection(bad)


# ------------------------------------------------------------------ offer/answer errors


async def test_offer_answer_state_errors() -> None:
    """MDN createAnswer / setLocalDescription / setRemoteDescription: InvalidStateError in
    the wrong signaling state; TypeError for an unknown type; RTCError (an OperationError,
    errorDetail "sdp-syntax-error") for SDP that does not parse; everything InvalidStateError
    once closed."""
    pc = RTCPeerConnection()
    with pytest.raises(InvalidStateError):
        await pc.createAnswer()
    with pytest.raises(InvalidStateError):
        await pc.setRemoteDescription({"type": "answer", "sdp": "v=0\r\n"})
    with pytest.raises(InvalidStateError):
        await pc.setLocalDescription({"type": "rollback"})
    with pytest.raises(TypeError):
        await pc.setLocalDescription({"type": "bogus", "sdp": ""})
    with pytest.raises(RTCError) as info:
        await pc.setRemoteDescription({"type": "offer", "sdp": "not sdp"})
    assert info.value.errorDetail == "sdp-syntax-error"
    assert isinstance(info.value, OperationError)
    assert pc.signalingState == "stable"
    pc.close()
    for call in (pc.createOffer(), pc.setLocalDescription(), pc.addIceCandidate(None)):
        with pytest.raises(InvalidStateError):
            await call


async def test_set_local_description_without_argument() -> None:
    """MDN setLocalDescription(): with no argument it creates the right description itself:
    an offer in "stable", an answer in "have-remote-offer"."""
    offerer, answerer = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    offerer.createDataChannel("x")
    await offerer.setLocalDescription()
    assert offerer.localDescription is not None
    assert offerer.localDescription.type == "offer"
    assert offerer.signalingState == "have-local-offer"
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription()
    assert answerer.localDescription is not None
    assert answerer.localDescription.type == "answer"
    assert answerer.signalingState == "stable"
    await close_all(offerer, answerer)


async def test_rollback() -> None:
    """MDN setLocalDescription/setRemoteDescription {type: "rollback"}: back to stable."""
    pc = RTCPeerConnection(LOOPBACK)
    pc.createDataChannel("x")
    await pc.setLocalDescription()
    await pc.setLocalDescription({"type": "rollback"})
    assert pc.signalingState == "stable" and pc.localDescription is None
    offerer, answerer = await with_remote_offer()
    await answerer.setRemoteDescription({"type": "rollback"})
    assert answerer.signalingState == "stable" and answerer.remoteDescription is None
    await close_all(pc, offerer, answerer)


# ------------------------------------------------------------------ attributes, events


async def test_can_trickle_ice_candidates() -> None:
    """MDN canTrickleIceCandidates: null until a remote description is set."""
    offerer, answerer = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    offerer.createDataChannel("x")
    assert answerer.canTrickleIceCandidates is None
    await answerer.setRemoteDescription(await offerer.createOffer())
    assert answerer.canTrickleIceCandidates is True
    await close_all(offerer, answerer)


async def test_icecandidate_event_ends_with_null() -> None:
    """MDN icecandidate event: RTCPeerConnectionIceEvent with an RTCIceCandidate per
    candidate, then candidate null once gathering is complete."""
    pc = RTCPeerConnection(LOOPBACK)
    seen: list[Any] = []
    done = asyncio.get_running_loop().create_future()

    def on_candidate(event: Any) -> None:
        seen.append(event.candidate)
        if event.candidate is None and not done.done():
            done.set_result(pc.iceGatheringState)

    pc.addEventListener("icecandidate", on_candidate)
    pc.createDataChannel("x")
    await pc.setLocalDescription()
    assert await asyncio.wait_for(done, 5) == "complete"
    assert seen[-1] is None and len(seen) >= 2
    for cand in seen[:-1]:
        assert isinstance(cand, RTCIceCandidate)
        assert cand.sdpMid == "0" and cand.sdpMLineIndex == 0
        assert cand.candidate.startswith("candidate:")
    # localDescription carries the gathered candidates once gathering completes.
    sdp = pc.localDescription.sdp  # type: ignore[union-attr]
    assert sdp.count("a=candidate:") == len(seen) - 1
    await close_all(pc)


async def test_event_handler_forms() -> None:
    """on<event> attributes, addEventListener/removeEventListener, {"once": True}."""
    a, b, local, remote = await open_channel_pair()
    calls: list[str] = []

    def listener(event: Any) -> None:
        calls.append("listener")

    remote.onmessage = lambda e: calls.append("onmessage")
    remote.addEventListener("message", listener)
    remote.addEventListener("message", lambda e: calls.append("once"), {"once": True})
    local.send("1")
    await wait_for(lambda: len(calls) == 3)
    remote.removeEventListener("message", listener)
    local.send("2")
    await wait_for(lambda: len(calls) == 4)
    assert calls == ["onmessage", "listener", "once", "onmessage"]
    await close_all(a, b)


async def test_close_is_synchronous_and_fires_no_state_events() -> None:
    """MDN close(): states become "closed" at once, without state-change events."""
    a, b, local, remote = await open_channel_pair()
    events: list[str] = []
    for name in ("signalingstatechange", "connectionstatechange", "iceconnectionstatechange"):
        a.addEventListener(name, lambda e: events.append(e.type))
    a.close()
    assert (a.signalingState, a.connectionState, a.iceConnectionState) == ("closed",) * 3
    assert local.readyState == "closed"
    await asyncio.sleep(0.02)
    assert events == []
    a.close()  # a second close() does nothing
    await close_all(a, b)


async def test_datachannel_event_then_open() -> None:
    """MDN datachannel event: event.channel is already usable; open follows."""
    a, b = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    trickle(a, b)
    order: list[str] = []

    remote: list[RTCDataChannel] = []

    def on_datachannel(event: Any) -> None:
        order.append(f"datachannel:{event.channel.label}")
        remote.append(event.channel)
        event.channel.onopen = lambda e: order.append("open")

    b.ondatachannel = on_datachannel
    local = a.createDataChannel(
        "announce", {"protocol": "chat-v1", "ordered": False, "maxRetransmits": 2}
    )
    await negotiate(a, b)
    await wait_for(lambda: "open" in order)
    assert order == ["datachannel:announce", "open"]
    # The remote end mirrors what the creator asked for (carried by DCEP, RFC 8832).
    (channel,) = remote
    assert (channel.label, channel.protocol, channel.ordered) == ("announce", "chat-v1", False)
    assert channel.maxRetransmits == 2 and channel.maxPacketLifeTime is None
    assert channel.negotiated is False and channel.id == local.id
    assert channel.readyState == "open"
    await close_all(a, b)


# ------------------------------------------------------------------ value objects


def test_rtc_ice_candidate_fields_and_to_json() -> None:
    """MDN RTCIceCandidate: the fields parsed from the candidate line; toJSON()."""
    line = (
        "candidate:842163049 1 udp 1677729535 198.51.100.7 46154 typ srflx "
        "raddr 10.0.0.1 rport 4000 generation 0"
    )
    cand = RTCIceCandidate({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})
    assert cand.foundation == "842163049"
    assert cand.component == "rtp"
    assert cand.protocol == "udp"
    assert cand.priority == 1677729535
    assert (cand.address, cand.port, cand.type) == ("198.51.100.7", 46154, "srflx")
    assert (cand.relatedAddress, cand.relatedPort) == ("10.0.0.1", 4000)
    assert cand.tcpType is None
    data = cand.toJSON()
    assert data["candidate"] == line and data["sdpMid"] == "0" and data["sdpMLineIndex"] == 0
    again = RTCIceCandidate(json.loads(json.dumps(data)))
    assert (again.candidate, again.sdpMid, again.sdpMLineIndex) == (line, "0", 0)
    with pytest.raises(TypeError):
        RTCIceCandidate({"candidate": line})  # neither sdpMid nor sdpMLineIndex
    tcp = RTCIceCandidate(
        {"candidate": "candidate:2 1 tcp 1 192.0.2.9 9 typ host tcptype passive", "sdpMid": "0"}
    )
    assert (tcp.protocol, tcp.tcpType) == ("tcp", "passive")


def test_rtc_session_description() -> None:
    """MDN RTCSessionDescription: type and sdp, toJSON(), TypeError for an unknown type."""
    desc = RTCSessionDescription({"type": "offer", "sdp": "v=0\r\n"})
    assert (desc.type, desc.sdp) == ("offer", "v=0\r\n")
    assert desc.toJSON() == {"type": "offer", "sdp": "v=0\r\n"}
    assert RTCSessionDescription(desc.toJSON()) == desc
    assert RTCSessionDescription({"type": "rollback"}).sdp == ""
    with pytest.raises(TypeError):
        RTCSessionDescription({"type": "video-offer", "sdp": ""})


async def test_generate_certificate() -> None:
    """MDN generateCertificate / RTCCertificate: expires (ms since epoch, ~30 days ahead),
    getFingerprints(); ECDSA P-256 works; an unknown algorithm is NotSupportedError; an
    expired certificate in the configuration is InvalidAccessError."""
    import time

    cert = await RTCPeerConnection.generateCertificate({"name": "ECDSA", "namedCurve": "P-256"})
    now_ms = time.time() * 1000
    assert now_ms + 29 * 86400000 < cert.expires <= now_ms + 30 * 86400000 + 1000
    fps = cert.getFingerprints()
    assert fps[0]["algorithm"] == "sha-256" and len(fps[0]["value"]) == 95
    with pytest.raises(NotSupportedError):
        await RTCPeerConnection.generateCertificate({"name": "no-such-algorithm"})
    short = await RTCPeerConnection.generateCertificate(
        {"name": "ECDSA", "namedCurve": "P-256", "expires": 1}
    )
    await asyncio.sleep(0.01)
    with pytest.raises(InvalidAccessError):
        RTCPeerConnection({"certificates": [short]})


def test_errors_have_w3c_names() -> None:
    """Code that inspects err.name (as JavaScript does) keeps working."""
    for cls, name in (
        (InvalidStateError, "InvalidStateError"),
        (InvalidAccessError, "InvalidAccessError"),
        (InvalidModificationError, "InvalidModificationError"),
        (OperationError, "OperationError"),
        (NotSupportedError, "NotSupportedError"),
        (SyntaxError_, "SyntaxError"),
    ):
        err = cls("x")
        assert isinstance(err, DOMException) and err.name == name
    assert RTCError("x", errorDetail="dtls-failure").errorDetail == "dtls-failure"


# ------------------------------------------------------------------ media API pages


async def test_media_api_exceptions() -> None:
    """MDN addTrack (InvalidAccessError: the track already has a sender; InvalidStateError:
    closed), removeTrack (InvalidAccessError: a sender of another connection; InvalidStateError:
    closed), addTransceiver (TypeError: unknown kind or direction), RTCRtpSender.replaceTrack
    (TypeError: a track of the other kind)."""
    from rtcpeer import MediaStream
    from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

    pc, other = RTCPeerConnection(), RTCPeerConnection()
    video = VideoTestTrack(160, 120)
    stream = MediaStream([video])
    sender = pc.addTrack(video, stream)
    assert sender.track is video and pc.getSenders() == [sender]
    with pytest.raises(InvalidAccessError):
        pc.addTrack(video, stream)
    foreign = other.addTrack(AudioToneTrack())
    with pytest.raises(InvalidAccessError):
        pc.removeTrack(foreign)
    with pytest.raises(TypeError):
        pc.addTransceiver("text")
    with pytest.raises(TypeError):
        pc.addTransceiver("audio", {"direction": "sideways"})
    transceiver = pc.addTransceiver("audio", {"direction": "recvonly"})
    assert transceiver.direction == "recvonly" and transceiver.mid is None
    assert transceiver.receiver.track.kind == "audio"
    with pytest.raises(TypeError):
        await sender.replaceTrack(AudioToneTrack())
    pc.close()
    with pytest.raises(InvalidStateError):
        pc.addTrack(VideoTestTrack(160, 120))
    with pytest.raises(InvalidStateError):
        pc.removeTrack(sender)
    other.close()


# ------------------------------------------------------------------ W3C conformance details


async def test_signalingstatechange_before_icegatheringstatechange() -> None:
    """webrtc-pc 4.4.1.6 "set the session description": signalingstatechange fires while
    setLocalDescription(offer) is applied; the gathering state change comes after, so the page
    sees "have-local-offer" before "gathering" (as in Chromium)."""
    pc = RTCPeerConnection(LOOPBACK)
    order: list[str] = []
    pc.addEventListener("signalingstatechange", lambda e: order.append("signaling"))
    pc.addEventListener("icegatheringstatechange", lambda e: order.append("gathering"))
    pc.createDataChannel("x")
    await pc.setLocalDescription()
    await asyncio.sleep(0.01)
    assert order[:2] == ["signaling", "gathering"]
    await close_all(pc)


async def test_answerer_signalingstatechange_before_icegatheringstatechange() -> None:
    """The same order for setLocalDescription(answer): "stable" before "gathering"."""
    offerer, answerer = await with_remote_offer()
    order: list[str] = []
    answerer.addEventListener("signalingstatechange", lambda e: order.append("signaling"))
    answerer.addEventListener("icegatheringstatechange", lambda e: order.append("gathering"))
    await answerer.setLocalDescription()
    await asyncio.sleep(0.01)
    assert order[:2] == ["signaling", "gathering"]
    assert answerer.signalingState == "stable"
    await close_all(offerer, answerer)


async def test_connection_state_new_while_ice_is_new() -> None:
    """webrtc-pc 4.3.3 RTCPeerConnectionState: "new" while all RTCIceTransports are "new" or
    "closed"; "connecting" only once ICE checks (or DTLS) are under way."""
    a, b = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    trickle(a, b)
    seen: list[tuple[str, str]] = []
    for pc in (a, b):
        pc.addEventListener(
            "connectionstatechange",
            lambda e, p=pc: seen.append((p.connectionState, p.iceConnectionState)),
        )
    a.createDataChannel("x")
    await negotiate(a, b)
    await wait_for(lambda: a.connectionState == "connected" and b.connectionState == "connected")
    bad = [pair for pair in seen if pair[0] == "connecting" and pair[1] == "new"]
    assert bad == []
    assert ("connected", "connected") in seen or ("connected", "completed") in seen
    await close_all(a, b)


def test_create_data_channel_priority_enum() -> None:
    """RTCDataChannelInit.priority is an RTCPriorityType enum ("very-low", "low", "medium",
    "high"): WebIDL enum conversion throws TypeError for any other string."""
    pc = RTCPeerConnection()
    assert pc.createDataChannel("default").priority == "low"
    for priority in ("very-low", "low", "medium", "high"):
        assert pc.createDataChannel(priority, {"priority": priority}).priority == priority
    for bad in ("urgent", "HIGH", "", 3):
        with pytest.raises(TypeError):
            pc.createDataChannel("bad", {"priority": bad})
    pc.close()


async def test_sdp_syntax_error_has_line_number() -> None:
    """webrtc-pc 4.4.1.6 / 11.1 RTCError: a description that does not parse rejects with an
    RTCError (name "OperationError") whose errorDetail is "sdp-syntax-error" and whose
    sdpLineNumber is the 1-based line of the error; the other detail fields are null."""
    pc = RTCPeerConnection()
    with pytest.raises(RTCError) as info:
        await pc.setRemoteDescription({"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"})
    err = info.value
    assert err.name == "OperationError"
    assert err.errorDetail == "sdp-syntax-error"
    assert err.sdpLineNumber == 2
    assert err.sctpCauseCode is None and err.httpRequestStatusCode is None
    assert err.receivedAlert is None and err.sentAlert is None
    assert pc.signalingState == "stable"
    pc.close()


def test_rtc_error_fields() -> None:
    """MDN RTCError: errorDetail plus the optional detail fields of RTCErrorInit."""
    err = RTCError("bad", errorDetail="dtls-failure", receivedAlert=40, sentAlert=None)
    assert (err.errorDetail, err.receivedAlert, err.sentAlert) == ("dtls-failure", 40, None)
    assert isinstance(err, OperationError) and str(err) == "OperationError: bad"
    sctp = RTCError("abort", errorDetail="sctp-failure", sctpCauseCode=12)
    assert sctp.sctpCauseCode == 12 and sctp.sdpLineNumber is None


async def test_sender_get_parameters_and_set_parameters() -> None:
    """webrtc-pc 5.2 RTCRtpSender.getParameters()/setParameters() (MDN pages of the same
    names): a new transactionId per call; setParameters() without a getParameters() in the
    same task is InvalidStateError, a stale transactionId or a changed encoding count is
    InvalidModificationError; a settable encoding field survives to the next call."""
    from rtcpeer.media.sources import VideoTestTrack

    pc = RTCPeerConnection()
    sender = pc.addTrack(VideoTestTrack(160, 120))
    first, second = sender.getParameters(), sender.getParameters()
    assert isinstance(first.get("transactionId"), str) and first["transactionId"]
    assert first["transactionId"] != second["transactionId"]
    with pytest.raises(InvalidModificationError):
        await sender.setParameters(first)  # superseded by `second`
    changed = sender.getParameters()
    changed["encodings"] = changed["encodings"] * 2
    with pytest.raises(InvalidModificationError):
        await sender.setParameters(changed)
    params = sender.getParameters()
    params["encodings"][0]["maxBitrate"] = 300_000
    await sender.setParameters(params)
    with pytest.raises(InvalidStateError):
        await sender.setParameters(params)  # used up
    assert sender.getParameters()["encodings"][0]["maxBitrate"] == 300_000
    stale = sender.getParameters()
    await asyncio.sleep(0)  # the task ends: the returned parameters are no longer valid
    with pytest.raises(InvalidStateError):
        await sender.setParameters(stale)
    pc.close()


def test_ice_candidate_to_json_is_chromium_shape() -> None:
    """webrtc-pc 4.8.2 says toJSON() is the WebIDL default (the four attributes as they are,
    nulls included). rtcpeer deliberately returns what Chromium returns instead, so Python and
    browser peers exchange the same JSON (docs/mdn.md, "Differences a porter meets"): a null
    usernameFragment becomes "" and a null sdpMLineIndex is left out. Both shapes are accepted
    by the RTCIceCandidate constructor and by addIceCandidate()."""
    line = "candidate:1 1 udp 1 192.0.2.1 9 typ host"
    cand = RTCIceCandidate({"candidate": line, "sdpMid": "0"})
    assert cand.toJSON() == {"candidate": line, "sdpMid": "0", "usernameFragment": ""}
    webidl = {"candidate": line, "sdpMid": "0", "sdpMLineIndex": None, "usernameFragment": None}
    again = RTCIceCandidate(webidl)
    assert again.toJSON() == cand.toJSON()
    full = RTCIceCandidate(
        {"candidate": line, "sdpMid": "1", "sdpMLineIndex": 1, "usernameFragment": "abcd"}
    )
    assert full.toJSON() == {
        "candidate": line,
        "sdpMid": "1",
        "sdpMLineIndex": 1,
        "usernameFragment": "abcd",
    }


async def test_generate_certificate_rsa_connects() -> None:
    """webrtc-pc 4.10.2 generateCertificate: "All user agents are required to support
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: [1, 0, 1], hash:
    "SHA-256" }" (MDN's example uses it). The certificate carries a 2048-bit RSA key signed
    with SHA-256, and a peer using it completes DTLS with an ECDSA peer (ECDHE-RSA suites);
    other RSA parameters are NotSupportedError."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    cert = await RTCPeerConnection.generateCertificate(
        {
            "name": "RSASSA-PKCS1-v1_5",
            "modulusLength": 2048,
            "publicExponent": bytes([1, 0, 1]),
            "hash": "SHA-256",
        }
    )
    assert cert.getFingerprints()[0]["algorithm"] == "sha-256"
    key = cert.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    assert key.public_numbers().e == 65537
    assert cert.certificate.signature_hash_algorithm is not None
    assert cert.certificate.signature_hash_algorithm.name == "sha256"
    for bad in (
        {"modulusLength": 2048, "publicExponent": bytes([3]), "hash": "SHA-256"},
        {"modulusLength": 2048, "publicExponent": [1, 0, 1], "hash": "SHA-1"},
        {"modulusLength": 512, "publicExponent": [1, 0, 1], "hash": "SHA-256"},
        {"modulusLength": "2048", "hash": {"name": "SHA-256"}},
    ):
        with pytest.raises(NotSupportedError):
            await RTCPeerConnection.generateCertificate({"name": "RSASSA-PKCS1-v1_5", **bad})

    a = RTCPeerConnection({**LOOPBACK, "certificates": [cert]})
    b = RTCPeerConnection(LOOPBACK)
    trickle(a, b)
    channel = a.createDataChannel("rsa")
    got: list[Any] = []
    b.addEventListener("datachannel", lambda e: e.channel.addEventListener("message", got.append))
    channel.addEventListener("open", lambda e: channel.send("over RSA"))
    await negotiate(a, b)
    await wait_for(lambda: bool(got))
    assert got[0].data == "over RSA"
    assert cert.getFingerprints()[0]["value"].upper() in (
        b.remoteDescription.sdp if b.remoteDescription else ""
    )
    await close_all(a, b)


async def test_selected_candidate_pair_is_nominated() -> None:
    """webrtc-stats RTCIceCandidatePairStats.nominated (RFC 8445 7.1.3.2.4; MDN's getStats
    examples walk transport -> selectedCandidatePairId -> nominated). Data may flow on a valid
    pair before nomination (RFC 8445 12.1); the report shows the agent's real flag, and the
    controlling agent nominates within its nomination_delay (0.5 s, when a better pair is still
    being checked), after which both sides' selected pair reports nominated: true."""
    a, b, local, remote = await open_channel_pair()

    async def selected_pairs() -> list[dict[str, Any]]:
        pairs = []
        for pc in (a, b):
            stats = await pc.getStats()
            transport = next(r for r in stats.values() if r["type"] == "transport")
            pair = stats[transport["selectedCandidatePairId"]]
            assert pair["type"] == "candidate-pair" and pair["state"] == "succeeded"
            assert stats[pair["localCandidateId"]]["type"] == "local-candidate"
            assert stats[pair["remoteCandidateId"]]["type"] == "remote-candidate"
            assert pc._ice is not None and pc._ice.agent.selected_pair is not None
            assert pair["nominated"] is pc._ice.agent.selected_pair.nominated
            pairs.append(pair)
        return pairs

    loop = asyncio.get_running_loop()
    end = loop.time() + 3.0
    while not all(p["nominated"] for p in await selected_pairs()):
        assert loop.time() < end, "the selected pair was never nominated"
        await asyncio.sleep(0.02)
    got: list[Any] = []
    remote.addEventListener("message", got.append)
    local.send("still flowing")
    await wait_for(lambda: bool(got))
    await close_all(a, b)


async def test_sctp_is_an_rtcsctptransport() -> None:
    """webrtc-pc 6.1.1 RTCSctpTransport, 5.5 RTCDtlsTransport, 5.6 RTCIceTransport (MDN
    RTCPeerConnection.sctp and "Understanding message size limits"): pc.sctp has state,
    maxMessageSize (what send() accepts), maxChannels, transport -> RTCDtlsTransport (state,
    iceTransport, getRemoteCertificates()) -> RTCIceTransport (state, gatheringState, role,
    component, candidates, parameters, getSelectedCandidatePair()); each fires its events."""
    a, b = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    assert a.sctp is None
    trickle(a, b)
    local = a.createDataChannel("x")
    await a.setLocalDescription()
    sctp: Any = a.sctp
    assert sctp is not None and sctp is a.sctp
    assert sctp.state == "connecting" and sctp.maxChannels is None
    dtls = sctp.transport
    ice = dtls.iceTransport
    assert dtls.state == "new" and dtls.getRemoteCertificates() == []
    assert ice.role == "controlling" and ice.component == "rtp"
    assert ice.getSelectedCandidatePair() is None and ice.getRemoteParameters() is None
    events: list[str] = []
    sctp.addEventListener("statechange", lambda e: events.append("sctp:" + sctp.state))
    dtls.addEventListener("statechange", lambda e: events.append("dtls:" + dtls.state))
    ice.addEventListener("statechange", lambda e: events.append("ice:" + ice.state))
    ice.addEventListener("gatheringstatechange", lambda e: events.append("g:" + ice.gatheringState))
    ice.addEventListener("selectedcandidatepairchange", lambda e: events.append("pair"))
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await wait_for(lambda: local.readyState == "open" and ice.gatheringState == "complete")

    assert sctp.state == "connected"
    assert sctp.maxMessageSize == 262144
    assert isinstance(sctp.maxChannels, int) and 0 < sctp.maxChannels <= 65535
    assert dtls.state == "connected"
    assert ice.state in ("connected", "completed")
    assert ice.gatheringState == "complete"
    pair = ice.getSelectedCandidatePair()
    assert pair is not None and pair.local.address and pair.remote.port
    assert pair.local.candidate in [c.candidate for c in ice.getLocalCandidates()]
    assert pair.remote.candidate in [c.candidate for c in ice.getRemoteCandidates()]
    assert ice.getLocalParameters()["usernameFragment"] in a.localDescription.sdp
    assert ice.getRemoteParameters()["usernameFragment"] in b.localDescription.sdp
    b_sctp: Any = b.sctp
    assert b_sctp.transport.iceTransport.role == "controlled"
    their_cert = b.getConfiguration()["certificates"][0]
    assert dtls.getRemoteCertificates() == [their_cert.der]
    for expected in ("g:complete", "ice:checking", "pair", "dtls:connecting"):
        assert expected in events, (expected, events)
    assert events.index("ice:checking") < events.index("pair")
    assert events.index("dtls:connecting") < events.index("dtls:connected")
    assert events.index("dtls:connected") < events.index("sctp:connected")

    # maxMessageSize is exactly what send() accepts.
    local.send(b"\x00" * int(sctp.maxMessageSize))
    with pytest.raises(TypeError):
        local.send(b"\x00" * (int(sctp.maxMessageSize) + 1))

    count = len(events)
    a.close()
    assert (sctp.state, dtls.state, ice.state) == ("closed", "closed", "closed")
    assert ice.getSelectedCandidatePair() is None
    await asyncio.sleep(0.01)
    assert len(events) == count  # closing fires no transport events
    await close_all(a, b)


async def test_sctp_transport_closes_when_the_peer_closes() -> None:
    """webrtc-pc 6.1.1.1: when the association ends (the peer closed), the RTCSctpTransport
    goes to "closed" and fires statechange."""
    a, b, local, remote = await open_channel_pair()
    sctp: Any = b.sctp
    states: list[str] = []
    sctp.addEventListener("statechange", lambda e: states.append(sctp.state))
    a.close()
    await wait_for(lambda: sctp.state == "closed", timeout=5.0)
    assert states == ["closed"]
    await close_all(a, b)


async def test_rtp_stats_codec_and_received_fields() -> None:
    """webrtc-stats 8.1/8.4/8.6 (MDN RTCInboundRtpStreamStats, RTCCodecStats; the "Using the
    WebRTC Statistics API" guide): inbound-rtp carries bytesReceived, packetsLost and jitter
    (RTCReceivedRtpStreamStats, jitter in seconds), and every codecId names an RTCCodecStats
    report ("codec": payloadType, mimeType, clockRate, transportId) in the same report."""
    module = load_example("signaling_video_call.py")
    naomi, priya, _ = await module.main(hang_up=False)
    try:
        stats = await priya.my_peer_connection.getStats()
        rtp = [r for r in stats.values() if r["type"] in ("inbound-rtp", "outbound-rtp")]
        assert {r["type"] for r in rtp} == {"inbound-rtp", "outbound-rtp"}
        for report in rtp:
            codec = stats.get(report["codecId"])
            assert codec is not None, report["codecId"]
            assert codec["type"] == "codec" and codec["id"] == report["codecId"]
            assert codec["mimeType"] in ("video/VP8", "video/H264", "audio/opus")
            assert isinstance(codec["payloadType"], int) and codec["clockRate"] > 0
            assert stats[codec["transportId"]]["type"] == "transport"
            assert stats[report["transportId"]]["type"] == "transport"
            if codec["mimeType"] == "audio/opus":
                assert codec["clockRate"] == 48000 and codec["channels"] == 2
        for report in (r for r in rtp if r["type"] == "inbound-rtp"):
            assert report["bytesReceived"] > 0
            assert isinstance(report["packetsLost"], int)
            assert isinstance(report["jitter"], float) and 0.0 <= report["jitter"] < 1.0
        codecs = [r for r in stats.values() if r["type"] == "codec"]
        assert {c["id"] for c in codecs} == {r["codecId"] for r in rtp}
    finally:
        naomi.hang_up_call()
        await asyncio.sleep(0.05)


def test_close_returns_an_awaitable_without_a_loop() -> None:
    """MDN RTCPeerConnection.close(): callable without await as in JavaScript; rtcpeer's
    result is always awaitable (typed Awaitable[None]), even with no event loop running and
    on a second call, so `await pc.close()` type-checks under mypy --strict."""
    import inspect

    pc = RTCPeerConnection()
    first = pc.close()
    second = pc.close()
    assert inspect.isawaitable(first) and inspect.isawaitable(second)
    assert pc.connectionState == "closed" and pc.signalingState == "closed"

    async def wait_both() -> None:
        await first
        await second

    asyncio.run(wait_both())


async def test_await_close_twice() -> None:
    """`await pc.close()` waits for the teardown; awaiting a second close() returns at once."""
    a, b, local, remote = await open_channel_pair()
    await a.close()
    await a.close()
    await asyncio.wait_for(b.close(), 5)
    assert a.connectionState == b.connectionState == "closed"


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["modulusLength", "publicExponent", "hash", "name"]),
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.binary(max_size=9),
            st.lists(st.integers(0, 300), max_size=4),
            st.text(max_size=12),
            st.dictionaries(st.just("name"), st.text(max_size=8)),
            st.none(),
            st.booleans(),
        ),
    )
)
def test_rsa_keygen_params_only_not_supported_error(params: dict[str, Any]) -> None:
    """Whatever RsaHashedKeyGenParams a page passes, generateCertificate's check returns a
    supported modulus length or raises NotSupportedError (never anything else)."""
    from rtcpeer.dtls.certificate import _rsa_modulus_length

    try:
        bits = _rsa_modulus_length(params, params)
    except NotSupportedError:
        return
    assert 1024 <= bits <= 8192


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=10), st.integers(), st.none()))
def test_create_data_channel_priority_random_values(priority: Any) -> None:
    """RTCPriorityType: only the four enum strings are accepted, anything else is TypeError."""
    pc = RTCPeerConnection()
    try:
        if priority in ("very-low", "low", "medium", "high"):
            assert pc.createDataChannel("x", {"priority": priority}).priority == priority
        else:
            with pytest.raises(TypeError):
                pc.createDataChannel("x", {"priority": priority})
    finally:
        pc.close()


async def test_dtls_transport_error_event_on_fingerprint_mismatch() -> None:
    """webrtc-pc 5.5.1: when DTLS fails (here the peer's certificate does not match the
    a=fingerprint of the description), the RTCDtlsTransport fires "error" (an RTCErrorEvent,
    errorDetail "dtls-failure") and then "statechange" to "failed"; connectionState fails."""
    a, b = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    trickle(a, b)
    a.createDataChannel("x")
    await a.setLocalDescription()
    dtls: Any = a.sctp.transport if a.sctp is not None else None
    seen: list[Any] = []
    dtls.addEventListener("error", lambda e: seen.append(e.error))
    dtls.addEventListener("statechange", lambda e: seen.append(dtls.state))
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    assert b.localDescription is not None
    lines = b.localDescription.sdp.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith("a=fingerprint:sha-256 "):
            digits = "00" if line[-2:] != "00" else "11"
            lines[i] = line[:-2] + digits  # another certificate's fingerprint
    await a.setRemoteDescription({"type": "answer", "sdp": "\r\n".join(lines)})
    await wait_for(lambda: a.connectionState == "failed", timeout=10.0)
    errors = [x for x in seen if isinstance(x, RTCError)]
    assert len(errors) == 1 and errors[0].errorDetail == "dtls-failure"
    assert seen.index(errors[0]) < seen.index("failed")
    assert dtls.state == "failed"
    await close_all(a, b)
