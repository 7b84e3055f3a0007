"""Each MDN guide ported under examples/mdn runs and does what the guide says it does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mdnhelpers import load_example


async def test_simple_datachannel_sample() -> None:
    """A simple RTCDataChannel sample: Connect enables Send; messages land in the receive box,
    in order; the receiving side logs its channel opening; Disconnect resets the page."""
    module = load_example("simple_datachannel.py")
    messages = ("Hello", "from rtcpeer", "ünïcödé ✓", "")
    page = await module.main(messages)
    assert page.receive_box == list(messages)
    assert "Receive channel's status has changed to open" in page.log
    assert not any("failed" in line or "Unable" in line for line in page.log), page.log
    # disconnectPeers(): the page is back to its initial state.
    assert page.connect_button_disabled is False
    assert page.disconnect_button_disabled is True
    assert page.send_button_disabled is True
    assert page.message_input_disabled is True
    assert module.local_connection is None and module.send_channel is None


async def test_simple_datachannel_states_after_disconnect() -> None:
    module = load_example("simple_datachannel.py")
    await module.connect_peers()
    local, remote, send = module.local_connection, module.remote_connection, module.send_channel
    while module.ui.send_button_disabled:
        await asyncio.sleep(0.005)
    assert local.connectionState == "connected"
    receive = module.receive_channel
    assert receive.label == "sendChannel" and receive.readyState == "open"
    module.disconnect_peers()
    # RTCPeerConnection.close(): states become "closed" at once, channels too.
    for pc in (local, remote):
        assert pc.signalingState == "closed"
        assert pc.connectionState == "closed"
        assert pc.iceConnectionState == "closed"
    assert send.readyState == "closed" and receive.readyState == "closed"


async def test_perfect_negotiation_glare() -> None:
    """Perfect negotiation: both peers offer at once; the impolite one ignores the colliding
    offer, the polite one rolls back and answers; both end "stable" and both channels work."""
    module = load_example("perfect_negotiation.py")
    polite, impolite, received = await module.main()
    assert received["polite"] == ["hello from the impolite peer"]
    assert received["impolite"] == ["hello from the polite peer"]
    assert polite.errors == [] and impolite.errors == []
    assert polite.signaling_state == "stable" and impolite.signaling_state == "stable"
    # The collision really happened and was resolved as the guide describes.
    assert impolite.ignored_offers >= 1
    assert polite.rollbacks >= 1
    assert polite.ignored_offers == 0


async def test_signaling_and_video_calling() -> None:
    """Signaling and video calling: invite -> negotiationneeded -> video-offer ->
    video-answer; track events give the remote stream; frames arrive; hang-up closes both."""
    module = load_example("signaling_video_call.py")
    naomi, priya, frame = await module.main()
    assert frame.width == 160 and frame.height == 120
    assert naomi.log == [] and priya.log == []
    # The signaling-state sequences the guide's handleSignalingStateChangeEvent sees.
    assert naomi.signaling_states == ["have-local-offer", "stable"]
    assert priya.signaling_states == ["have-remote-offer", "stable"]
    for client in (naomi, priya):
        assert client.ice_gathering_states[0] == "gathering"
        assert client.ice_gathering_states[-1] == "complete"
        assert client.ice_connection_states[:1] == ["checking"]
        assert "connected" in client.ice_connection_states
        # closeVideoCall() ran on both sides (Naomi hung up, Priya got "hang-up").
        assert client.my_peer_connection is None
        assert client.hangup_button_disabled is True
        assert client.target_username is None


async def test_signaling_and_video_calling_streams() -> None:
    module = load_example("signaling_video_call.py")
    naomi, priya, _ = await module.main(hang_up=False)
    local = naomi.local_video.srcObject
    remote = priya.received_video.srcObject
    # event.streams[0] is the caller's stream, with both tracks (msid), as in a browser.
    assert remote.id == local.id
    assert sorted(t.kind for t in remote.getTracks()) == ["audio", "video"]
    assert naomi.received_video.srcObject is not None
    assert naomi.hangup_button_disabled is False and priya.hangup_button_disabled is False
    # The messages were JSON all the way (what the guide's WebSocket server carries).
    desc = naomi.my_peer_connection.localDescription
    assert json.loads(json.dumps(desc.toJSON())) == {"type": "offer", "sdp": desc.sdp}
    # Using the WebRTC Statistics API: per-stream RTP stats, as the guide walks them.
    # (Priya's own tracks start sending a moment after she received Naomi's first frame.)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        stats = await priya.my_peer_connection.getStats()
        sent = [r.get("packetsSent", 0) for r in stats.values() if r["type"] == "outbound-rtp"]
        if (len(sent) == 2 and all(sent)) or loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    inbound = [r for r in stats.values() if r["type"] == "inbound-rtp"]
    assert sorted(r["kind"] for r in inbound) == ["audio", "video"]
    video_in = next(r for r in inbound if r["kind"] == "video")
    assert video_in["packetsReceived"] > 0 and video_in["framesDecoded"] > 0
    assert isinstance(video_in["ssrc"], int) and video_in["trackIdentifier"]
    outbound = [r for r in stats.values() if r["type"] == "outbound-rtp"]
    assert sorted(r["kind"] for r in outbound) == ["audio", "video"]
    assert all(r["packetsSent"] > 0 and r["bytesSent"] > 0 for r in outbound)
    naomi.hang_up_call()
    await asyncio.sleep(0.05)  # Priya receives "hang-up" and runs closeVideoCall()
    assert priya.my_peer_connection is None
    assert [t.readyState for t in local.getTracks()] == ["ended", "ended"]


async def test_using_datachannels() -> None:
    """Using WebRTC data channels: automatic and manual (negotiated) channels, buffering."""
    module = load_example("using_datachannels.py")
    auto: dict[str, Any] = await module.automatic_negotiation()
    assert auto["received"] == ["Hi, remote peer!"]
    assert auto["label"] == "MyApp Channel" and auto["negotiated"] is False
    assert isinstance(auto["id"], int)
    manual: dict[str, Any] = await module.manual_negotiation()
    assert manual["received"] == ["Hi, remote peer!"]
    assert manual["datachannel_events"] == 0  # negotiated channels are not announced
    assert manual["ids"] == (0, 0)


async def test_buffered_send_with_bufferedamountlow() -> None:
    module = load_example("using_datachannels.py")
    out: dict[str, Any] = await module.buffered_send(total=1 << 20)
    assert out["received"] == 1 << 20
    assert out["low_events"] >= 1  # the bufferedamountlow handler kept the buffer fed
    assert out["max_buffered"] > 65536  # something really was buffered above the threshold


async def test_get_stats() -> None:
    """getStats(): the report walk of MDN's example and the selected candidate pair."""
    module = load_example("get_stats.py")
    out = await module.main()
    stats = out["stats"]
    types = {report["type"] for report in stats.values()}
    assert {"peer-connection", "transport", "candidate-pair", "local-candidate"} <= types
    assert {"remote-candidate", "certificate", "data-channel"} <= types
    for key, report in stats.items():
        assert report["id"] == key
        assert isinstance(report["timestamp"], float)
    box = out["box"]
    assert "Report: peer-connection" in box and any(line.startswith("ID: ") for line in box)
    selected = out["selected"]
    assert selected is not None
    pair, local, remote = selected["pair"], selected["local"], selected["remote"]
    assert pair["type"] == "candidate-pair" and pair["state"] == "succeeded"
    assert local["type"] == "local-candidate" and remote["type"] == "remote-candidate"
    assert isinstance(local["port"], int) and local["candidateType"] == "host"
    assert isinstance(pair["bytesSent"], int) and pair["bytesSent"] > 0
    channel = next(r for r in stats.values() if r["type"] == "data-channel")
    assert channel["label"] == "stats" and channel["messagesSent"] == 1
    assert channel["bytesSent"] == 4 and channel["state"] == "open"
    peer = next(r for r in stats.values() if r["type"] == "peer-connection")
    assert peer["dataChannelsOpened"] == 1


