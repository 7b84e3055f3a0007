"""SDP attributes and the typed views of the WebRTC ones.

``Attribute`` is one ``a=`` line (RFC 8866 section 5.13), kept verbatim so unknown attributes
survive a round trip. ``AttributeHelpers`` gives the session and the media descriptions typed
accessors for the attributes WebRTC uses:

- ICE: ``ice-ufrag``, ``ice-pwd``, ``ice-options``, ``ice-lite``, ``candidate``,
  ``end-of-candidates`` (RFC 8839 sections 5.1-5.6);
- DTLS: ``fingerprint`` (RFC 8122 section 5), ``setup`` (RFC 4145 section 4, RFC 8842);
- SCTP: ``sctp-port``, ``max-message-size`` (RFC 8841 sections 5-6);
- BUNDLE and grouping: ``group`` (RFC 5888, RFC 8843), ``mid`` (RFC 5888 section 4);
- RTP: ``rtpmap``/``fmtp`` (RFC 8866 section 6.6, 6.15), ``rtcp-fb`` (RFC 4585 section 4.2),
  ``extmap`` (RFC 8285 section 8), ``rtcp-mux`` (RFC 8858), ``rtcp-rsize`` (RFC 5506),
  ``msid`` (RFC 8830), ``msid-semantic`` (draft-ietf-mmusic-msid), ``ssrc``/``ssrc-group``
  (RFC 5576), ``rid`` (RFC 8851), ``simulcast`` (RFC 8853);
- direction: ``sendrecv``/``sendonly``/``recvonly``/``inactive`` (RFC 8866 section 6.7).

Typed accessors parse lazily; a malformed value raises ``SDPParseError`` naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtcpeer.sdp.candidate import Candidate
from rtcpeer.sdp.errors import SDPParseError

__all__ = [
    "DIRECTIONS",
    "Attribute",
    "AttributeHelpers",
    "ExtMap",
    "Rid",
    "RtpMap",
    "Simulcast",
    "Ssrc",
    "parse_fmtp_params",
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_DIRECTION_SET = frozenset(DIRECTIONS)


@dataclass(slots=True)
class Attribute:
    """One ``a=`` line: ``a=name`` (``value`` None) or ``a=name:value`` (value verbatim)."""

    name: str
    value: str | None = None
    # 1-based line in the parsed text (0 when built in code); only used in error messages.
    line_number: int = field(default=0, compare=False, repr=False)

    def to_sdp(self) -> str:
        """The line without its line ending."""
        if self.value is None:
            return "a=" + self.name
        return f"a={self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <name>/<clock rate>[/<channels>]``."""

    name: str
    clock_rate: int
    channels: int | None = None

    def to_value(self, payload_type: int) -> str:
        tail = f"/{self.channels}" if self.channels is not None else ""
        return f"{payload_type} {self.name}/{self.clock_rate}{tail}"


@dataclass(frozen=True, slots=True)
class ExtMap:
    """``a=extmap:<id>[/<direction>] <uri> [<extension attributes>]`` (RFC 8285)."""

    id: int
    uri: str
    direction: str | None = None
    attributes: str | None = None

    def to_value(self) -> str:
        out = str(self.id)
        if self.direction is not None:
            out += "/" + self.direction
        out += " " + self.uri
        if self.attributes is not None:
            out += " " + self.attributes
        return out


