"""A stand-in RTCPeerConnection with the JSEP signaling state machine and nothing else.

It models what perfect negotiation depends on (W3C webrtc-pc 4.3.1 and 4.4.1): the signaling
states, implicit rollback when a remote offer arrives in have-local-offer, parameterless
setLocalDescription, "negotiationneeded" after createDataChannel and restartIce, trickled
candidates after setLocalDescription, and addIceCandidate failing without a remote description.
Descriptions are small JSON texts: ``{"app": bool, "ufrag": str, "from": name}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.events import Event, EventTarget


class FakePC(EventTarget):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.signalingState = "stable"
        self.iceConnectionState = "new"
        self.localDescription: dict[str, Any] | None = None
        self.remoteDescription: dict[str, Any] | None = None
        self.currentLocal: dict[str, Any] | None = None
        self.currentRemote: dict[str, Any] | None = None
        self.channels: list[str] = []
        self.remote_candidates: list[str] = []
        self.ufrag_generation = 0
        self.rollbacks = 0
        self.offers_made = 0
        self.restart_pending = False
        self._negotiation_queued = False

    # -- helpers --------------------------------------------------------------------------

    def _sdp(self, extra: dict[str, Any] | None = None) -> str:
        body = {"app": bool(self.channels), "ufrag": f"{self.name}{self.ufrag_generation}"}
        body.update(extra or {})
        return json.dumps(body)

    def negotiated_app(self) -> bool:
        for desc in (self.currentLocal, self.currentRemote):
            if desc is not None and json.loads(desc["sdp"])["app"]:
                return True
        return False

    def _needs_negotiation(self) -> bool:
        return (bool(self.channels) and not self.negotiated_app()) or self.restart_pending

    def _queue_negotiationneeded(self) -> None:
        if self._negotiation_queued:
            return
        self._negotiation_queued = True

        def fire() -> None:
            self._negotiation_queued = False
            if self.signalingState == "stable" and self._needs_negotiation():
                self.dispatchEvent(Event("negotiationneeded"))

        asyncio.get_running_loop().call_soon(fire)

    def _gather(self) -> None:
        ufrag = f"{self.name}{self.ufrag_generation}"

        async def trickle() -> None:
            for i in range(2):
                await asyncio.sleep(0)
                self.dispatchEvent(
                    Event(
                        "icecandidate", candidate={"candidate": f"cand {ufrag} {i}", "sdpMid": "0"}
                    )
                )
            self.dispatchEvent(Event("icecandidate", candidate=None))

        asyncio.ensure_future(trickle())

    # -- W3C API --------------------------------------------------------------------------

    def createDataChannel(self, label: str) -> str:
        self.channels.append(label)
        if not self.negotiated_app():
            self._queue_negotiationneeded()
        return label

    def restartIce(self) -> None:
        self.restart_pending = True
        self._queue_negotiationneeded()

    async def setLocalDescription(self) -> None:
        await asyncio.sleep(0)  # like the browser: other tasks run meanwhile (glare)
        if self.signalingState in ("stable", "have-local-offer"):
            if self.restart_pending:
                self.ufrag_generation += 1
                self.restart_pending = False
            self.offers_made += 1
            self.localDescription = {"type": "offer", "sdp": self._sdp()}
            self.signalingState = "have-local-offer"
        elif self.signalingState == "have-remote-offer":
            assert self.remoteDescription is not None
            remote_app = json.loads(self.remoteDescription["sdp"])["app"]
            self.localDescription = {"type": "answer", "sdp": self._sdp({"app": remote_app})}
            self.currentLocal, self.currentRemote = self.localDescription, self.remoteDescription
            self.signalingState = "stable"
            self._queue_negotiationneeded()
        self._gather()

    async def setRemoteDescription(self, description: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        kind = description["type"]
        if kind == "offer":
            if self.signalingState == "have-local-offer":
                self.rollbacks += 1  # implicit rollback (JSEP 5.7, W3C 4.4.1.6)
                self.localDescription = self.currentLocal
            elif self.signalingState != "stable":
                raise InvalidStateError(f"offer in signalingState {self.signalingState!r}")
            self.remoteDescription = description
            self.signalingState = "have-remote-offer"
        elif kind == "answer":
            if self.signalingState != "have-local-offer":
                raise InvalidStateError(f"answer in signalingState {self.signalingState!r}")
            self.remoteDescription = description
            self.currentLocal, self.currentRemote = self.localDescription, description
            self.signalingState = "stable"
            self._queue_negotiationneeded()
        else:
            raise OperationError(f"unknown description type {kind!r}")

    async def addIceCandidate(self, candidate: dict[str, Any] | None) -> None:
        await asyncio.sleep(0)
        if self.remoteDescription is None:
            raise InvalidStateError("addIceCandidate without a remote description")
        if candidate is None:
            return
        ufrag = json.loads(self.remoteDescription["sdp"])["ufrag"]
        if candidate["candidate"].split()[1] != ufrag:
            raise OperationError(f"candidate for another ufrag than {ufrag}")
        self.remote_candidates.append(candidate["candidate"])

    def fail_ice(self) -> None:
        self.iceConnectionState = "failed"
        self.dispatchEvent(Event("iceconnectionstatechange"))