async def test_certificates() -> None:
    module = load_example("certificates.py")
    out = await module.main()
    assert 29 < out["expires_in_days"] <= 30  # W3C default: 30 days
    fingerprint = out["fingerprints"][0]
    assert fingerprint["algorithm"] == "sha-256"
    assert len(fingerprint["value"].split(":")) == 32
    assert out["in_sdp"] is True and out["configured"] is True


async def test_session_lifetime_descriptions_and_ice_restart() -> None:
    """WebRTC connectivity: pending/current descriptions after each step. Lifetime of a
    session: restartIce() and createOffer({iceRestart}) renegotiate new ICE credentials
    while the data channel keeps working."""
    module = load_example("session_lifetime.py")
    out = await module.main()
    steps = {name: (caller, callee) for name, caller, callee in out["steps"]}
    caller, callee = steps["caller set offer"]
    assert caller["pendingLocalDescription"] == "offer"
    assert caller["currentLocalDescription"] is None
    caller, callee = steps["callee got offer"]
    assert callee["pendingRemoteDescription"] == "offer"
    assert callee["currentRemoteDescription"] is None
    caller, callee = steps["callee set answer"]
    assert callee["currentLocalDescription"] == "answer"
    assert callee["currentRemoteDescription"] == "offer"
    assert callee["pendingRemoteDescription"] is None
    caller, callee = steps["caller got answer"]
    assert caller == {
        "pendingLocalDescription": None,
        "currentLocalDescription": "offer",
        "pendingRemoteDescription": None,
        "currentRemoteDescription": "answer",
    }
    # During the restart the old description stays current while the new one is pending.
    name, caller, _ = out["restart_steps"][0]
    assert caller["pendingLocalDescription"] == "offer"
    assert caller["currentLocalDescription"] == "offer"
    first, second, third = out["ufrags"]
    assert len({first, second, third}) == 3
    assert out["received"] == ["before restart", "after restart", "after second restart"]


