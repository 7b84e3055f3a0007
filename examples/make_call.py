"""webrtc.org "Getting started with peer connections" (makeCall / answer) with trickle ICE.

https://webrtc.org/getting-started/peer-connections and MDN's "WebRTC connectivity": the
caller creates an offer and sends it over the signaling channel, the callee answers; ICE
candidates are trickled as they are found; both wait for connectionState "connected".
Run: ``python examples/make_call.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signaling_channel import SignalingChannel

from rtcpeer import RTCPeerConnection, RTCSessionDescription

# No STUN server here (no network needed): loopback host candidates instead.
configuration = {"iceServers": [], "includeLoopback": True}


def add_trickle(peer_connection: RTCPeerConnection, signaling_channel: SignalingChannel) -> None:
    # Listen for local ICE candidates on the local RTCPeerConnection
    def on_icecandidate(event: Any) -> None:
        if event.candidate:
            signaling_channel.send({"new-ice-candidate": event.candidate})

    peer_connection.addEventListener("icecandidate", on_icecandidate)

    # Listen for remote ICE candidates and add them to the local RTCPeerConnection
    async def on_message(message: Any) -> None:
        if "new-ice-candidate" in message.data:
            try:
                await peer_connection.addIceCandidate(message.data["new-ice-candidate"])
            except Exception as e:
                print("Error adding received ice candidate", e)

    signaling_channel.addEventListener("message", on_message)


async def make_call(signaling_channel: SignalingChannel) -> RTCPeerConnection:
    peer_connection = RTCPeerConnection(configuration)
    add_trickle(peer_connection, signaling_channel)

    async def on_message(message: Any) -> None:
        if "answer" in message.data:
            remote_desc = RTCSessionDescription(message.data["answer"])
            await peer_connection.setRemoteDescription(remote_desc)

    signaling_channel.addEventListener("message", on_message)
    peer_connection.createDataChannel("call")  # something to negotiate
    offer = await peer_connection.createOffer()
    await peer_connection.setLocalDescription(offer)
    signaling_channel.send({"offer": offer.toJSON()})
    return peer_connection


def answer_calls(signaling_channel: SignalingChannel) -> RTCPeerConnection:
    peer_connection = RTCPeerConnection(configuration)
    add_trickle(peer_connection, signaling_channel)

    async def on_message(message: Any) -> None:
        if "offer" in message.data:
            await peer_connection.setRemoteDescription(RTCSessionDescription(message.data["offer"]))
            answer = await peer_connection.createAnswer()
            await peer_connection.setLocalDescription(answer)
            signaling_channel.send({"answer": answer.toJSON()})

    signaling_channel.addEventListener("message", on_message)
    return peer_connection


async def main() -> tuple[str, str]:
    caller_channel, callee_channel = SignalingChannel.pair()
    callee = answer_calls(callee_channel)
    caller = await make_call(caller_channel)
    connected = asyncio.Event()

    # Listen for connectionstatechange on the local RTCPeerConnection
    def on_connectionstatechange(event: Any) -> None:
        if caller.connectionState == "connected":
            connected.set()  # Peers connected!

    caller.addEventListener("connectionstatechange", on_connectionstatechange)
    await asyncio.wait_for(connected.wait(), 10)
    states = (caller.connectionState, callee.connectionState)
    print("caller:", states[0], "callee:", states[1])
    for pc in (caller, callee):
        await pc.close()  # type: ignore[misc]
    return states


if __name__ == "__main__":
    asyncio.run(main())
