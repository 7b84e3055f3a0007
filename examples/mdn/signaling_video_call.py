"""MDN "Signaling and video calling", ported line by line (caller and callee in one process).

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Signaling_and_video_calling

The guide's client code keeps its shape and names (snake_case): ``invite()``,
``create_peer_connection()``, ``handle_negotiation_needed_event()``,
``handle_video_offer_msg()``, ``handle_video_answer_msg()``, ``handle_ice_candidate_event()``,
``handle_new_ice_candidate_msg()``, ``handle_track_event()``, ``hang_up_call()``,
``close_video_call()`` and the state-change handlers. The messages (``video-offer``,
``video-answer``, ``new-ice-candidate``, ``hang-up``) go through JSON as over the guide's
WebSocket server.

What differs, and why:
- ``navigator.mediaDevices.getUserMedia()`` -> ``get_user_media()``, which returns a
  ``MediaStream`` of a test-pattern video track and a tone (Python has no camera here).
- ``<video>`` elements -> ``VideoElement`` objects with a ``srcObject``.
- The chat server -> ``examples/signaling_channel.py`` (two linked ends; ``target`` is kept
  in the messages but there are only two users).
- ``JSON.stringify`` calls ``toJSON()`` by itself; Python's ``json.dumps`` needs
  ``default=lambda o: o.toJSON()``.
- ``myPeerConnection.onremovetrack`` is not a W3C RTCPeerConnection event (it was removed
  from the spec); the stream's ``removetrack`` event is the W3C one.

Run: ``python examples/mdn/signaling_video_call.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from signaling_channel import SignalingChannel

from rtcpeer import (
    MediaStream,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)

media_constraints = {"audio": True, "video": True}


async def get_user_media(constraints: dict[str, bool]) -> MediaStream:
    """navigator.mediaDevices.getUserMedia(): a test pattern and a 440 Hz tone."""
    from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

    tracks: list[Any] = []
    if constraints.get("video"):
        tracks.append(VideoTestTrack(160, 120))
    if constraints.get("audio"):
        tracks.append(AudioToneTrack())
    return MediaStream(tracks)


@dataclass
class VideoElement:
    srcObject: MediaStream | None = None


@dataclass
class Client:
    """One browser tab of the guide: its globals and its page elements."""

    my_username: str
    signaler: SignalingChannel
    my_peer_connection: Any = None
    target_username: str | None = None
    local_video: VideoElement = field(default_factory=VideoElement)
    received_video: VideoElement = field(default_factory=VideoElement)
    hangup_button_disabled: bool = True
    log: list[str] = field(default_factory=list)  # console.log / reportError
    signaling_states: list[str] = field(default_factory=list)
    ice_gathering_states: list[str] = field(default_factory=list)
    ice_connection_states: list[str] = field(default_factory=list)

    def send_to_server(self, msg: dict[str, Any]) -> None:
        self.signaler.send(json.dumps(msg, default=lambda o: o.toJSON()))

    # -- the chat client's message dispatcher (connection.onmessage) --------------------
    async def on_message(self, event: Any) -> None:
        msg = json.loads(event.data)
        handler = {
            "video-offer": self.handle_video_offer_msg,
            "video-answer": self.handle_video_answer_msg,
            "new-ice-candidate": self.handle_new_ice_candidate_msg,
            "hang-up": self.handle_hang_up_msg,
        }[msg["type"]]
        await handler(msg)

    # -- starting a call -------------------------------------------------------------------
    async def invite(self, clicked_username: str) -> None:
        if self.my_peer_connection:
            self.log.append("You can't start a call because you already have one open!")
            return
        if clicked_username == self.my_username:
            self.log.append("I'm afraid I can't let you talk to yourself. That would be weird.")
            return
        self.target_username = clicked_username
        self.create_peer_connection()
        try:
            local_stream = await get_user_media(media_constraints)
            self.local_video.srcObject = local_stream
            for track in local_stream.getTracks():
                self.my_peer_connection.addTrack(track, local_stream)
        except Exception as error:
            self.handle_get_user_media_error(error)

    def create_peer_connection(self) -> None:
        self.my_peer_connection = RTCPeerConnection(
            {"iceServers": [], "includeLoopback": True}  # the guide names a public STUN server
        )
        pc = self.my_peer_connection
        pc.onicecandidate = self.handle_ice_candidate_event
        pc.ontrack = self.handle_track_event
        pc.onnegotiationneeded = self.handle_negotiation_needed_event
        pc.oniceconnectionstatechange = self.handle_ice_connection_state_change_event
        pc.onicegatheringstatechange = self.handle_ice_gathering_state_change_event
        pc.onsignalingstatechange = self.handle_signaling_state_change_event

    async def handle_negotiation_needed_event(self, event: Any) -> None:
        try:
            offer = await self.my_peer_connection.createOffer()
            await self.my_peer_connection.setLocalDescription(offer)
            self.send_to_server(
                {
                    "name": self.my_username,
                    "target": self.target_username,
                    "type": "video-offer",
                    "sdp": self.my_peer_connection.localDescription,
                }
            )
        except Exception as error:
            self.report_error(error)

    # -- the callee ------------------------------------------------------------------------
    async def handle_video_offer_msg(self, msg: dict[str, Any]) -> None:
        self.target_username = msg["name"]
        self.create_peer_connection()
        desc = RTCSessionDescription(msg["sdp"])
        try:
            await self.my_peer_connection.setRemoteDescription(desc)
            local_stream = await get_user_media(media_constraints)
            self.local_video.srcObject = local_stream
            for track in local_stream.getTracks():
                self.my_peer_connection.addTrack(track, local_stream)
            answer = await self.my_peer_connection.createAnswer()
            await self.my_peer_connection.setLocalDescription(answer)
            self.send_to_server(
                {
                    "name": self.my_username,
                    "target": self.target_username,
                    "type": "video-answer",
                    "sdp": self.my_peer_connection.localDescription,
                }
            )
        except Exception as error:
            self.handle_get_user_media_error(error)

    async def handle_video_answer_msg(self, msg: dict[str, Any]) -> None:
        desc = RTCSessionDescription(msg["sdp"])
        try:
            await self.my_peer_connection.setRemoteDescription(desc)
        except Exception as error:
            self.report_error(error)

    # -- ICE candidates --------------------------------------------------------------------
    def handle_ice_candidate_event(self, event: Any) -> None:
        if event.candidate:
            self.send_to_server(
                {
                    "type": "new-ice-candidate",
                    "target": self.target_username,
                    "candidate": event.candidate,
                }
            )

    async def handle_new_ice_candidate_msg(self, msg: dict[str, Any]) -> None:
        candidate = RTCIceCandidate(msg["candidate"])
        try:
            await self.my_peer_connection.addIceCandidate(candidate)
        except Exception as error:
            self.report_error(error)

    # -- media -----------------------------------------------------------------------------
    def handle_track_event(self, event: Any) -> None:
        self.received_video.srcObject = event.streams[0]
        self.hangup_button_disabled = False

    # -- hanging up ------------------------------------------------------------------------
    def hang_up_call(self) -> None:
        self.close_video_call()
        self.send_to_server(
            {"name": self.my_username, "target": self.target_username, "type": "hang-up"}
        )

    async def handle_hang_up_msg(self, msg: dict[str, Any]) -> None:
        self.close_video_call()

    def close_video_call(self) -> None:
        pc = self.my_peer_connection
        if pc:
            pc.ontrack = None
            pc.onicecandidate = None
            pc.oniceconnectionstatechange = None
            pc.onsignalingstatechange = None
            pc.onicegatheringstatechange = None
            pc.onnegotiationneeded = None

            if self.received_video.srcObject:
                for track in self.received_video.srcObject.getTracks():
                    track.stop()
            if self.local_video.srcObject:
                for track in self.local_video.srcObject.getTracks():
                    track.stop()

            pc.close()
            self.my_peer_connection = None

        self.received_video.srcObject = None
        self.local_video.srcObject = None
        self.hangup_button_disabled = True
        self.target_username = None

    # -- state changes ---------------------------------------------------------------------
    def handle_ice_connection_state_change_event(self, event: Any) -> None:
        state = self.my_peer_connection.iceConnectionState
        self.ice_connection_states.append(state)
        if state in ("closed", "failed"):
            self.close_video_call()

    def handle_signaling_state_change_event(self, event: Any) -> None:
        state = self.my_peer_connection.signalingState
        self.signaling_states.append(state)
        if state == "closed":
            self.close_video_call()

    def handle_ice_gathering_state_change_event(self, event: Any) -> None:
        # Our sample just logs information to console here,
        # but you can do whatever you need.
        self.ice_gathering_states.append(self.my_peer_connection.iceGatheringState)

    # -- errors ----------------------------------------------------------------------------
    def handle_get_user_media_error(self, error: Exception) -> None:
        self.log.append(f"getUserMedia/answer failed: {error!r}")
        self.close_video_call()

    def report_error(self, error: Exception) -> None:
        self.log.append(f"Error {type(error).__name__}: {error}")


async def main(hang_up: bool = True) -> tuple[Client, Client, Any]:
    """Naomi calls Priya; returns both clients and the first video frame Priya received."""
    end_a, end_b = SignalingChannel.pair()
    naomi = Client("Naomi", end_a)
    priya = Client("Priya", end_b)
    end_a.addEventListener("message", naomi.on_message)
    end_b.addEventListener("message", priya.on_message)

    await naomi.invite("Priya")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while priya.received_video.srcObject is None or naomi.received_video.srcObject is None:
        if loop.time() > deadline:
            raise TimeoutError("no track event in 10 s")
        await asyncio.sleep(0.005)
    stream = priya.received_video.srcObject
    frame = await asyncio.wait_for(stream.getVideoTracks()[0].recv(), 10)
    if hang_up:
        naomi.hang_up_call()
        while priya.my_peer_connection is not None and loop.time() < deadline:
            await asyncio.sleep(0.005)
    return naomi, priya, frame


if __name__ == "__main__":
    caller, callee, first = asyncio.run(main())
    print("Priya received a", type(first).__name__, getattr(first, "width", ""), "x", end=" ")
    print(getattr(first, "height", ""))
    print("Naomi signaling states:", caller.signaling_states)
    print("Priya signaling states:", callee.signaling_states)
