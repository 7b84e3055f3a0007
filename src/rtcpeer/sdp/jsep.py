"""Offer and answer construction for the peer connection (JSEP, RFC 8829).

What this module implements:

- RFC 8829 section 5.2 (initial and subsequent offers: m= sections kept in order with their
  mids, rejected sections kept with port 0, ``a=group:BUNDLE`` and ``a=ice-options:trickle``
  at session level, ``a=setup:actpass`` in every offer) and 5.3 (answers: one m= section per
  offered one in the same order, unsupported ones rejected with port 0, ``a=setup:active``
  unless a DTLS association exists where we are the server, RFC 8842 section 5.3);
- RFC 8841 (``m=application 9 UDP/DTLS/SCTP webrtc-datachannel``, ``a=sctp-port``,
  ``a=max-message-size``);
- RFC 8839 (``a=ice-ufrag``, ``a=ice-pwd``, ``a=candidate``, ``a=end-of-candidates``);
- RFC 8122 (``a=fingerprint``).

The peer connection keeps a list of :class:`LocalSection` (one per m= line it has offered or
answered) and renders the description with :func:`write_description` each time the gathered
candidates change, so ``localDescription`` always carries them.

Hook for media: a :class:`LocalSection` for audio/video carries ``kind``, ``proto``, ``fmt``
and ``lines`` (rtpmap, fmtp, direction, msid, ... supplied by the media layer); this module
adds the transport lines around them (ICE, DTLS, mid, rtcp-mux).

Remote descriptions are read with :func:`parse_description` into :class:`RemoteDescription`,
which extracts only what JSEP needs. Malformed input raises
:class:`rtcpeer.sdp.errors.SDPParseError`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from rtcpeer.sdp.errors import SDPParseError

__all__ = [
    "DATA_FMT",
    "DATA_PROTO",
    "LocalParams",
    "LocalSection",
    "RemoteDescription",
    "RemoteMedia",
    "new_session_id",
    "parse_description",
    "write_description",
]

DATA_PROTO = "UDP/DTLS/SCTP"
DATA_FMT = "webrtc-datachannel"
_DATA_PROTOS = ("UDP/DTLS/SCTP", "DTLS/SCTP", "TCP/DTLS/SCTP")


def new_session_id() -> int:
    # RFC 8829 5.2.1: a 64-bit random value with the top bit cleared.
    return secrets.randbits(62) + 1


@dataclass(slots=True)
class LocalSection:
    """One local m= section: its mid, what it carries and whether it is rejected."""

    mid: str
    kind: str = "application"
    proto: str = DATA_PROTO
    fmt: list[str] = field(default_factory=lambda: [DATA_FMT])
    rejected: bool = False
    lines: list[str] = field(default_factory=list)  # media-specific attribute lines

    @property
    def is_data(self) -> bool:
        return self.kind == "application" and self.proto in _DATA_PROTOS


@dataclass(slots=True)
class LocalParams:
    """Transport parameters shared by all bundled sections."""

    ice_ufrag: str
    ice_pwd: str
    fingerprints: list[tuple[str, str]]
    setup: str  # "actpass" (offers), "active" or "passive" (answers)
    sctp_port: int = 5000
    max_message_size: int = 262144
    ice_lite: bool = False


def write_description(
    session_id: int,
    version: int,
    sections: list[LocalSection],
    params: LocalParams,
    candidates: Sequence[str] = (),
    end_of_candidates: bool = False,
) -> str:
    """Render an SDP blob (CRLF lines). ``candidates`` are ``candidate:...`` strings."""
    bundled = [s.mid for s in sections if not s.rejected]
    out = [
        "v=0",
        f"o=- {session_id} {version} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
    ]
    if bundled:
        out.append("a=group:BUNDLE " + " ".join(bundled))
    out.append("a=ice-options:trickle")
    if params.ice_lite:
        out.append("a=ice-lite")
    out.append("a=msid-semantic: WMS")
    for section in sections:
        fmt = " ".join(section.fmt)
        if section.rejected:
            out.append(f"m={section.kind} 0 {section.proto} {fmt}")
            out.append("c=IN IP4 0.0.0.0")
            out.append(f"a=mid:{section.mid}")
            continue
        out.append(f"m={section.kind} 9 {section.proto} {fmt}")
        out.append("c=IN IP4 0.0.0.0")
        for cand in candidates:
            out.append("a=" + cand)
        if end_of_candidates:
            out.append("a=end-of-candidates")
        out.append(f"a=ice-ufrag:{params.ice_ufrag}")
        out.append(f"a=ice-pwd:{params.ice_pwd}")
        out.append("a=ice-options:trickle")
        for algorithm, value in params.fingerprints:
            out.append(f"a=fingerprint:{algorithm} {value}")
        out.append(f"a=setup:{params.setup}")
        out.append(f"a=mid:{section.mid}")
        if section.is_data:
            out.append(f"a=sctp-port:{params.sctp_port}")
            out.append(f"a=max-message-size:{params.max_message_size}")
        else:
            out.append("a=rtcp-mux")
            out.extend("a=" + line if not line.startswith("a=") else line for line in section.lines)
    return "\r\n".join(out) + "\r\n"


@dataclass(slots=True)
class RemoteMedia:
    """What JSEP needs from one remote m= section (session-level values already inherited)."""

    index: int
    kind: str
    port: int
    proto: str
    fmt: list[str]
    mid: str | None = None
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: list[str] = field(default_factory=list)
    fingerprints: list[tuple[str, str]] = field(default_factory=list)
    setup: str | None = None
    sctp_port: int | None = None
    max_message_size: int | None = None
    candidates: list[str] = field(default_factory=list)
    end_of_candidates: bool = False
    bundle_only: bool = False
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.port == 0 and not self.bundle_only

    @property
    def is_data(self) -> bool:
        return self.kind == "application" and self.proto.upper() in _DATA_PROTOS


@dataclass(slots=True)
class RemoteDescription:
    media: list[RemoteMedia]
    bundle: list[str]
    ice_lite: bool = False
    ice_options: list[str] = field(default_factory=list)

    def transport_media(self) -> RemoteMedia | None:
        """The section whose ICE/DTLS parameters the bundled transport uses."""
        for m in self.media:
            if m.mid is not None and self.bundle and m.mid == self.bundle[0] and not m.rejected:
                return m
        for m in self.media:
            if not m.rejected:
                return m
        return None

    def find(self, mid: str | None, index: int | None) -> RemoteMedia | None:
        if mid is not None:
            for m in self.media:
                if m.mid == mid:
                    return m
            return None
        if index is not None and 0 <= index < len(self.media):
            return self.media[index]
        return None


def _fingerprint(value: str, number: int, line: str) -> tuple[str, str]:
    parts = value.split()
    if len(parts) != 2:
        raise SDPParseError("bad a=fingerprint", number, line)
    return parts[0].lower(), parts[1].upper()


def _int(value: str | None, number: int, line: str, what: str) -> int:
    if value is None or not value.strip().isdigit():
        raise SDPParseError(f"bad {what}", number, line)
    return int(value.strip())


def parse_description(text: str) -> RemoteDescription:
    """Extract the JSEP-relevant parts of an SDP blob (LF or CRLF lines)."""
    if not isinstance(text, str):
        raise SDPParseError("SDP must be a string")
    lines = text.replace("\r\n", "\n").split("\n")
    session: dict[str, object] = {}
    session_fps: list[tuple[str, str]] = []
    session_options: list[str] = []
    bundle: list[str] = []
    ice_lite = False
    media: list[RemoteMedia] = []
    current: RemoteMedia | None = None
    fp_owner: RemoteMedia | None = None
    saw_version = False
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SDPParseError("not a <type>=<value> line", number, line)
        kind, value = line[0], line[2:]
        if not saw_version:
            if kind != "v" or value.strip() != "0":
                raise SDPParseError("an SDP description starts with v=0", number, line)
            saw_version = True
            continue
        if kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise SDPParseError("an m= line needs media, port, proto and fmt", number, line)
            port_text = parts[1].split("/")[0]
            current = RemoteMedia(
                index=len(media),
                kind=parts[0],
                port=_int(port_text, number, line, "m= port"),
                proto=parts[2],
                fmt=parts[3:],
                ice_ufrag=session.get("ice-ufrag"),  # type: ignore[arg-type]
                ice_pwd=session.get("ice-pwd"),  # type: ignore[arg-type]
                ice_options=list(session_options),
                fingerprints=list(session_fps),
                setup=session.get("setup"),  # type: ignore[arg-type]
            )
            media.append(current)
            continue
        if kind != "a":
            continue
        name, sep, val = value.partition(":")
        attr_value: str | None = val if sep else None
        if current is None:
            if name == "group" and attr_value is not None:
                parts = attr_value.split()
                if parts and parts[0] == "BUNDLE" and not bundle:
                    bundle = parts[1:]
            elif name == "ice-lite":
                ice_lite = True
            elif name == "ice-options" and attr_value is not None:
                session_options = attr_value.split()
            elif name == "fingerprint" and attr_value is not None:
                session_fps.append(_fingerprint(attr_value, number, line))
            elif name in ("ice-ufrag", "ice-pwd", "setup") and attr_value is not None:
                session[name] = attr_value.strip()
            continue
        current.attributes.append((name, attr_value))
        if name == "mid" and attr_value is not None:
            current.mid = attr_value.strip()
        elif name == "ice-ufrag" and attr_value is not None:
            current.ice_ufrag = attr_value.strip()
        elif name == "ice-pwd" and attr_value is not None:
            current.ice_pwd = attr_value.strip()
        elif name == "ice-options" and attr_value is not None:
            current.ice_options = attr_value.split()
        elif name == "fingerprint" and attr_value is not None:
            if fp_owner is not current:
                fp_owner = current  # media-level fingerprints replace session-level ones
                current.fingerprints = []
            current.fingerprints.append(_fingerprint(attr_value, number, line))
        elif name == "setup" and attr_value is not None:
            current.setup = attr_value.strip()
        elif name == "sctp-port":
            current.sctp_port = _int(attr_value, number, line, "a=sctp-port")
        elif name == "max-message-size":
            current.max_message_size = _int(attr_value, number, line, "a=max-message-size")
        elif name == "candidate" and attr_value is not None:
            current.candidates.append("candidate:" + attr_value)
        elif name == "end-of-candidates":
            current.end_of_candidates = True
        elif name == "bundle-only":
            current.bundle_only = True
        elif name == "sctpmap" and attr_value is not None and current.sctp_port is None:
            # draft-ietf-mmusic-sctp-sdp-05 style: a=sctpmap:5000 webrtc-datachannel 1024
            first = attr_value.split()[0] if attr_value.split() else ""
            if first.isdigit():
                current.sctp_port = int(first)
    if not saw_version:
        raise SDPParseError("empty SDP description")
    return RemoteDescription(media, bundle, ice_lite, session_options)
