"""Signaling state and the negotiation-needed flag of the peer connection (W3C webrtc-pc
4.3.1 signaling state, 4.7.3 "update the negotiation-needed flag"): queued, only fired in
"stable" with an empty operations chain, once per need.

Methods of :class:`rtcpeer.peerconnection.RTCPeerConnection`, written as functions taking the
peer connection as ``self`` and bound in the class body (no wrapper, no extra call).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rtcpeer.events import Event

if TYPE_CHECKING:
    from rtcpeer.peerconnection import RTCPeerConnection

__all__ = [
    "_check_negotiation_needed",
    "_update_negotiation_needed",
    "_fire_negotiation_needed",
    "_set_signaling",
]


def _check_negotiation_needed(self: RTCPeerConnection) -> bool:
    if self._creds_to_replace is not None:
        return True
    if self._data_requested:
        local = self._current_local
        if local is None or not any(s.is_data and not s.rejected for s in local.sections):
            return True
    return any(check() for check in self._negotiation_checks)


def _update_negotiation_needed(self: RTCPeerConnection) -> None:
    if self._is_closed:
        return
    if self._ops_pending:
        self._nn_on_empty_chain = True
        return
    if self._signaling_state != "stable":
        return
    if not self._check_negotiation_needed():
        self._nn_flag = False
        return
    if self._nn_flag:
        return
    self._nn_flag = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_soon(self._fire_negotiation_needed)


def _fire_negotiation_needed(self: RTCPeerConnection) -> None:
    if self._is_closed:
        return
    if self._ops_pending:
        self._nn_on_empty_chain = True
        return
    if self._signaling_state != "stable":
        return
    if not self._check_negotiation_needed():
        self._nn_flag = False
        return
    self.dispatchEvent(Event("negotiationneeded"))


def _set_signaling(self: RTCPeerConnection, state: str) -> None:
    if state != self._signaling_state:
        self._signaling_state = state
        if state == "stable":
            # A completed negotiation satisfies the current need; a new need sets it again.
            self._nn_flag = False
        self.dispatchEvent(Event("signalingstatechange"))
