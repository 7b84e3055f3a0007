"""Events and states the ICE agent reports (re-exported by :mod:`rtcpeer.ice.agent`)."""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass

from rtcpeer.ice.checklist import Address
from rtcpeer.sdp.candidate import Candidate

# The shell's identifier for one of its sockets (hashable, opaque to the agent).
LocalKey = Hashable


class IceState(enum.Enum):
    """RTCIceTransportState values (W3C webrtc-pc section 5.6)."""

    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class IceStateChanged:
    state: IceState


@dataclass(frozen=True, slots=True)
class SelectedPairChanged:
    """The pair application data now goes on (``send``) and is expected from."""

    local: Candidate
    remote: Candidate
    local_key: LocalKey
    remote_addr: Address


@dataclass(frozen=True, slots=True)
class RemoteCandidateLearned:
    """A peer-reflexive remote candidate learned from an incoming check (7.3.1.3)."""

    candidate: Candidate


@dataclass(frozen=True, slots=True)
class LocalCandidateLearned:
    """A peer-reflexive local candidate learned from a check response (7.2.5.3.1)."""

    candidate: Candidate
    local_key: LocalKey


@dataclass(frozen=True, slots=True)
class RoleChanged:
    """The agent switched role after a role conflict (RFC 8445 section 7.3.1.1/7.2.5.1)."""

    controlling: bool


IceEvent = (
    IceStateChanged
    | SelectedPairChanged
    | RemoteCandidateLearned
    | LocalCandidateLearned
    | RoleChanged
)