async def test_session_lifetime_state_sequences() -> None:
    """The documented state machines: signaling stable -> have-local-offer -> stable (caller),
    stable -> have-remote-offer -> stable (callee); gathering new -> gathering -> complete;
    ICE new -> checking -> connected; connection new -> connecting -> connected."""
    module = load_example("session_lifetime.py")
    out = await module.main()

    def states(log: list[tuple[str, str]], event: str) -> list[str]:
        return [state for name, state in log if name == event]

    caller_log, callee_log = out["caller_log"], out["callee_log"]
    assert states(caller_log, "signalingstatechange")[:2] == ["have-local-offer", "stable"]
    assert states(callee_log, "signalingstatechange")[:2] == ["have-remote-offer", "stable"]
    for log in (caller_log, callee_log):
        assert states(log, "icegatheringstatechange")[:2] == ["gathering", "complete"]
        ice = states(log, "iceconnectionstatechange")
        assert ice[:2] == ["checking", "connected"]
        assert "failed" not in ice and "disconnected" not in ice
        assert states(log, "connectionstatechange")[:2] == ["connecting", "connected"]
    # The exchange ran straight after createDataChannel(), so the queued negotiationneeded
    # found nothing left to negotiate and never fired (W3C 4.7.3); restartIce() fired it once.
    assert states(caller_log, "negotiationneeded") == [""]


async def test_ice_servers_relay_only() -> None:
    """Introduction to WebRTC protocols (TURN) + iceTransportPolicy "relay": only relay
    candidates are offered and the selected pair is relay/relay; data still flows."""
    module = load_example("ice_servers.py")
    out = await module.relay_only()
    assert out["message"] == "relayed hello"
    assert out["candidate_types"] and set(out["candidate_types"]) == {"relay"}
    assert out["selected"] == ("relay", "relay")


@pytest.mark.slow
async def test_ice_servers_candidate_errors() -> None:
    """icecandidateerror: 300-699 for a STUN/TURN error response (401: wrong credential),
    700-799 when the server cannot be reached; url names the server (about 3 s)."""
    module = load_example("ice_servers.py")
    reports = await module.candidate_errors()
    refused = [r for r in reports if r["kind"] == "server error response"]
    unreachable = [r for r in reports if r["kind"] == "server unreachable"]
    assert [r["errorCode"] for r in refused] == [401]
    assert unreachable and all(r["errorCode"] == 701 for r in unreachable)
    assert refused[0]["url"] != unreachable[0]["url"]
    assert all(r["url"].startswith("turn:") and r["text"] for r in reports)
    assert not [r for r in reports if r["kind"] == "other"]
