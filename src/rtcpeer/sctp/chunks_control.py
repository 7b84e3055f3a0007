"""SCTP control chunks: INIT / INIT ACK (with their parameters), HEARTBEAT, ABORT / ERROR
(error causes), SHUTDOWN*, COOKIE ECHO / COOKIE ACK, FORWARD TSN / I-FORWARD-TSN and RE-CONFIG
(RFC 6525 parameters). See :mod:`rtcpeer.sctp.chunks` for the references; that module
re-exports every name defined here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from rtcpeer.sctp._wire import (
    _INIT,
    _U32,
    FLAG_T,
    CauseCode,
    Chunk,
    ChunkType,
    Param,
    ParamType,
    ParseError,
    _U16x2,
    decode_params,
    encode_params,
)


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
