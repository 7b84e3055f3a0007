"""SCTP packet and chunk codec.

Implements the wire format of:

- RFC 9260 section 3 (common header, chunk layout, chunk types DATA, INIT, INIT ACK, SACK,
  HEARTBEAT, HEARTBEAT ACK, ABORT, SHUTDOWN, SHUTDOWN ACK, ERROR, COOKIE ECHO, COOKIE ACK,
  SHUTDOWN COMPLETE; variable-length parameters and error causes, section 3.2.1 handling of
  unrecognised chunk types) and Appendix A (CRC32c checksum);
- RFC 3758 section 3 (FORWARD TSN chunk, Forward-TSN-Supported parameter);
- RFC 6525 section 3-4 (RE-CONFIG chunk; outgoing/incoming SSN reset requests, SSN/TSN reset
  request, add streams requests, re-configuration response);
- RFC 5061 section 4.2.7 (Supported Extensions parameter);
- RFC 8260 sections 2.1 and 2.3 (I-DATA and I-FORWARD-TSN chunks for message interleaving).

The association's hot path does not go through these classes for DATA: it reads DATA chunks
straight out of the packet (see :mod:`rtcpeer.sctp.association`). These classes are used for
control chunks, tests and tools. Everything that comes from the network goes through
:func:`parse_packet`, which raises only :class:`ParseError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from google_crc32c import _crc32c as _crc

__all__ = [
    "AbortChunk",
    "Chunk",
    "ChunkType",
    "CookieAckChunk",
    "CookieEchoChunk",
    "DataChunk",
    "ErrorChunk",
    "ForwardTsnChunk",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "IDataChunk",
    "IForwardTsnChunk",
    "InitAckChunk",
    "InitChunk",
    "Packet",
    "Param",
    "ParseError",
    "ReconfigChunk",
    "ReconfigParam",
    "ReconfigResponse",
    "IncomingSsnResetRequest",
    "OutgoingSsnResetRequest",
    "SsnTsnResetRequest",
    "AddStreamsRequest",
    "SackChunk",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "UnknownChunk",
    "crc32c",
    "decode_params",
    "encode_params",
    "parse_packet",
    "verify_checksum",
]


class ParseError(ValueError):
    """The one error type raised by the rtcpeer.sctp parsers for malformed input."""


class ChunkType(IntEnum):
    DATA = 0
    INIT = 1
    INIT_ACK = 2
    SACK = 3
    HEARTBEAT = 4
    HEARTBEAT_ACK = 5
    ABORT = 6
    SHUTDOWN = 7
    SHUTDOWN_ACK = 8
    ERROR = 9
    COOKIE_ECHO = 10
    COOKIE_ACK = 11
    SHUTDOWN_COMPLETE = 14
    I_DATA = 64
    RECONFIG = 130
    FORWARD_TSN = 192
    I_FORWARD_TSN = 194


class ParamType(IntEnum):
    HEARTBEAT_INFO = 1
    IPV4 = 5
    IPV6 = 6
    STATE_COOKIE = 7
    UNRECOGNIZED = 8
    COOKIE_PRESERVATIVE = 9
    HOSTNAME = 11
    SUPPORTED_ADDRESS_TYPES = 12
    OUTGOING_SSN_RESET = 13
    INCOMING_SSN_RESET = 14
    SSN_TSN_RESET = 15
    RECONFIG_RESPONSE = 16
    ADD_OUTGOING_STREAMS = 17
    ADD_INCOMING_STREAMS = 18
    ECN_CAPABLE = 0x8000
    ZERO_CHECKSUM_ACCEPTABLE = 0x8001
    RANDOM = 0x8002
    CHUNK_LIST = 0x8003
    HMAC_ALGO = 0x8004
    PADDING = 0x8005
    SUPPORTED_EXTENSIONS = 0x8008
    FORWARD_TSN_SUPPORTED = 0xC000


class CauseCode(IntEnum):
    """Error cause codes, RFC 9260 section 3.3.10."""

    INVALID_STREAM = 1
    MISSING_PARAM = 2
    STALE_COOKIE = 3
    OUT_OF_RESOURCE = 4
    UNRESOLVABLE_ADDRESS = 5
    UNRECOGNIZED_CHUNK = 6
    INVALID_MANDATORY_PARAM = 7
    UNRECOGNIZED_PARAMS = 8
    NO_USER_DATA = 9
    COOKIE_WHILE_SHUTTING_DOWN = 10
    RESTART_WITH_NEW_ADDRESSES = 11
    USER_INITIATED_ABORT = 12
    PROTOCOL_VIOLATION = 13


# DATA chunk flags (RFC 9260 section 3.3.1, RFC 7053 for I).
FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04
FLAG_IMMEDIATE = 0x08
# T bit of ABORT and SHUTDOWN COMPLETE (RFC 9260 section 3.3.7, 3.3.13).
FLAG_T = 0x01

_HDR = struct.Struct("!HHI")  # ports and verification tag; the checksum is little-endian
_CRC = struct.Struct("<I")
_CHUNK_HDR = struct.Struct("!BBH")
_DATA_HDR = struct.Struct("!BBHIHHI")
_IDATA_HDR = struct.Struct("!BBHIHHII")
_INIT = struct.Struct("!IIHHI")
_SACK = struct.Struct("!IIHH")
_U32 = struct.Struct("!I")
_U16x2 = struct.Struct("!HH")
_ZERO4 = b"\x00\x00\x00\x00"


def crc32c(data: bytes) -> int:
    return int(_crc.value(data))


def checksum(packet: bytes) -> int:
    """CRC32c of ``packet`` computed with its checksum field taken as zero (Appendix A)."""
    return int(_crc.extend(_crc.extend(_crc.value(packet[:8]), _ZERO4), packet[12:]))


def verify_checksum(packet: bytes) -> bool:
    if len(packet) < 12:
        return False
    return checksum(packet) == int(_CRC.unpack_from(packet, 8)[0])


def finish_packet(header8: bytes, body: bytes) -> bytes:
    """Join an 8-byte common header (ports, tag) and chunk bytes, inserting the CRC32c."""
    crc = _crc.extend(_crc.extend(_crc.value(header8), _ZERO4), body)
    return header8 + _CRC.pack(crc) + body


def _pad(n: int) -> int:
    return (n + 3) & ~3


# --- parameters ------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Param:
    """A generic TLV parameter (RFC 9260 section 3.2.1) or error cause (section 3.3.10)."""

    type: int
    value: bytes


def encode_params(params: list[Param] | tuple[Param, ...]) -> bytes:
    out = bytearray()
    for p in params:
        out += _U16x2.pack(p.type, 4 + len(p.value))
        out += p.value
        out += b"\x00" * (_pad(len(p.value)) - len(p.value))
    return bytes(out)


def decode_params(data: bytes) -> list[Param]:
    """Decode a list of TLVs; padding of the last one may be absent (RFC 9260 3.2)."""
    out: list[Param] = []
    pos = 0
    n = len(data)
    while pos + 4 <= n:
        ptype, plen = _U16x2.unpack_from(data, pos)
        if plen < 4 or pos + plen > n:
            raise ParseError(f"parameter type {ptype} length {plen} overruns its chunk")
        out.append(Param(ptype, bytes(data[pos + 4 : pos + plen])))
        pos += _pad(plen)
    if pos < n and any(data[pos:]):
        raise ParseError("trailing garbage after parameters")
    return out


# --- chunks ----------------------------------------------------------------------------------


class Chunk:
    """Base of all chunk classes; ``encode()`` returns the padded chunk bytes."""

    __slots__ = ()
    type: int = -1

    def encode(self) -> bytes:
        raise NotImplementedError

    @staticmethod
    def _wrap(ctype: int, flags: int, body: bytes) -> bytes:
        length = 4 + len(body)
        return _CHUNK_HDR.pack(ctype, flags, length) + body + b"\x00" * (_pad(length) - length)


@dataclass(slots=True)
class DataChunk(Chunk):
    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    user_data: bytes
    flags: int = FLAG_BEGIN | FLAG_END
    type = ChunkType.DATA

    @property
    def unordered(self) -> bool:
        return bool(self.flags & FLAG_UNORDERED)

    def encode(self) -> bytes:
        length = 16 + len(self.user_data)
        return (
            _DATA_HDR.pack(0, self.flags, length, self.tsn, self.stream_id, self.ssn, self.ppid)
            + self.user_data
            + b"\x00" * (_pad(length) - length)
        )

    @classmethod
    def decode(cls, flags: int, body: bytes) -> DataChunk:
        if len(body) < 12:
            raise ParseError("DATA chunk shorter than its header")
        tsn, sid, ssn, ppid = struct.unpack_from("!IHHI", body)
        return cls(tsn, sid, ssn, ppid, bytes(body[12:]), flags)


@dataclass(slots=True)
class InitChunk(Chunk):
    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    params: list[Param] = field(default_factory=list)
    type = ChunkType.INIT

    def encode(self) -> bytes:
        body = _INIT.pack(
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn,
        ) + encode_params(self.params)
        return self._wrap(self.type, 0, body)

    @classmethod
    def decode(cls, flags: int, body: bytes) -> InitChunk:
        if len(body) < 16:
            raise ParseError(f"{cls.__name__} shorter than 20 bytes")
        tag, rwnd, os_, mis, tsn = _INIT.unpack_from(body)
        return cls(tag, rwnd, os_, mis, tsn, decode_params(body[16:]))

    def param(self, ptype: int) -> bytes | None:
        for p in self.params:
            if p.type == ptype:
                return p.value
        return None


@dataclass(slots=True)
class InitAckChunk(InitChunk):
    type = ChunkType.INIT_ACK


@dataclass(slots=True)
class SackChunk(Chunk):
    cumulative_tsn: int
    a_rwnd: int
    gaps: list[tuple[int, int]] = field(default_factory=list)  # offsets from cumulative_tsn
    duplicates: list[int] = field(default_factory=list)
    type = ChunkType.SACK

    def encode(self) -> bytes:
        body = bytearray(
            _SACK.pack(self.cumulative_tsn, self.a_rwnd, len(self.gaps), len(self.duplicates))
        )
        for start, end in self.gaps:
            body += _U16x2.pack(start, end)
        for d in self.duplicates:
            body += _U32.pack(d)
        return self._wrap(self.type, 0, bytes(body))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> SackChunk:
        if len(body) < 12:
            raise ParseError("SACK chunk shorter than 16 bytes")
        cum, rwnd, ngaps, ndups = _SACK.unpack_from(body)
        if 12 + 4 * ngaps + 4 * ndups > len(body):
            raise ParseError(f"SACK announces {ngaps} gaps and {ndups} dups beyond its length")
        gaps = [_U16x2.unpack_from(body, 12 + 4 * i) for i in range(ngaps)]
        base = 12 + 4 * ngaps
        dups = [_U32.unpack_from(body, base + 4 * i)[0] for i in range(ndups)]
        return cls(cum, rwnd, gaps, dups)


@dataclass(slots=True)
class HeartbeatChunk(Chunk):
    info: bytes  # the Heartbeat Info parameter value, opaque to the receiver
    type = ChunkType.HEARTBEAT

    def encode(self) -> bytes:
        return self._wrap(self.type, 0, encode_params([Param(ParamType.HEARTBEAT_INFO, self.info)]))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> HeartbeatChunk:
        params = decode_params(body)
        for p in params:
            if p.type == ParamType.HEARTBEAT_INFO:
                return cls(p.value)
        raise ParseError(f"{cls.__name__} without Heartbeat Info")


@dataclass(slots=True)
class HeartbeatAckChunk(HeartbeatChunk):
    type = ChunkType.HEARTBEAT_ACK


@dataclass(slots=True)
class AbortChunk(Chunk):
    causes: list[Param] = field(default_factory=list)
    t_bit: bool = False
    type = ChunkType.ABORT

    def encode(self) -> bytes:
        return self._wrap(self.type, FLAG_T if self.t_bit else 0, encode_params(self.causes))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> AbortChunk:
        return cls(decode_params(body), bool(flags & FLAG_T))

    def reason(self) -> str:
        return describe_causes(self.causes)


@dataclass(slots=True)
class ErrorChunk(Chunk):
    causes: list[Param] = field(default_factory=list)
    type = ChunkType.ERROR

    def encode(self) -> bytes:
        return self._wrap(self.type, 0, encode_params(self.causes))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> ErrorChunk:
        return cls(decode_params(body))


def describe_causes(causes: list[Param]) -> str:
    parts = []
    for c in causes:
        try:
            name = CauseCode(c.type).name.lower().replace("_", " ")
        except ValueError:
            name = f"cause {c.type}"
        if c.type in (CauseCode.USER_INITIATED_ABORT, CauseCode.PROTOCOL_VIOLATION) and c.value:
            name += ": " + c.value.decode("utf-8", "replace")
        parts.append(name)
    return "; ".join(parts) or "no cause given"


@dataclass(slots=True)
class ShutdownChunk(Chunk):
    cumulative_tsn: int
    type = ChunkType.SHUTDOWN

    def encode(self) -> bytes:
        return self._wrap(self.type, 0, _U32.pack(self.cumulative_tsn))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> ShutdownChunk:
        if len(body) != 4:
            raise ParseError("SHUTDOWN chunk must be 8 bytes")
        return cls(_U32.unpack_from(body)[0])


@dataclass(slots=True)
class _EmptyChunk(Chunk):
    def encode(self) -> bytes:
        return self._wrap(self.type, 0, b"")

    @classmethod
    def decode(cls, flags: int, body: bytes) -> _EmptyChunk:
        return cls()


@dataclass(slots=True)
class ShutdownAckChunk(_EmptyChunk):
    type = ChunkType.SHUTDOWN_ACK


@dataclass(slots=True)
class CookieAckChunk(_EmptyChunk):
    type = ChunkType.COOKIE_ACK


@dataclass(slots=True)
class ShutdownCompleteChunk(Chunk):
    t_bit: bool = False
    type = ChunkType.SHUTDOWN_COMPLETE

    def encode(self) -> bytes:
        return self._wrap(self.type, FLAG_T if self.t_bit else 0, b"")

    @classmethod
    def decode(cls, flags: int, body: bytes) -> ShutdownCompleteChunk:
        return cls(bool(flags & FLAG_T))


@dataclass(slots=True)
class CookieEchoChunk(Chunk):
    cookie: bytes
    type = ChunkType.COOKIE_ECHO

    def encode(self) -> bytes:
        return self._wrap(self.type, 0, self.cookie)

    @classmethod
    def decode(cls, flags: int, body: bytes) -> CookieEchoChunk:
        return cls(bytes(body))


@dataclass(slots=True)
class ForwardTsnChunk(Chunk):
    """RFC 3758 section 3.2: new cumulative TSN and the (stream, SSN) pairs skipped."""

    new_cumulative_tsn: int
    streams: list[tuple[int, int]] = field(default_factory=list)
    type = ChunkType.FORWARD_TSN

    def encode(self) -> bytes:
        body = _U32.pack(self.new_cumulative_tsn) + b"".join(
            _U16x2.pack(sid, ssn) for sid, ssn in self.streams
        )
        return self._wrap(self.type, 0, body)

    @classmethod
    def decode(cls, flags: int, body: bytes) -> ForwardTsnChunk:
        if len(body) < 4 or len(body) % 4:
            raise ParseError("FORWARD TSN chunk has a bad length")
        tsn = _U32.unpack_from(body)[0]
        streams = [_U16x2.unpack_from(body, i) for i in range(4, len(body), 4)]
        return cls(tsn, streams)


@dataclass(slots=True)
class IDataChunk(Chunk):
    """RFC 8260 section 2.1: a DATA chunk with a 32-bit Message Identifier and a Fragment
    Sequence Number; the PPID is only carried by the first fragment (B bit set), the other
    fragments carry their FSN in the same field (the first fragment's FSN is 0)."""

    tsn: int
    stream_id: int
    mid: int
    ppid_or_fsn: int
    user_data: bytes
    flags: int = FLAG_BEGIN | FLAG_END
    type = ChunkType.I_DATA

    def encode(self) -> bytes:
        length = 20 + len(self.user_data)
        return (
            _IDATA_HDR.pack(
                ChunkType.I_DATA,
                self.flags,
                length,
                self.tsn,
                self.stream_id,
                0,
                self.mid,
                self.ppid_or_fsn,
            )
            + self.user_data
            + b"\x00" * (_pad(length) - length)
        )

    @classmethod
    def decode(cls, flags: int, body: bytes) -> IDataChunk:
        if len(body) < 16:
            raise ParseError("I-DATA chunk shorter than its header")
        tsn, sid, _, mid, ppid_fsn = struct.unpack_from("!IHHII", body)
        return cls(tsn, sid, mid, ppid_fsn, bytes(body[16:]), flags)


@dataclass(slots=True)
class IForwardTsnChunk(Chunk):
    """RFC 8260 section 2.3: new cumulative TSN and the (stream, unordered, MID) skipped."""

    new_cumulative_tsn: int
    streams: list[tuple[int, bool, int]] = field(default_factory=list)
    type = ChunkType.I_FORWARD_TSN

    def encode(self) -> bytes:
        body = _U32.pack(self.new_cumulative_tsn) + b"".join(
            struct.pack("!HHI", sid, 1 if unordered else 0, mid)
            for sid, unordered, mid in self.streams
        )
        return self._wrap(self.type, 0, body)

    @classmethod
    def decode(cls, flags: int, body: bytes) -> IForwardTsnChunk:
        if len(body) < 4 or (len(body) - 4) % 8:
            raise ParseError("I-FORWARD-TSN chunk has a bad length")
        tsn = _U32.unpack_from(body)[0]
        streams = []
        for i in range(4, len(body), 8):
            sid, uflags, mid = struct.unpack_from("!HHI", body, i)
            streams.append((sid, bool(uflags & 1), mid))
        return cls(tsn, streams)


# --- RE-CONFIG (RFC 6525) --------------------------------------------------------------------


class ReconfigParam:
    __slots__ = ()
    ptype: int = -1

    def encode_value(self) -> bytes:
        raise NotImplementedError

    def to_param(self) -> Param:
        return Param(self.ptype, self.encode_value())


def _u16_list(data: bytes, pos: int) -> list[int]:
    return [struct.unpack_from("!H", data, i)[0] for i in range(pos, len(data) - 1, 2)]


def _u16_bytes(ids: list[int]) -> bytes:
    return struct.pack(f"!{len(ids)}H", *ids)


@dataclass(slots=True)
class OutgoingSsnResetRequest(ReconfigParam):
    """RFC 6525 section 4.1."""

    request_seq: int
    response_seq: int
    last_tsn: int
    streams: list[int] = field(default_factory=list)
    ptype = ParamType.OUTGOING_SSN_RESET

    def encode_value(self) -> bytes:
        return struct.pack("!III", self.request_seq, self.response_seq, self.last_tsn) + _u16_bytes(
            self.streams
        )

    @classmethod
    def decode(cls, value: bytes) -> OutgoingSsnResetRequest:
        if len(value) < 12 or len(value) % 2:
            raise ParseError("Outgoing SSN Reset Request has a bad length")
        req, resp, last = struct.unpack_from("!III", value)
        return cls(req, resp, last, _u16_list(value, 12))


@dataclass(slots=True)
class IncomingSsnResetRequest(ReconfigParam):
    """RFC 6525 section 4.2."""

    request_seq: int
    streams: list[int] = field(default_factory=list)
    ptype = ParamType.INCOMING_SSN_RESET

    def encode_value(self) -> bytes:
        return _U32.pack(self.request_seq) + _u16_bytes(self.streams)

    @classmethod
    def decode(cls, value: bytes) -> IncomingSsnResetRequest:
        if len(value) < 4 or len(value) % 2:
            raise ParseError("Incoming SSN Reset Request has a bad length")
        return cls(_U32.unpack_from(value)[0], _u16_list(value, 4))


@dataclass(slots=True)
class SsnTsnResetRequest(ReconfigParam):
    """RFC 6525 section 4.3."""

    request_seq: int
    ptype = ParamType.SSN_TSN_RESET

    def encode_value(self) -> bytes:
        return _U32.pack(self.request_seq)

    @classmethod
    def decode(cls, value: bytes) -> SsnTsnResetRequest:
        if len(value) != 4:
            raise ParseError("SSN/TSN Reset Request must be 8 bytes")
        return cls(_U32.unpack_from(value)[0])


@dataclass(slots=True)
class AddStreamsRequest(ReconfigParam):
    """RFC 6525 sections 4.5 (outgoing) and 4.6 (incoming)."""

    request_seq: int
    new_streams: int
    incoming: bool = False

    @property
    def ptype(self) -> int:  # type: ignore[override]
        return ParamType.ADD_INCOMING_STREAMS if self.incoming else ParamType.ADD_OUTGOING_STREAMS

    def encode_value(self) -> bytes:
        return struct.pack("!IHH", self.request_seq, self.new_streams, 0)

    @classmethod
    def decode(cls, value: bytes, incoming: bool) -> AddStreamsRequest:
        if len(value) != 8:
            raise ParseError("Add Streams Request must be 12 bytes")
        req, n, _ = struct.unpack_from("!IHH", value)
        return cls(req, n, incoming)


class ReconfigResult(IntEnum):
    """RFC 6525 section 4.4 result codes."""

    SUCCESS_NOTHING_TO_DO = 0
    SUCCESS_PERFORMED = 1
    DENIED = 2
    ERROR_WRONG_SSN = 3
    ERROR_REQUEST_IN_PROGRESS = 4
    ERROR_BAD_SEQUENCE = 5
    IN_PROGRESS = 6


@dataclass(slots=True)
class ReconfigResponse(ReconfigParam):
    """RFC 6525 section 4.4."""

    response_seq: int
    result: int
    sender_next_tsn: int | None = None
    receiver_next_tsn: int | None = None
    ptype = ParamType.RECONFIG_RESPONSE

    def encode_value(self) -> bytes:
        out = struct.pack("!II", self.response_seq, self.result)
        if self.sender_next_tsn is not None:
            out += struct.pack("!II", self.sender_next_tsn, self.receiver_next_tsn or 0)
        return out

    @classmethod
    def decode(cls, value: bytes) -> ReconfigResponse:
        if len(value) == 8:
            return cls(*struct.unpack_from("!II", value))
        if len(value) == 16:
            return cls(*struct.unpack_from("!IIII", value))
        raise ParseError("Re-configuration Response has a bad length")


_RECONFIG_DECODERS: dict[int, Callable[[bytes], ReconfigParam]] = {
    ParamType.OUTGOING_SSN_RESET: OutgoingSsnResetRequest.decode,
    ParamType.INCOMING_SSN_RESET: IncomingSsnResetRequest.decode,
    ParamType.SSN_TSN_RESET: SsnTsnResetRequest.decode,
    ParamType.RECONFIG_RESPONSE: ReconfigResponse.decode,
}


@dataclass(slots=True)
class ReconfigChunk(Chunk):
    """RFC 6525 section 3.1: one or two re-configuration parameters."""

    params: list[ReconfigParam] = field(default_factory=list)
    type = ChunkType.RECONFIG

    def encode(self) -> bytes:
        return self._wrap(self.type, 0, encode_params([p.to_param() for p in self.params]))

    @classmethod
    def decode(cls, flags: int, body: bytes) -> ReconfigChunk:
        out: list[ReconfigParam] = []
        for p in decode_params(body):
            if p.type in _RECONFIG_DECODERS:
                out.append(_RECONFIG_DECODERS[p.type](p.value))
            elif p.type in (ParamType.ADD_OUTGOING_STREAMS, ParamType.ADD_INCOMING_STREAMS):
                out.append(
                    AddStreamsRequest.decode(p.value, p.type == ParamType.ADD_INCOMING_STREAMS)
                )
            else:
                raise ParseError(f"unknown RE-CONFIG parameter type {p.type}")
        if not 1 <= len(out) <= 2:
            raise ParseError(f"RE-CONFIG chunk carries {len(out)} parameters, expected 1 or 2")
        return cls(out)


@dataclass(slots=True)
class UnknownChunk(Chunk):
    """A chunk type this codec does not decode."""

    chunk_type: int
    flags: int
    body: bytes

    def encode(self) -> bytes:
        return self._wrap(self.chunk_type, self.flags, self.body)


_DECODERS: dict[int, type[Chunk]] = {
    ChunkType.DATA: DataChunk,
    ChunkType.INIT: InitChunk,
    ChunkType.INIT_ACK: InitAckChunk,
    ChunkType.SACK: SackChunk,
    ChunkType.HEARTBEAT: HeartbeatChunk,
    ChunkType.HEARTBEAT_ACK: HeartbeatAckChunk,
    ChunkType.ABORT: AbortChunk,
    ChunkType.SHUTDOWN: ShutdownChunk,
    ChunkType.SHUTDOWN_ACK: ShutdownAckChunk,
    ChunkType.ERROR: ErrorChunk,
    ChunkType.COOKIE_ECHO: CookieEchoChunk,
    ChunkType.COOKIE_ACK: CookieAckChunk,
    ChunkType.SHUTDOWN_COMPLETE: ShutdownCompleteChunk,
    ChunkType.FORWARD_TSN: ForwardTsnChunk,
    ChunkType.RECONFIG: ReconfigChunk,
    ChunkType.I_DATA: IDataChunk,
    ChunkType.I_FORWARD_TSN: IForwardTsnChunk,
}


def decode_chunk(ctype: int, flags: int, body: bytes) -> Chunk:
    """Decode one chunk body (without its 4-byte header); raises ParseError only."""
    cls = _DECODERS.get(ctype)
    if cls is None:
        return UnknownChunk(ctype, flags, bytes(body))
    try:
        return cls.decode(flags, body)  # type: ignore[attr-defined, no-any-return]
    except ParseError:
        raise
    except (struct.error, ValueError, IndexError) as exc:  # defensive: never leak others
        raise ParseError(f"malformed {ChunkType(ctype).name} chunk: {exc}") from exc


def iter_chunks(data: bytes, start: int = 12) -> list[tuple[int, int, int, int]]:
    """Split a packet into ``(type, flags, body_start, body_end)`` tuples without copying."""
    out: list[tuple[int, int, int, int]] = []
    pos = start
    n = len(data)
    unpack = _CHUNK_HDR.unpack_from
    while pos + 4 <= n:
        ctype, flags, length = unpack(data, pos)
        if length < 4 or pos + length > n:
            raise ParseError(f"chunk type {ctype} length {length} overruns the packet")
        out.append((ctype, flags, pos + 4, pos + length))
        pos += (length + 3) & ~3
    if pos < n:
        raise ParseError(f"{n - pos} trailing bytes after the last chunk")
    return out


@dataclass(slots=True)
class Packet:
    """A decoded SCTP packet (RFC 9260 section 3.1)."""

    source_port: int
    destination_port: int
    verification_tag: int
    chunks: list[Chunk] = field(default_factory=list)

    def encode(self) -> bytes:
        header = _HDR.pack(self.source_port, self.destination_port, self.verification_tag)
        return finish_packet(header, b"".join(c.encode() for c in self.chunks))


def parse_header(data: bytes) -> tuple[int, int, int]:
    if len(data) < 12:
        raise ParseError(f"SCTP packet of {len(data)} bytes is shorter than its header")
    src, dst, tag = _HDR.unpack_from(data)
    return src, dst, tag


def parse_packet(data: bytes, verify: bool = True) -> Packet:
    """Decode a whole packet; with ``verify`` a bad CRC32c raises ParseError."""
    data = bytes(data)
    src, dst, tag = parse_header(data)
    if verify and not verify_checksum(data):
        raise ParseError("bad CRC32c checksum")
    chunks = [decode_chunk(t, f, data[s:e]) for t, f, s, e in iter_chunks(data)]
    if not chunks:
        raise ParseError("SCTP packet without chunks")
    return Packet(src, dst, tag, chunks)
