"""Resource limits: one place for the bounds that keep a hostile or broken peer from exhausting
memory, with safe defaults (issue 9, item 3; docs/limits.md explains each one).

A peer on the open network controls how many candidates it trickles, how many data channels
it opens, how large its messages are and how fast it reads. Every such quantity has a limit
here. The defaults follow what browsers do (Chromium's send-buffer and candidate limits, the
max-message-size we advertise) and keep one peer connection's worst case at a few tens of MiB.

The protocol layers take their limits as constructor arguments (they know nothing of this
module); the peer connection and the signaling server read a :class:`Limits` and pass the
values down. ``Limits.from_mapping`` accepts the camelCase spelling so a configuration dict
(``{"limits": {"maxChannels": 256}}``) reads naturally next to the W3C members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["DEFAULT_LIMITS", "KiB", "Limits", "MiB", "limits_of"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one peer connection (and of the signaling server's per-peer queue).

    Every field is a positive int. Exceeding a limit never raises into the event loop: what a
    remote peer sends beyond it is dropped or refused and reported (an ``error`` event or a
    log line); what the local application asks beyond it raises the W3C error a browser
    raises (``OperationError`` for a full send buffer or too many channels, ``TypeError`` for
    a message larger than the remote ``a=max-message-size``).
    """

    #: Largest data-channel message we accept, advertised as our ``a=max-message-size``.
    #: A remote message above it is discarded (its reassembly stops at this size).
    max_message_size: int = 256 * KiB
    #: Largest message we send when the remote SDP advertises ``a=max-message-size:0``
    #: ("no limit") or a huge value: we never queue a single message above this.
    max_send_message_size: int = 16 * MiB
    #: ``bufferedAmount`` of one channel above which ``send()`` raises ``OperationError``
    #: (Chromium's limit: 16 MiB).
    max_buffered_amount: int = 16 * MiB
    #: All channels' queued bytes together (the SCTP association's send buffer).
    max_send_buffer: int = 64 * MiB
    #: Open data channels per peer connection, local and remote together. A remote DCEP
    #: OPEN beyond it is refused (the stream is reset), ``createDataChannel`` raises
    #: ``OperationError``. libwebrtc negotiates 1024 SCTP streams by default.
    max_channels: int = 1024
    #: Remote ICE candidates kept per ICE generation (signalled plus peer-reflexive); more
    #: are ignored. Matches the ICE agent's default limit on candidate pairs.
    max_remote_candidates: int = 100
    #: Bytes held for partially received (fragmented) or out-of-order messages across all
    #: streams: two maximum-size messages (plus the SCTP layer's 1 KiB of slack) and two
    #: receive windows, as the SCTP association computes it.
    max_reassembly_bytes: int = 2 * (256 * KiB + KiB) + 2 * 4 * MiB
    #: SCTP receive window: bytes received and not yet delivered to the application.
    max_receive_buffer: int = 4 * MiB
    #: TURN permissions (peer IP addresses) per allocation, on our client and our server.
    max_turn_permissions: int = 128
    #: Signaling messages queued on the server for one peer before it is dropped as a slow
    #: consumer (``ServerConfig.max_pending``).
    max_pending_signaling: int = 256

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive int, got {value!r}")
        if self.max_buffered_amount > self.max_send_buffer:
            raise ValueError(
                f"Limits.max_buffered_amount ({self.max_buffered_amount}) is larger than "
                f"max_send_buffer ({self.max_send_buffer})"
            )

    def with_changes(self, **changes: int) -> Limits:
        """A copy with some limits changed (validated like the constructor)."""
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Limits:
        """Build from a dict using either ``max_channels`` or ``maxChannels`` keys."""
        if not values:
            return DEFAULT_LIMITS
        known = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            name = _snake(key)
            if name not in known:
                raise TypeError(f"Limits: unknown limit {key!r}")
            out[name] = value
        return cls(**out)

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


DEFAULT_LIMITS = Limits()


def limits_of(configuration: Any) -> Limits:
    """The rtcpeer-specific ``limits`` member of an ``RTCPeerConnection`` configuration.

    ``configuration`` is what the user passed (a dict or an object with a ``limits``
    attribute, or None); the member may be a :class:`Limits` or a mapping for
    :meth:`Limits.from_mapping`. Absent: :data:`DEFAULT_LIMITS`.
    """
    if configuration is None:
        return DEFAULT_LIMITS
    if isinstance(configuration, Mapping):
        value = configuration.get("limits")
    else:
        value = getattr(configuration, "limits", None)
    if value is None:
        return DEFAULT_LIMITS
    if isinstance(value, Limits):
        return value
    if isinstance(value, Mapping):
        return Limits.from_mapping(value)
    raise TypeError(f"limits: expected a Limits or a dict, got {type(value).__name__}")
