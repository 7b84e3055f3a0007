"""SCTP wire-format basics shared by :mod:`rtcpeer.sctp.chunks` and
:mod:`rtcpeer.sctp.chunks_control`: the ParseError type, chunk/parameter/cause type codes,
flags, the CRC32c checksum (RFC 9260 Appendix A), TLV parameters (RFC 9260 section 3.2.1) and
the :class:`Chunk` base class.

Import these names from :mod:`rtcpeer.sctp.chunks`, which re-exports all of them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from google_crc32c import _crc32c as _crc


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


# --- chunk base ------------------------------------------------------------------------------


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
