"""The ICE candidate attribute and the W3C ``RTCIceCandidate``.

Implements the ``candidate-attribute`` grammar of RFC 8839 section 5.1 with the extensions
browsers send: ``raddr``/``rport`` (RFC 8839), ``tcptype`` (RFC 6544 section 4.5), and the
Chromium/Firefox extension attributes ``generation``, ``ufrag``, ``network-id`` and
``network-cost``. Connection addresses may be IP addresses or FQDNs, including the ``.local``
mDNS names browsers use to hide host addresses (draft-ietf-mmusic-mdns-ice-candidates).

``RTCIceCandidate`` follows W3C webrtc-pc section 4.8.1 (constructor, derived read-only fields
and ``toJSON()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rtcpeer.sdp.errors import SDPParseError

__all__ = ["Candidate", "RTCIceCandidate", "SDPParseError"]

_ICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
# RFC 8866 token characters (section 9, "token-char").
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`{|}~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_KNOWN_EXTENSIONS = frozenset(
    ("raddr", "rport", "tcptype", "generation", "ufrag", "network-id", "network-cost")
)


def _number(text: str, max_digits: int, what: str, line: str) -> int:
    # isascii() first: str.isdigit() alone accepts other scripts' digits.
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        raise SDPParseError(f"bad candidate {what}", 0, line)
    return int(text)


@dataclass(slots=True)
class Candidate:
    """One ICE candidate (RFC 8839 section 5.1).

    ``transport`` is kept lower-case ("udp"/"tcp"), ``type`` is "host", "srflx", "prflx" or
    "relay". Optional extension values are ``None`` when absent; ``extensions`` keeps unknown
    extension attributes as ``(name, value)`` pairs, in order.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    host: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    tcptype: str | None = None
    generation: int | None = None
    ufrag: str | None = None
    network_id: int | None = None
    network_cost: int | None = None
    extensions: list[tuple[str, str]] = field(default_factory=list)

    def __hash__(self) -> int:
        return hash(
            (
                self.foundation,
                self.component,
                self.transport,
                self.priority,
                self.host,
                self.port,
                self.type,
                self.related_address,
                self.related_port,
                self.tcptype,
                self.generation,
                self.ufrag,
                self.network_id,
                self.network_cost,
                tuple(self.extensions),
            )
        )

    @classmethod
    def from_sdp(cls, text: str) -> Candidate:
        """Parse ``a=candidate:...``, ``candidate:...`` or the bare attribute value.

        Raises :class:`SDPParseError` (with ``line_number`` 0) on malformed input.
        """
        value = text.strip()
        if value[:2] == "a=":
            value = value[2:]
        if value[:10].lower() == "candidate:":
            value = value[10:]
        parts = value.split()
        if len(parts) < 8:
            raise SDPParseError("candidate has too few fields", 0, text)
        foundation, component, transport, priority, host, port, typ, cand_type = parts[:8]
        if not 0 < len(foundation) <= 32 or not _ICE_CHARS.issuperset(foundation):
            raise SDPParseError("bad candidate foundation", 0, text)
        comp = _number(component, 3, "component", text)
        if not 1 <= comp <= 256:
            raise SDPParseError("bad candidate component", 0, text)
        if not _TOKEN_CHARS.issuperset(transport):
            raise SDPParseError("bad candidate transport", 0, text)
        prio = _number(priority, 10, "priority", text)
        if prio >= 1 << 32:
            raise SDPParseError("bad candidate priority", 0, text)
        port_n = _number(port, 5, "port", text)
        if port_n > 65535:
            raise SDPParseError("bad candidate port", 0, text)
        if typ != "typ" or not _TOKEN_CHARS.issuperset(cand_type):
            raise SDPParseError("bad candidate type", 0, text)
        cand = cls(foundation, comp, transport.lower(), prio, host, port_n, cand_type)
        rest = parts[8:]
        if len(rest) & 1:
            raise SDPParseError("candidate extension without a value", 0, text)
        for i in range(0, len(rest), 2):
            name = rest[i]
            val = rest[i + 1]
            if name == "raddr":
                cand.related_address = val
            elif name == "rport":
                cand.related_port = _number(val, 5, "rport", text)
                if cand.related_port > 65535:
                    raise SDPParseError("bad candidate rport", 0, text)
            elif name == "tcptype":
                cand.tcptype = val
            elif name == "generation":
                cand.generation = _number(val, 10, "generation", text)
            elif name == "ufrag":
                cand.ufrag = val
            elif name == "network-id":
                cand.network_id = _number(val, 10, "network-id", text)
            elif name == "network-cost":
                cand.network_cost = _number(val, 10, "network-cost", text)
            else:
                if not _TOKEN_CHARS.issuperset(name):
                    raise SDPParseError("bad candidate extension name", 0, text)
                cand.extensions.append((name, val))
        return cand

    def to_sdp(self) -> str:
        """The attribute as ``candidate:...`` (no ``a=`` prefix, no line ending)."""
        out = (
            f"candidate:{self.foundation} {self.component} {self.transport} {self.priority} "
            f"{self.host} {self.port} typ {self.type}"
        )
        if self.related_address is not None:
            out += f" raddr {self.related_address}"
        if self.related_port is not None:
            out += f" rport {self.related_port}"
        if self.tcptype is not None:
            out += f" tcptype {self.tcptype}"
        if self.generation is not None:
            out += f" generation {self.generation}"
        if self.ufrag is not None:
            out += f" ufrag {self.ufrag}"
        if self.network_id is not None:
            out += f" network-id {self.network_id}"
        if self.network_cost is not None:
            out += f" network-cost {self.network_cost}"
        for name, val in self.extensions:
            out += f" {name} {val}"
        return out

    def __str__(self) -> str:
        return self.to_sdp()


