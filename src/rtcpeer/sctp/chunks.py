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
from dataclasses import dataclass, field

from rtcpeer.sctp._wire import (
    _CHUNK_HDR,
    _DATA_HDR,
    _HDR,
    _IDATA_HDR,
    _SACK,
    _U32,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
    FLAG_T,
    FLAG_UNORDERED,
    CauseCode,
    Chunk,
    ChunkType,
    Param,
    ParamType,
    ParseError,
    _pad,
    _U16x2,
    checksum,
    crc32c,
    decode_params,
    encode_params,
    finish_packet,
    verify_checksum,
)
from rtcpeer.sctp.chunks_control import (
    AbortChunk,
    AddStreamsRequest,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IForwardTsnChunk,
    IncomingSsnResetRequest,
    InitAckChunk,
    InitChunk,
    OutgoingSsnResetRequest,
    ReconfigChunk,
    ReconfigParam,
    ReconfigResponse,
    ReconfigResult,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    SsnTsnResetRequest,
    describe_causes,
)

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
    "CauseCode",
    "ParamType",
    "ReconfigResult",
    "FLAG_BEGIN",
    "FLAG_END",
    "FLAG_IMMEDIATE",
    "FLAG_T",
    "FLAG_UNORDERED",
    "checksum",
    "decode_chunk",
    "describe_causes",
    "finish_packet",
    "iter_chunks",
    "parse_header",
]


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


# Private helpers that lived here before the split, kept importable from this module.
from rtcpeer.sctp._wire import _CRC as _CRC  # noqa: E402
from rtcpeer.sctp._wire import _INIT as _INIT  # noqa: E402
from rtcpeer.sctp._wire import _ZERO4 as _ZERO4  # noqa: E402
from rtcpeer.sctp.chunks_control import _RECONFIG_DECODERS as _RECONFIG_DECODERS  # noqa: E402
from rtcpeer.sctp.chunks_control import _EmptyChunk as _EmptyChunk  # noqa: E402
from rtcpeer.sctp.chunks_control import _u16_bytes as _u16_bytes  # noqa: E402
from rtcpeer.sctp.chunks_control import _u16_list as _u16_list  # noqa: E402