@dataclass(frozen=True, slots=True)
class Ssrc:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576 section 4.1)."""

    ssrc: int
    attribute: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Rid:
    """``a=rid:<id> send|recv [<params>]`` (RFC 8851 section 10)."""

    id: str
    direction: str
    params: str | None = None


@dataclass(frozen=True, slots=True)
class Simulcast:
    """``a=simulcast`` (RFC 8853 section 5.1): lists of alternatives, "~" marks paused."""

    send: list[list[str]] = field(default_factory=list)
    recv: list[list[str]] = field(default_factory=list)


def parse_fmtp_params(params: str) -> dict[str, str]:
    """``key=value;key=value`` into a dict; a bare token maps to ``""``."""
    out: dict[str, str] = {}
    for part in params.split(";"):
        part = part.strip()
        if not part:
            continue
        key, _, val = part.partition("=")
        out[key.strip()] = val.strip()
    return out


def _bad(attr: Attribute, reason: str) -> SDPParseError:
    return SDPParseError(reason, attr.line_number, attr.to_sdp())


def _int(attr: Attribute, text: str, what: str, limit: int = 1 << 64) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise _bad(attr, f"bad {what}")
    n = int(text)
    if n >= limit:
        raise _bad(attr, f"{what} out of range")
    return n


class AttributeHelpers:
    """Accessors over ``self.attributes`` shared by session and media descriptions."""

    __slots__ = ()
    attributes: list[Attribute]

    # ---------------------------------------------------------------- generic access

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def get(self, name: str) -> str | None:
        """Value of the first ``name`` attribute (None when absent or a flag: see ``has``)."""
        for a in self.attributes:
            if a.name == name:
                return a.value
        return None

    def get_all(self, name: str) -> list[str]:
        """Values of every ``name`` attribute in order (flags give ``""``)."""
        return [a.value if a.value is not None else "" for a in self.attributes if a.name == name]

    def _find(self, name: str) -> list[Attribute]:
        return [a for a in self.attributes if a.name == name]

    def set(self, name: str, value: str | None = None) -> None:
        """Set the one ``name`` attribute: the first keeps its place, others go; else append."""
        attrs = self.attributes
        for i, a in enumerate(attrs):
            if a.name == name:
                attrs[i] = Attribute(name, value)
                attrs[i + 1 :] = [b for b in attrs[i + 1 :] if b.name != name]
                return
        attrs.append(Attribute(name, value))

    def add(self, name: str, value: str | None = None) -> None:
        """Append an attribute (several of the same name may exist)."""
        self.attributes.append(Attribute(name, value))

    def remove(self, name: str, value: str | None = None) -> int:
        """Remove every ``name`` attribute (only those whose value equals ``value`` if given).

        Returns how many were removed.
        """
        before = len(self.attributes)
        if value is None:
            self.attributes[:] = [a for a in self.attributes if a.name != name]
        else:
            self.attributes[:] = [
                a for a in self.attributes if not (a.name == name and a.value == value)
            ]
        return before - len(self.attributes)

    def _set_optional(self, name: str, value: str | None) -> None:
        if value is None:
            self.remove(name)
        else:
            self.set(name, value)

    def _value_of(self, name: str) -> str | None:
        """Stripped value of the first ``name`` attribute."""
        for a in self.attributes:
            if a.name == name:
                return a.value.strip() if a.value is not None else ""
        return None

    # ---------------------------------------------------------------- simple values

    @property
    def mid(self) -> str | None:
        return self._value_of("mid")

    @mid.setter
    def mid(self, value: str | None) -> None:
        self._set_optional("mid", value)

    @property
    def ice_ufrag(self) -> str | None:
        return self._value_of("ice-ufrag")

    @ice_ufrag.setter
    def ice_ufrag(self, value: str | None) -> None:
        self._set_optional("ice-ufrag", value)

    @property
    def ice_pwd(self) -> str | None:
        return self._value_of("ice-pwd")

    @ice_pwd.setter
    def ice_pwd(self, value: str | None) -> None:
        self._set_optional("ice-pwd", value)

    @property
    def ice_options(self) -> list[str]:
        out: list[str] = []
        for v in self.get_all("ice-options"):
            out.extend(v.split())
        return out

    @property
    def ice_lite(self) -> bool:
        return self.has("ice-lite")

    @property
    def setup(self) -> str | None:
        """The DTLS role: actpass, active, passive or holdconn (RFC 4145, RFC 8842)."""
        return self._value_of("setup")

    @setup.setter
    def setup(self, value: str | None) -> None:
        self._set_optional("setup", value)

    @property
    def fingerprints(self) -> list[tuple[str, str]]:
        """``(algorithm lower-case, hex upper-case with colons)`` per ``a=fingerprint``."""
        out: list[tuple[str, str]] = []
        for a in self._find("fingerprint"):
            parts = (a.value or "").split()
            if len(parts) != 2:
                raise _bad(a, "bad fingerprint")
            out.append((parts[0].lower(), parts[1].upper()))
        return out

    @property
    def direction(self) -> str | None:
        """The last direction attribute, or None (the default is "sendrecv")."""
        found = None
        for a in self.attributes:
            if a.name in _DIRECTION_SET and a.value is None:
                found = a.name
        return found

    @direction.setter
    def direction(self, value: str | None) -> None:
        if value is not None and value not in _DIRECTION_SET:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {value!r}")
        attrs = self.attributes
        for i, a in enumerate(attrs):
            if a.name in _DIRECTION_SET:
                rest = [b for b in attrs[i + 1 :] if b.name not in _DIRECTION_SET]
                attrs[i:] = ([Attribute(value)] if value is not None else []) + rest
                return
        if value is not None:
            attrs.append(Attribute(value))

    @property
    def sctp_port(self) -> int | None:
        for a in self._find("sctp-port"):
            return _int(a, (a.value or "").strip(), "sctp-port", 65536)
        return None

    @sctp_port.setter
    def sctp_port(self, value: int | None) -> None:
        self._set_optional("sctp-port", None if value is None else str(value))

    @property
    def max_message_size(self) -> int | None:
        for a in self._find("max-message-size"):
            return _int(a, (a.value or "").strip(), "max-message-size")
        return None

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        self._set_optional("max-message-size", None if value is None else str(value))

    @property
    def rtcp_mux(self) -> bool:
        return self.has("rtcp-mux")

    @property
    def rtcp_rsize(self) -> bool:
        return self.has("rtcp-rsize")

    # ---------------------------------------------------------------- ICE candidates

    @property
    def candidates(self) -> list[Candidate]:
        out: list[Candidate] = []
        for a in self._find("candidate"):
            try:
                out.append(Candidate.from_sdp(a.value or ""))
            except SDPParseError as exc:
                raise _bad(a, exc.reason) from None
        return out

    def add_candidate(self, candidate: Candidate) -> None:
        """Append ``a=candidate:...`` (before ``a=end-of-candidates`` if present)."""
        attr = Attribute("candidate", candidate.to_sdp()[10:])
        attrs = self.attributes
        for i, a in enumerate(attrs):
            if a.name == "end-of-candidates":
                attrs.insert(i, attr)
                return
        attrs.append(attr)

    @property
    def end_of_candidates(self) -> bool:
        return self.has("end-of-candidates")

    @end_of_candidates.setter
    def end_of_candidates(self, value: bool) -> None:
        if value:
            if not self.has("end-of-candidates"):
                self.add("end-of-candidates")
        else:
            self.remove("end-of-candidates")

    # ---------------------------------------------------------------- RTP

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        out: dict[int, RtpMap] = {}
        for a in self._find("rtpmap"):
            pt_text, _, enc = (a.value or "").strip().partition(" ")
            pt = _int(a, pt_text, "rtpmap payload type", 128)
            parts = enc.strip().split("/")
            if len(parts) not in (2, 3) or not parts[0]:
                raise _bad(a, "bad rtpmap encoding")
            clock = _int(a, parts[1], "rtpmap clock rate", 1 << 32)
            channels = _int(a, parts[2], "rtpmap channels", 256) if len(parts) == 3 else None
            out[pt] = RtpMap(parts[0], clock, channels)
        return out

    @property
    def fmtps(self) -> dict[int, str]:
        """Payload type -> the format parameters text (see ``parse_fmtp_params``)."""
        out: dict[int, str] = {}
        for a in self._find("fmtp"):
            pt_text, _, params = (a.value or "").partition(" ")
            out[_int(a, pt_text, "fmtp payload type", 128)] = params.strip()
        return out

    @property
    def rtcp_fb(self) -> list[tuple[str, str]]:
        """``(payload type or "*", feedback)`` per ``a=rtcp-fb``, e.g. ``("96", "nack pli")``."""
        out: list[tuple[str, str]] = []
        for a in self._find("rtcp-fb"):
            pt, _, fb = (a.value or "").strip().partition(" ")
            if pt != "*":
                _int(a, pt, "rtcp-fb payload type", 128)
            fb = fb.strip()
            if not fb:
                raise _bad(a, "rtcp-fb without a feedback type")
            out.append((pt, fb))
        return out

    @property
    def extmaps(self) -> list[ExtMap]:
        out: list[ExtMap] = []
        for a in self._find("extmap"):
            parts = (a.value or "").split(None, 2)
            if len(parts) < 2:
                raise _bad(a, "bad extmap")
            ident, _, direction = parts[0].partition("/")
            num = _int(a, ident, "extmap id", 4096)
            if direction and direction not in _DIRECTION_SET:
                raise _bad(a, "bad extmap direction")
            attributes = parts[2] if len(parts) == 3 else None
            out.append(ExtMap(num, parts[1], direction or None, attributes))
        return out

    @property
    def msid(self) -> list[tuple[str, str | None]]:
        """``(stream id, track id or None)`` per ``a=msid`` (RFC 8830)."""
        out: list[tuple[str, str | None]] = []
        for a in self._find("msid"):
            parts = (a.value or "").split()
            if not 1 <= len(parts) <= 2:
                raise _bad(a, "bad msid")
            out.append((parts[0], parts[1] if len(parts) == 2 else None))
        return out

    @property
    def msid_semantic(self) -> tuple[str, list[str]] | None:
        """``a=msid-semantic: WMS a b`` -> ``("WMS", ["a", "b"])``."""
        for a in self._find("msid-semantic"):
            parts = (a.value or "").split()
            if not parts:
                raise _bad(a, "empty msid-semantic")
            return (parts[0], parts[1:])
        return None

    @property
    def ssrcs(self) -> list[Ssrc]:
        out: list[Ssrc] = []
        for a in self._find("ssrc"):
            ssrc_text, _, rest = (a.value or "").partition(" ")
            ssrc = _int(a, ssrc_text, "ssrc", 1 << 32)
            name, colon, value = rest.partition(":")
            if not name:
                raise _bad(a, "ssrc without an attribute")
            out.append(Ssrc(ssrc, name, value if colon else None))
        return out

    @property
    def ssrc_groups(self) -> list[tuple[str, list[int]]]:
        """``a=ssrc-group:FID 1 2`` -> ``("FID", [1, 2])``."""
        out: list[tuple[str, list[int]]] = []
        for a in self._find("ssrc-group"):
            parts = (a.value or "").split()
            if not parts:
                raise _bad(a, "empty ssrc-group")
            out.append((parts[0], [_int(a, p, "ssrc", 1 << 32) for p in parts[1:]]))
        return out

    @property
    def rids(self) -> list[Rid]:
        out: list[Rid] = []
        for a in self._find("rid"):
            parts = (a.value or "").split(None, 2)
            if len(parts) < 2 or parts[1] not in ("send", "recv"):
                raise _bad(a, "bad rid")
            out.append(Rid(parts[0], parts[1], parts[2] if len(parts) == 3 else None))
        return out

    @property
    def simulcast(self) -> Simulcast | None:
        for a in self._find("simulcast"):
            parts = (a.value or "").split()
            if not parts or len(parts) % 2:
                raise _bad(a, "bad simulcast")
            sim = Simulcast()
            seen: set[str] = set()
            for i in range(0, len(parts), 2):
                direction, streams = parts[i], parts[i + 1]
                if direction not in ("send", "recv") or direction in seen:
                    raise _bad(a, "bad simulcast direction")
                seen.add(direction)
                alts = [s.split(",") for s in streams.split(";")]
                if any(not x for alt in alts for x in alt):
                    raise _bad(a, "empty simulcast stream id")
                (sim.send if direction == "send" else sim.recv).extend(alts)
            return sim
        return None

    # ---------------------------------------------------------------- grouping

    @property
    def groups(self) -> list[tuple[str, list[str]]]:
        """``a=group:BUNDLE 0 1`` -> ``("BUNDLE", ["0", "1"])`` (RFC 5888)."""
        out: list[tuple[str, list[str]]] = []
        for a in self._find("group"):
            parts = (a.value or "").split()
            if not parts:
                raise _bad(a, "empty group")
            out.append((parts[0], parts[1:]))
        return out

    @property
    def bundle_groups(self) -> list[list[str]]:
        """The mids of each ``a=group:BUNDLE`` (RFC 8843)."""
        return [mids for semantics, mids in self.groups if semantics.upper() == "BUNDLE"]