_UNSET: Any = object()
_W3C_TYPES = frozenset(("host", "srflx", "prflx", "relay"))


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class RTCIceCandidate:
    """W3C ``RTCIceCandidate`` (webrtc-pc section 4.8.1).

    Built like the browser's: ``RTCIceCandidate({"candidate": ..., "sdpMid": "0"})`` or with
    keywords. ``TypeError`` when both ``sdpMid`` and ``sdpMLineIndex`` are ``None``. An empty
    ``candidate`` is the end-of-candidates indication; text that does not parse leaves the
    derived fields ``None`` (as in browsers, the error surfaces in ``addIceCandidate``).
    """

    __slots__ = ("_candidate", "_parsed", "_sdp_mid", "_sdp_mline_index", "_ufrag")

    def __init__(
        self,
        candidateInitDict: Mapping[str, Any] | None = None,
        *,
        candidate: str = _UNSET,
        sdpMid: str | None = _UNSET,
        sdpMLineIndex: int | None = _UNSET,
        usernameFragment: str | None = _UNSET,
    ) -> None:
        init: dict[str, Any] = dict(candidateInitDict or {})
        for key, val in (
            ("candidate", candidate),
            ("sdpMid", sdpMid),
            ("sdpMLineIndex", sdpMLineIndex),
            ("usernameFragment", usernameFragment),
        ):
            if val is not _UNSET:
                init[key] = val
        cand = init.get("candidate", "")
        mid = init.get("sdpMid")
        index = init.get("sdpMLineIndex")
        ufrag = init.get("usernameFragment")
        if cand is None:
            cand = ""
        if not isinstance(cand, str):
            raise TypeError("RTCIceCandidate: candidate must be a string")
        if mid is None and index is None:
            raise TypeError("RTCIceCandidate: sdpMid and sdpMLineIndex are both null")
        if mid is not None and not isinstance(mid, str):
            raise TypeError("RTCIceCandidate: sdpMid must be a string or None")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError("RTCIceCandidate: sdpMLineIndex must be an int or None")
            if not 0 <= index <= 0xFFFF:
                raise TypeError("RTCIceCandidate: sdpMLineIndex out of range (unsigned short)")
        if ufrag is not None and not isinstance(ufrag, str):
            raise TypeError("RTCIceCandidate: usernameFragment must be a string or None")
        self._candidate: str = cand
        self._sdp_mid: str | None = mid
        self._sdp_mline_index: int | None = index
        self._ufrag: str | None = ufrag
        parsed: Candidate | None = None
        if cand:
            try:
                parsed = Candidate.from_sdp(cand)
            except SDPParseError:
                parsed = None
            # Chromium rejects candidate types outside the W3C enum as unparsable.
            if parsed is not None and parsed.type not in _W3C_TYPES:
                parsed = None
        self._parsed = parsed

    @classmethod
    def from_candidate(
        cls,
        candidate: Candidate,
        sdpMid: str | None = None,
        sdpMLineIndex: int | None = None,
        usernameFragment: str | None = None,
    ) -> RTCIceCandidate:
        """Wrap a :class:`Candidate` (the ``usernameFragment`` defaults to its ufrag)."""
        return cls(
            candidate=candidate.to_sdp(),
            sdpMid=sdpMid,
            sdpMLineIndex=sdpMLineIndex,
            usernameFragment=usernameFragment if usernameFragment is not None else candidate.ufrag,
        )

    def to_candidate(self) -> Candidate | None:
        """The parsed candidate (a fresh copy), or None for end-of-candidates / bad text."""
        if self._parsed is None:
            return None
        return Candidate.from_sdp(self._candidate)

    # -- the four init members
    @property
    def candidate(self) -> str:
        return self._candidate

    @property
    def sdpMid(self) -> str | None:
        return self._sdp_mid

    @property
    def sdpMLineIndex(self) -> int | None:
        return self._sdp_mline_index

    @property
    def usernameFragment(self) -> str | None:
        # As in Chromium: only what the init dictionary gave, not the line's "ufrag".
        return self._ufrag

    # -- derived from the candidate attribute
    @property
    def foundation(self) -> str | None:
        return self._parsed.foundation if self._parsed is not None else None

    @property
    def component(self) -> str | None:
        """W3C RTCIceComponent: "rtp" for component 1, "rtcp" for 2, else None."""
        if self._parsed is None:
            return None
        return {1: "rtp", 2: "rtcp"}.get(self._parsed.component)

    @property
    def priority(self) -> int | None:
        return self._parsed.priority if self._parsed is not None else None

    @property
    def address(self) -> str | None:
        """The connection address; IPv6 literals in brackets, as Chromium reports them."""
        return _uri_host(self._parsed.host) if self._parsed is not None else None

    @property
    def protocol(self) -> str | None:
        if self._parsed is None or self._parsed.transport not in ("udp", "tcp"):
            return None
        return self._parsed.transport

    @property
    def port(self) -> int | None:
        return self._parsed.port if self._parsed is not None else None

    @property
    def type(self) -> str | None:
        return self._parsed.type if self._parsed is not None else None

    @property
    def tcpType(self) -> str | None:
        if self._parsed is None or self._parsed.tcptype not in ("active", "passive", "so"):
            return None
        return self._parsed.tcptype

    @property
    def relatedAddress(self) -> str | None:
        if self._parsed is None or self._parsed.related_address is None:
            return None
        return _uri_host(self._parsed.related_address)

    @property
    def relatedPort(self) -> int | None:
        return self._parsed.related_port if self._parsed is not None else None

    def toJSON(self) -> dict[str, Any]:
        """The RTCIceCandidateInit dictionary exactly as Chromium's ``toJSON()`` returns it.

        Chromium deviates from the spec's "copy the four attributes": a null ``sdpMid`` or
        ``usernameFragment`` becomes ``""`` and a null ``sdpMLineIndex`` is left out. The
        result is accepted by this constructor and by browsers alike.
        """
        out: dict[str, Any] = {
            "candidate": self._candidate,
            "sdpMid": self._sdp_mid if self._sdp_mid is not None else "",
        }
        if self._sdp_mline_index is not None:
            out["sdpMLineIndex"] = self._sdp_mline_index
        out["usernameFragment"] = self._ufrag if self._ufrag is not None else ""
        return out

    def _key(self) -> tuple[str, str | None, int | None, str | None]:
        return (self._candidate, self._sdp_mid, self._sdp_mline_index, self._ufrag)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RTCIceCandidate):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"RTCIceCandidate(candidate={self._candidate!r}, sdpMid={self._sdp_mid!r}, "
            f"sdpMLineIndex={self._sdp_mline_index!r}, usernameFragment={self.usernameFragment!r})"
        )
