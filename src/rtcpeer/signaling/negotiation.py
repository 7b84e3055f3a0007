"""Perfect negotiation: MDN's pattern wiring an RTCPeerConnection to a SignalingChannel.

W3C webrtc-pc section 10.4 ("Perfect Negotiation Example") and MDN "Establishing a connection:
The WebRTC perfect negotiation pattern". Both peers run the same code; on an offer collision
("glare") the *impolite* peer ignores the incoming offer and the *polite* peer rolls its own back
(implicitly, by applying the remote offer) and answers. The signaling server decides the roles:
the peer that joined the room first is impolite (``SignalingChannel.polite_toward(peer)``).

Port of the MDN code, line by line::

    negotiation = PerfectNegotiation(pc, channel, peer=other)   # wires everything
    ...
    negotiation.close()                                          # unwires

What it wires:

* ``negotiationneeded`` -> ``makingOffer = True``; ``setLocalDescription()``; send
  ``{"description": ...}``; ``makingOffer = False``.
* ``icecandidate`` -> send ``{"candidate": ...}`` (``None`` at the end of gathering, as MDN's
  ``signaler.send({candidate})`` does; JavaScript peers skip it).
* ``iceconnectionstatechange`` to ``"failed"`` -> ``restartIce()`` (which fires
  ``negotiationneeded`` again, so the restart offer follows the same path).
* incoming ``{"description"}`` / ``{"candidate"}`` -> the ``readyForOffer`` / ``offerCollision`` /
  ``ignoreOffer`` / ``isSettingRemoteAnswerPending`` logic of the example.

With ``peer`` set, messages go ``"to"`` that peer and only messages ``"from"`` it are handled, so
one SignalingChannel can carry several negotiations (one per remote peer of a room).

The helper only uses the W3C names (``signalingState``, ``setLocalDescription()``,
``setRemoteDescription(dict)``, ``addIceCandidate(dict | None)``, ``restartIce()``,
``localDescription``, ``iceConnectionState``, ``addEventListener``), so it works with any object
that has them; the tests drive it with a small fake.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def description_to_json(description: Any) -> dict[str, Any] | None:
    """``RTCSessionDescription`` (or a dict) as the ``{"type", "sdp"}`` JSON object."""
    if description is None:
        return None
    if isinstance(description, dict):
        return {"type": description.get("type"), "sdp": description.get("sdp", "")}
    to_json = getattr(description, "toJSON", None)
    if callable(to_json):
        result = to_json()
        if isinstance(result, dict):
            return result
    return {"type": str(getattr(description, "type", "")), "sdp": getattr(description, "sdp", "")}


def candidate_to_json(candidate: Any) -> dict[str, Any] | None:
    """``RTCIceCandidate`` (or a dict) as the RTCIceCandidateInit JSON object."""
    if candidate is None:
        return None
    if isinstance(candidate, dict):
        return dict(candidate)
    to_json = getattr(candidate, "toJSON", None)
    if callable(to_json):
        result = to_json()
        if isinstance(result, dict):
            return result
    return {
        "candidate": getattr(candidate, "candidate", ""),
        "sdpMid": getattr(candidate, "sdpMid", None),
        "sdpMLineIndex": getattr(candidate, "sdpMLineIndex", None),
        "usernameFragment": getattr(candidate, "usernameFragment", None),
    }


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class PerfectNegotiation:
    """MDN's perfect negotiation between ``pc`` and one remote peer reached through ``signaler``.

    ``polite`` defaults to the role the server assigned: ``signaler.polite_toward(peer)`` when
    ``peer`` is given, else ``signaler.polite``. ``before_answer`` (optional, may be async) runs
    after a remote offer was applied and before the answer is created: the place to add
    negotiated data channels or tracks so they ride on the offered m-lines.
    """

    def __init__(
        self,
        pc: Any,
        signaler: Any,
        *,
        polite: bool | None = None,
        peer: str | None = None,
        restart_on_failure: bool = True,
        before_answer: Callable[[], Any] | None = None,
    ) -> None:
        self.pc = pc
        self.signaler = signaler
        self.peer = peer
        if polite is None:
            if peer is not None and hasattr(signaler, "polite_toward"):
                polite = bool(signaler.polite_toward(peer))
            else:
                polite = bool(getattr(signaler, "polite", False))
        self.polite = polite
        self.restart_on_failure = restart_on_failure
        self.before_answer = before_answer
        # The three flags of the MDN example, public so tests and users can watch them.
        self.makingOffer = False
        self.ignoreOffer = False
        self.isSettingRemoteAnswerPending = False
        #: errors met while handling messages (the example logs them; we keep the last few)
        self.errors: list[BaseException] = []
        self.restarts = 0
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Signaling messages must be handled in arrival order: an answer overtaken by a
        # candidate, or two descriptions applied concurrently, would break the state machine.
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        pc.addEventListener("negotiationneeded", self._on_negotiationneeded)
        pc.addEventListener("icecandidate", self._on_icecandidate)
        pc.addEventListener("iceconnectionstatechange", self._on_iceconnectionstatechange)
        signaler.addEventListener("message", self._on_message)

    # -- outgoing ----------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        if self.peer is not None:
            message["to"] = self.peer
        try:
            await self.signaler.send(message)
        except Exception as exc:  # the channel closed under us: nothing left to negotiate
            self._record(exc)

    async def _on_negotiationneeded(self, event: Any = None) -> None:
        if self._closed:
            return
        try:
            self.makingOffer = True
            await _maybe_await(self.pc.setLocalDescription())
            await self._send({"description": description_to_json(self.pc.localDescription)})
        except Exception as exc:
            self._record(exc)
        finally:
            self.makingOffer = False

    async def _on_icecandidate(self, event: Any) -> None:
        if self._closed:
            return
        await self._send({"candidate": candidate_to_json(getattr(event, "candidate", None))})

    def _on_iceconnectionstatechange(self, event: Any = None) -> None:
        if self._closed or not self.restart_on_failure:
            return
        if self.pc.iceConnectionState == "failed":
            self.restarts += 1
            logger.info("ICE failed; restarting ICE (restart #%d)", self.restarts)
            try:
                self.pc.restartIce()
            except Exception as exc:
                self._record(exc)

    # -- incoming ----------------------------------------------------------------------------

    def _on_message(self, event: Any) -> None:
        data = getattr(event, "data", None)
        if isinstance(data, dict):
            self.receive(data)

    def receive(self, data: dict[str, Any]) -> None:
        """Queue one signaling message (what the ``message`` listener does with each)."""
        if self._closed:
            return
        if "description" not in data and "candidate" not in data:
            return
        if self.peer is not None and data.get("from") != self.peer:
            return
        self._inbox.put_nowait(data)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while not self._inbox.empty() and not self._closed:
            await self.handle(self._inbox.get_nowait())

    async def handle(self, message: dict[str, Any]) -> None:
        """Apply one ``{description}`` / ``{candidate}`` message (the example's onmessage)."""
        pc = self.pc
        description = message.get("description")
        try:
            if isinstance(description, dict):
                ready_for_offer = not self.makingOffer and (
                    pc.signalingState == "stable" or self.isSettingRemoteAnswerPending
                )
                offer_collision = description.get("type") == "offer" and not ready_for_offer
                self.ignoreOffer = not self.polite and offer_collision
                if self.ignoreOffer:
                    logger.debug("offer collision: impolite peer ignores the remote offer")
                    return
                self.isSettingRemoteAnswerPending = description.get("type") == "answer"
                try:
                    await _maybe_await(pc.setRemoteDescription(description))
                finally:
                    self.isSettingRemoteAnswerPending = False
                if description.get("type") == "offer":
                    if self.before_answer is not None:
                        await _maybe_await(self.before_answer())
                    await _maybe_await(pc.setLocalDescription())
                    await self._send({"description": description_to_json(pc.localDescription)})
            elif "candidate" in message:
                candidate = message["candidate"]
                try:
                    await _maybe_await(pc.addIceCandidate(candidate))
                except Exception:
                    # Candidates of an offer we ignored fail to apply; that is expected.
                    if not self.ignoreOffer:
                        raise
        except Exception as exc:
            self._record(exc)

    def _record(self, exc: BaseException) -> None:
        logger.warning("perfect negotiation: %s: %s", type(exc).__name__, exc)
        self.errors.append(exc)
        del self.errors[:-20]

    # -- teardown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Unwire from the peer connection and the channel (does not close either)."""
        if self._closed:
            return
        self._closed = True
        self.pc.removeEventListener("negotiationneeded", self._on_negotiationneeded)
        self.pc.removeEventListener("icecandidate", self._on_icecandidate)
        self.pc.removeEventListener("iceconnectionstatechange", self._on_iceconnectionstatechange)
        self.signaler.removeEventListener("message", self._on_message)
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    async def idle(self) -> None:
        """Wait until every message received so far has been handled (tests, shutdown)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})


def perfect_negotiation(pc: Any, signaler: Any, **options: Any) -> PerfectNegotiation:
    """Function form of :class:`PerfectNegotiation` (mirrors ``perfectNegotiation`` in rtcpeer.js)."""
    return PerfectNegotiation(pc, signaler, **options)
