"""SDP session and media descriptions: parse and write (RFC 8866).

RFC 8866 section 5 fixes the line types and their order::

    session:  v= o= s= [i=] [u=] *e= *p= [c=] *b= 1*(t= *r=) [z=] [k=] *a=
    media:    m= [i=] *c= *b= [k=] *a=

Input may use CRLF or LF line endings (RFC 8866 section 5 asks parsers to accept both); output
always uses CRLF. Numbers are kept as ints, so a number written with leading zeros (legal, never
seen from browsers) comes back without them. Every line is kept: attribute values verbatim and in order, so parse -> write
is text-identical for what browsers send. Unknown attributes are kept; unknown line types, lines
out of order and malformed mandatory lines raise :class:`SDPParseError` with the 1-based line
number and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from rtcpeer.sdp.attributes import Attribute, AttributeHelpers
from rtcpeer.sdp.errors import SDPParseError

__all__ = [
    "Bandwidth",
    "Connection",
    "MediaDescription",
    "Origin",
    "SessionDescription",
    "Timing",
]

_TOKEN = frozenset(
    "!#$%&'*+-.^_`{|}~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

# Order of the session-level line types; equal ranks may repeat only if listed in _REPEAT.
_SESSION_RANK = {
    "i": 3,
    "u": 4,
    "e": 5,
    "p": 6,
    "c": 7,
    "b": 8,
    "t": 9,
    "r": 9,
    "z": 11,
    "k": 12,
    "a": 13,
}
_SESSION_REPEAT = frozenset("epbtra")
_MEDIA_RANK = {"i": 1, "c": 2, "b": 3, "k": 4, "a": 5}
_MEDIA_REPEAT = frozenset("cba")


def _is_uint(text: str, max_len: int = 20) -> bool:
    # isascii() first: str.isdigit() alone accepts other scripts' digits.
    return text.isascii() and text.isdigit() and len(text) <= max_len


@dataclass(slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str = "-"
    session_id: str = "0"
    session_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def to_value(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (address may carry ``/ttl/n``)."""

    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    def to_value(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (kbps for AS/CT, bps for TIAS)."""

    type: str
    value: int


@dataclass(slots=True)
class Timing:
    """``t=<start> <stop>`` with its ``r=`` repeat lines (kept verbatim)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MediaDescription(AttributeHelpers):
    """One media section: ``m=<kind> <port>[/<n>] <proto> <fmt> ...`` and its lines."""

    kind: str
    port: int
    proto: str
    fmt: list[str]
    number_of_ports: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def connection(self) -> Connection | None:
        """The first ``c=`` line of this section."""
        return self.connections[0] if self.connections else None

    @property
    def payload_types(self) -> list[int]:
        """The ``fmt`` list as RTP payload types (raises SDPParseError for non-RTP formats)."""
        out = []
        for f in self.fmt:
            if not _is_uint(f, 3) or int(f) > 127:
                raise SDPParseError("format is not an RTP payload type", 0, self.media_line())
            out.append(int(f))
        return out

    def media_line(self) -> str:
        port = str(self.port)
        if self.number_of_ports is not None:
            port += f"/{self.number_of_ports}"
        return f"m={self.kind} {port} {self.proto} {' '.join(self.fmt)}"

    def _write(self, out: list[str]) -> None:
        out.append(self.media_line())
        if self.information is not None:
            out.append("i=" + self.information)
        for c in self.connections:
            out.append("c=" + c.to_value())
        for b in self.bandwidths:
            out.append(f"b={b.type}:{b.value}")
        if self.key is not None:
            out.append("k=" + self.key)
        for a in self.attributes:
            v = a.value
            out.append("a=" + a.name if v is None else f"a={a.name}:{v}")


@dataclass(slots=True)
class SessionDescription(AttributeHelpers):
    """A parsed SDP document. ``parse`` and ``to_sdp`` round-trip browser SDP exactly."""

    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timing: list[Timing] = field(default_factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    # ---------------------------------------------------------------- queries

    def media_by_mid(self, mid: str) -> MediaDescription | None:
        for m in self.media:
            if m.mid == mid:
                return m
        return None

    def lookup(self, media: MediaDescription, name: str) -> str | None:
        """Stripped value of ``name`` in ``media``, else at session level (e.g. ice-ufrag)."""
        value = media._value_of(name)
        return value if value is not None else self._value_of(name)

    def media_fingerprints(self, media: MediaDescription) -> list[tuple[str, str]]:
        """The media section's fingerprints, else the session-level ones (RFC 8122)."""
        return media.fingerprints or self.fingerprints

    # ---------------------------------------------------------------- writing

    def to_sdp(self) -> str:
        """The description as text, CRLF line endings, ending with CRLF."""
        o = self.origin
        out = [
            f"v={self.version}",
            f"o={o.username} {o.session_id} {o.session_version} "
            f"{o.nettype} {o.addrtype} {o.address}",
            "s=" + self.session_name,
        ]
        if self.information is not None:
            out.append("i=" + self.information)
        if self.uri is not None:
            out.append("u=" + self.uri)
        for e in self.emails:
            out.append("e=" + e)
        for p in self.phones:
            out.append("p=" + p)
        if self.connection is not None:
            out.append("c=" + self.connection.to_value())
        for b in self.bandwidths:
            out.append(f"b={b.type}:{b.value}")
        for t in self.timing:
            out.append(f"t={t.start} {t.stop}")
            for r in t.repeats:
                out.append("r=" + r)
        if self.zone is not None:
            out.append("z=" + self.zone)
        if self.key is not None:
            out.append("k=" + self.key)
        for a in self.attributes:
            v = a.value
            out.append("a=" + a.name if v is None else f"a={a.name}:{v}")
        for m in self.media:
            m._write(out)
        out.append("")
        return "\r\n".join(out)

    def __str__(self) -> str:
        return self.to_sdp()

    # ---------------------------------------------------------------- parsing

    @classmethod
    def parse(cls, text: str | bytes | bytearray | memoryview) -> SessionDescription:
        """Parse SDP text (CRLF or LF). Raises :class:`SDPParseError` on malformed input."""
        if not isinstance(text, str):
            raw = bytes(text)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line_number = raw.count(b"\n", 0, exc.start) + 1
                line = raw.split(b"\n")[line_number - 1].decode("utf-8", "replace")
                raise SDPParseError("SDP is not UTF-8", line_number, line) from None
        desc = cls.__new__(cls)
        desc.version = 0
        desc.information = None
        desc.uri = None
        desc.emails = []
        desc.phones = []
        desc.connection = None
        desc.bandwidths = []
        desc.timing = []
        desc.zone = None
        desc.key = None
        desc.attributes = []
        desc.media = []

        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if text[-1] == "\r":
                text = text[:-1]
            if "\r" in text:
                _raise_at(text, text.index("\r"), "CR inside a line")
        if "\x00" in text:
            _raise_at(text, text.index("\x00"), "NUL in SDP")
        lines = text.split("\n")
        n = len(lines)
        # v=, o=, s= come first, in this order (RFC 8866 section 5).
        pos = 0
        for header, (t, what) in enumerate((("v", "v=0"), ("o", "o="), ("s", "s="))):
            while pos < n and not lines[pos]:
                pos += 1
            if pos == n:
                raise SDPParseError(f"missing {what} line", n, lines[-1])
            line = lines[pos]
            pos += 1
            if line[:2] != t + "=":
                if header == 0:
                    raise SDPParseError("SDP must start with v=", pos, line)
                raise SDPParseError(
                    f"expected {t}= ({('', 'second', 'third')[header]} line)", pos, line
                )
            if header == 0:
                if line != "v=0":
                    raise SDPParseError("unsupported SDP version", pos, line)
            elif header == 1:
                desc.origin = _parse_origin(line, pos)
            else:
                desc.session_name = line[2:]

        attrs = desc.attributes
        append_attr = attrs.append
        rank = 2
        media: MediaDescription | None = None
        rank_table = _SESSION_RANK
        repeat = _SESSION_REPEAT
        token = _TOKEN
        valid_names: set[str] = set()
        idx = pos
        for line in lines[pos:]:
            idx += 1
            if not line:
                continue
            t = line[0]
            if line[1:2] != "=":
                raise SDPParseError("not a <type>=<value> line", idx, line)
            if t == "a":
                name, colon, value = line[2:].partition(":")
                if name not in valid_names:
                    # Names repeat a lot (rtpmap, rtcp-fb, candidate): check each one once.
                    if not name or not token.issuperset(name):
                        raise SDPParseError("bad attribute name", idx, line)
                    valid_names.add(name)
                append_attr(Attribute(name, value if colon else None, idx))
                rank = 13 if media is None else 5
                continue
            if t == "m":
                if not desc.timing:
                    raise SDPParseError("m= before any t= line", idx, line)
                media = _parse_media(line, idx)
                desc.media.append(media)
                attrs = media.attributes
                append_attr = attrs.append
                rank = 0
                rank_table = _MEDIA_RANK
                repeat = _MEDIA_REPEAT
                continue
            r = rank_table.get(t)
            if r is None:
                if t in "vos":
                    raise SDPParseError(f"duplicate {t}= line", idx, line)
                raise SDPParseError("unknown or misplaced line type", idx, line)
            if r < rank or (r == rank and t not in repeat):
                raise SDPParseError("line out of order", idx, line)
            if t == "r" and rank != 9:
                raise SDPParseError("r= without t=", idx, line)
            rank = r
            value = line[2:]
            if media is None:
                if t == "t":
                    desc.timing.append(_parse_timing(line, idx))
                elif t == "r":
                    desc.timing[-1].repeats.append(value)
                elif t == "c":
                    desc.connection = _parse_connection(line, idx)
                elif t == "b":
                    desc.bandwidths.append(_parse_bandwidth(line, idx))
                elif t == "i":
                    desc.information = value
                elif t == "u":
                    desc.uri = value
                elif t == "e":
                    desc.emails.append(value)
                elif t == "p":
                    desc.phones.append(value)
                elif t == "z":
                    desc.zone = value
                else:  # k
                    desc.key = value
            else:
                if t == "c":
                    media.connections.append(_parse_connection(line, idx))
                elif t == "b":
                    media.bandwidths.append(_parse_bandwidth(line, idx))
                elif t == "i":
                    media.information = value
                else:  # k
                    media.key = value
        if not desc.timing:
            raise SDPParseError("missing t= line", n, lines[-1])
        return desc


def _raise_at(text: str, offset: int, reason: str) -> NoReturn:
    line_number = text.count("\n", 0, offset) + 1
    raise SDPParseError(reason, line_number, text.split("\n")[line_number - 1])


def _parse_origin(line: str, line_number: int) -> Origin:
    parts = line[2:].split(" ")
    if len(parts) != 6 or not all(parts):
        raise SDPParseError("o= needs 6 fields", line_number, line)
    user, sess_id, sess_version, nettype, addrtype, address = parts
    if not _is_uint(sess_id) or not _is_uint(sess_version):
        raise SDPParseError("o= session id and version must be numbers", line_number, line)
    if not _TOKEN.issuperset(nettype) or not _TOKEN.issuperset(addrtype):
        raise SDPParseError("bad o= network or address type", line_number, line)
    return Origin(user, sess_id, int(sess_version), nettype, addrtype, address)


def _parse_timing(line: str, line_number: int) -> Timing:
    parts = line[2:].split(" ")
    if len(parts) != 2 or not _is_uint(parts[0]) or not _is_uint(parts[1]):
        raise SDPParseError("t= needs start and stop times", line_number, line)
    return Timing(int(parts[0]), int(parts[1]), [])


def _parse_connection(line: str, line_number: int) -> Connection:
    parts = line[2:].split(" ")
    if len(parts) != 3 or not all(parts):
        raise SDPParseError("c= needs 3 fields", line_number, line)
    if not _TOKEN.issuperset(parts[0]) or not _TOKEN.issuperset(parts[1]):
        raise SDPParseError("bad c= network or address type", line_number, line)
    return Connection(parts[0], parts[1], parts[2])


def _parse_bandwidth(line: str, line_number: int) -> Bandwidth:
    bwtype, colon, value = line[2:].partition(":")
    if not colon or not bwtype or not _TOKEN.issuperset(bwtype) or not _is_uint(value):
        raise SDPParseError("b= must be <type>:<number>", line_number, line)
    return Bandwidth(bwtype, int(value))


def _parse_media(line: str, line_number: int) -> MediaDescription:
    parts = line[2:].split(" ")
    if len(parts) < 4 or not all(parts):
        raise SDPParseError("m= needs <media> <port> <proto> <fmt>...", line_number, line)
    kind, port_text, proto = parts[0], parts[1], parts[2]
    if not _TOKEN.issuperset(kind):
        raise SDPParseError("bad m= media type", line_number, line)
    port_text, slash, count = port_text.partition("/")
    if not _is_uint(port_text, 5) or int(port_text) > 65535:
        raise SDPParseError("bad m= port", line_number, line)
    number: int | None = None
    if slash:
        if not _is_uint(count, 5) or int(count) == 0:
            raise SDPParseError("bad m= number of ports", line_number, line)
        number = int(count)
    if not all(_TOKEN.issuperset(p) or p == "/" for p in proto.split("/")):
        raise SDPParseError("bad m= protocol", line_number, line)
    return MediaDescription(kind, int(port_text), proto, parts[3:], number)
