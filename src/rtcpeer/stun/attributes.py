"""STUN attribute types and their value codecs (RFC 8489 section 14, RFC 8656 section 18,
RFC 8445 section 16.1, RFC 6062 section 6.2, RFC 5780 section 7, RFC 8016).

Each known attribute type has a decoder (raw value bytes -> typed Python value) and an encoder
(typed value -> raw value bytes, without the TLV header or padding). Decoders raise
:class:`ParseError` on malformed values; :meth:`StunMessage.get` turns that into ``None`` so a
malformed attribute never raises into a caller. Unknown types are kept as raw ``bytes``.

Value types:

* addresses (MAPPED-, XOR-MAPPED-, XOR-PEER-, XOR-RELAYED-ADDRESS, ALTERNATE-SERVER,
  RESPONSE-ORIGIN, OTHER-ADDRESS): ``tuple[str, int]`` (IPv4 dotted or IPv6 compressed text)
* USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN: ``str`` (UTF-8)
* PRIORITY, LIFETIME, CONNECTION-ID, FINGERPRINT, CACHE-TIMEOUT: ``int`` (32 bits)
* ICE-CONTROLLING, ICE-CONTROLLED: ``int`` (64-bit tie-breaker)
* CHANNEL-NUMBER, REQUESTED-TRANSPORT (protocol number), REQUESTED-ADDRESS-FAMILY,
  ADDITIONAL-ADDRESS-FAMILY (1 = IPv4, 2 = IPv6): ``int``
* USE-CANDIDATE, DONT-FRAGMENT: ``True`` (empty value)
* EVEN-PORT: ``bool`` (the R bit: reserve the next port too)
* ERROR-CODE: ``tuple[int, str]`` (code, reason); ``add`` also accepts a bare ``int`` code
* ADDRESS-ERROR-CODE: ``tuple[int, int, str]`` (family, code, reason)
* UNKNOWN-ATTRIBUTES: ``tuple[int, ...]``
* PASSWORD-ALGORITHMS: ``tuple[tuple[int, bytes], ...]``; PASSWORD-ALGORITHM:
  ``tuple[int, bytes]`` (algorithm number, parameters)
* DATA, USERHASH, MESSAGE-INTEGRITY(-SHA256), RESERVATION-TOKEN, unknown: ``bytes``
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from rtcpeer.stun.errors import ParseError

MAGIC_COOKIE = 0x2112A442
_COOKIE_BYTES = struct.pack("!I", MAGIC_COOKIE)


class Attr(IntEnum):
    MAPPED_ADDRESS = 0x0001
    RESPONSE_ADDRESS = 0x0002
    CHANGE_REQUEST = 0x0003
    SOURCE_ADDRESS = 0x0004
    CHANGED_ADDRESS = 0x0005
    USERNAME = 0x0006
    PASSWORD = 0x0007
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REFLECTED_FROM = 0x000B
    CHANNEL_NUMBER = 0x000C
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    REALM = 0x0014
    NONCE = 0x0015
    XOR_RELAYED_ADDRESS = 0x0016
    REQUESTED_ADDRESS_FAMILY = 0x0017
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    RESERVATION_TOKEN = 0x0022
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    PADDING = 0x0026
    RESPONSE_PORT = 0x0027
    CONNECTION_ID = 0x002A
    ADDITIONAL_ADDRESS_FAMILY = 0x8000
    ADDRESS_ERROR_CODE = 0x8001
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    ICMP = 0x8004
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    TRANSACTION_TRANSMIT_COUNTER = 0x8025
    CACHE_TIMEOUT = 0x8027
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A
    RESPONSE_ORIGIN = 0x802B
    OTHER_ADDRESS = 0x802C
    # Chromium's private attributes (seen in every browser Binding request).
    GOOG_NETWORK_INFO = 0xC057
    GOOG_LAST_ICE_CHECK_RECEIVED = 0xC058
    GOOG_MISC_INFO = 0xC059


class PasswordAlgorithm(IntEnum):
    """RFC 8489 section 18.5."""

    MD5 = 0x0001
    SHA256 = 0x0002


class AddressFamily(IntEnum):
    IPV4 = 0x01
    IPV6 = 0x02


def is_comprehension_required(attr_type: int) -> bool:
    """RFC 8489 section 14: types 0x0000-0x7FFF must be understood by the receiver."""
    return attr_type < 0x8000


Decoder = Callable[[bytes, bytes], Any]
Encoder = Callable[[Any, bytes], bytes]

_U8 = struct.Struct("!B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_ADDR_HDR = struct.Struct("!xBH")


# --------------------------------------------------------------------------- addresses


def _decode_address(raw: bytes, tid: bytes) -> tuple[str, int]:
    n = len(raw)
    if n < 4:
        raise ParseError("address attribute too short")
    family, port = _ADDR_HDR.unpack_from(raw, 0)
    if family == 1 and n == 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    if family == 2 and n == 20:
        return socket.inet_ntop(socket.AF_INET6, raw[4:20]), port
    raise ParseError(f"bad address family {family} / length {n}")


def _encode_address(value: Any, tid: bytes) -> bytes:
    host, port = value
    host = str(host)
    if ":" in host:
        packed = socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return _ADDR_HDR.pack(2, int(port)) + packed
    return _ADDR_HDR.pack(1, int(port)) + socket.inet_pton(socket.AF_INET, host)


def _xor(data: bytes, key: bytes) -> bytes:
    n = len(data)
    return (int.from_bytes(data, "big") ^ int.from_bytes(key[:n], "big")).to_bytes(n, "big")


def _decode_xor_address(raw: bytes, tid: bytes) -> tuple[str, int]:
    n = len(raw)
    if n < 4:
        raise ParseError("address attribute too short")
    family, xport = _ADDR_HDR.unpack_from(raw, 0)
    port = xport ^ (MAGIC_COOKIE >> 16)
    if family == 1 and n == 8:
        return socket.inet_ntop(socket.AF_INET, _xor(raw[4:8], _COOKIE_BYTES)), port
    if family == 2 and n == 20:
        return socket.inet_ntop(socket.AF_INET6, _xor(raw[4:20], _COOKIE_BYTES + tid)), port
    raise ParseError(f"bad address family {family} / length {n}")


def _encode_xor_address(value: Any, tid: bytes) -> bytes:
    host, port = value
    host = str(host)
    xport = int(port) ^ (MAGIC_COOKIE >> 16)
    if ":" in host:
        packed = socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return _ADDR_HDR.pack(2, xport) + _xor(packed, _COOKIE_BYTES + tid)
    return _ADDR_HDR.pack(1, xport) + _xor(socket.inet_pton(socket.AF_INET, host), _COOKIE_BYTES)


# --------------------------------------------------------------------------- scalars


def _decode_str(raw: bytes, tid: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("attribute is not UTF-8") from exc


def _encode_str(value: Any, tid: bytes) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def _decode_bytes(raw: bytes, tid: bytes) -> bytes:
    return raw


def _encode_bytes(value: Any, tid: bytes) -> bytes:
    return bytes(value)


def _fixed_bytes(size: int) -> tuple[Decoder, Encoder]:
    def decode(raw: bytes, tid: bytes) -> bytes:
        if len(raw) != size:
            raise ParseError(f"attribute must be {size} bytes")
        return raw

    def encode(value: Any, tid: bytes) -> bytes:
        data = bytes(value)
        if len(data) != size:
            raise ValueError(f"attribute must be {size} bytes")
        return data

    return decode, encode


def _struct_int(st: struct.Struct) -> tuple[Decoder, Encoder]:
    size = st.size

    def decode(raw: bytes, tid: bytes) -> int:
        if len(raw) != size:
            raise ParseError(f"attribute must be {size} bytes")
        value: int = st.unpack(raw)[0]
        return value

    def encode(value: Any, tid: bytes) -> bytes:
        return st.pack(int(value))

    return decode, encode


def _decode_flag(raw: bytes, tid: bytes) -> bool:
    if raw:
        raise ParseError("flag attribute must be empty")
    return True


def _encode_flag(value: Any, tid: bytes) -> bytes:
    return b""


def _decode_u8_rffu(raw: bytes, tid: bytes) -> int:
    # REQUESTED-TRANSPORT, REQUESTED-/ADDITIONAL-ADDRESS-FAMILY: 1 byte value + 3 RFFU bytes.
    if len(raw) != 4:
        raise ParseError("attribute must be 4 bytes")
    return raw[0]


def _encode_u8_rffu(value: Any, tid: bytes) -> bytes:
    return bytes((int(value), 0, 0, 0))


def _decode_u16_rffu(raw: bytes, tid: bytes) -> int:
    if len(raw) != 4:
        raise ParseError("attribute must be 4 bytes")
    value: int = _U16.unpack_from(raw, 0)[0]
    return value


def _encode_u16_rffu(value: Any, tid: bytes) -> bytes:
    return _U16.pack(int(value)) + b"\x00\x00"


def _decode_even_port(raw: bytes, tid: bytes) -> bool:
    if len(raw) != 1:
        raise ParseError("EVEN-PORT must be 1 byte")
    return bool(raw[0] & 0x80)


def _encode_even_port(value: Any, tid: bytes) -> bytes:
    return b"\x80" if value else b"\x00"


# --------------------------------------------------------------------------- errors and lists

REASONS: dict[int, str] = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthenticated",
    403: "Forbidden",
    405: "Mobility Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    446: "Connection Already Exists",
    447: "Connection Timeout or Failure",
    486: "Allocation Quota Reached",
    487: "Role Conflict",
    500: "Server Error",
    508: "Insufficient Capacity",
}


def _decode_error_code(raw: bytes, tid: bytes) -> tuple[int, str]:
    if len(raw) < 4:
        raise ParseError("ERROR-CODE too short")
    cls = raw[2] & 0x07
    number = raw[3]
    if not 3 <= cls <= 6 or number > 99:
        raise ParseError("ERROR-CODE out of range")
    return cls * 100 + number, _decode_str(raw[4:], tid)


def _encode_error_code(value: Any, tid: bytes) -> bytes:
    if isinstance(value, int):
        code, reason = value, REASONS.get(value, "")
    else:
        code, reason = value
    code = int(code)
    return bytes((0, 0, code // 100, code % 100)) + str(reason).encode("utf-8")


def _decode_address_error_code(raw: bytes, tid: bytes) -> tuple[int, int, str]:
    if len(raw) < 4:
        raise ParseError("ADDRESS-ERROR-CODE too short")
    cls = raw[2] & 0x07
    number = raw[3]
    if not 3 <= cls <= 6 or number > 99:
        raise ParseError("ADDRESS-ERROR-CODE out of range")
    return raw[0], cls * 100 + number, _decode_str(raw[4:], tid)


def _encode_address_error_code(value: Any, tid: bytes) -> bytes:
    family, code, reason = value
    code = int(code)
    return bytes((int(family), 0, code // 100, code % 100)) + str(reason).encode("utf-8")


def _decode_unknown_attributes(raw: bytes, tid: bytes) -> tuple[int, ...]:
    if len(raw) % 2:
        raise ParseError("UNKNOWN-ATTRIBUTES must be a list of 16-bit types")
    return struct.unpack(f"!{len(raw) // 2}H", raw)


def _encode_unknown_attributes(value: Any, tid: bytes) -> bytes:
    types = [int(v) for v in value]
    return struct.pack(f"!{len(types)}H", *types)


def _decode_password_algorithm(raw: bytes, tid: bytes) -> tuple[int, bytes]:
    if len(raw) < 4:
        raise ParseError("PASSWORD-ALGORITHM too short")
    alg, plen = struct.unpack_from("!HH", raw, 0)
    if 4 + plen != len(raw):
        raise ParseError("PASSWORD-ALGORITHM parameters length mismatch")
    return alg, raw[4:]


def _encode_password_algorithm(value: Any, tid: bytes) -> bytes:
    if isinstance(value, int):
        return struct.pack("!HH", value, 0)
    alg, params = value
    params = bytes(params)
    return struct.pack("!HH", int(alg), len(params)) + params


def _decode_password_algorithms(raw: bytes, tid: bytes) -> tuple[tuple[int, bytes], ...]:
    out: list[tuple[int, bytes]] = []
    off = 0
    n = len(raw)
    while off < n:
        if off + 4 > n:
            raise ParseError("PASSWORD-ALGORITHMS truncated")
        alg, plen = struct.unpack_from("!HH", raw, off)
        end = off + 4 + plen
        if end > n:
            raise ParseError("PASSWORD-ALGORITHMS truncated")
        out.append((alg, raw[off + 4 : end]))
        off = end + (-plen & 3)
    if off != n:
        raise ParseError("PASSWORD-ALGORITHMS padding overruns")
    return tuple(out)


def _encode_password_algorithms(value: Any, tid: bytes) -> bytes:
    parts: list[bytes] = []
    for item in value:
        if isinstance(item, int):
            alg, params = item, b""
        else:
            alg, params = item[0], bytes(item[1])
        parts.append(
            struct.pack("!HH", int(alg), len(params)) + params + b"\x00" * (-len(params) & 3)
        )
    return b"".join(parts)


# --------------------------------------------------------------------------- the table

CODECS: dict[int, tuple[Decoder, Encoder]] = {}

for _a in (
    Attr.MAPPED_ADDRESS,
    Attr.ALTERNATE_SERVER,
    Attr.RESPONSE_ORIGIN,
    Attr.OTHER_ADDRESS,
    Attr.RESPONSE_ADDRESS,
    Attr.SOURCE_ADDRESS,
    Attr.CHANGED_ADDRESS,
    Attr.REFLECTED_FROM,
):
    CODECS[_a] = (_decode_address, _encode_address)
for _a in (Attr.XOR_MAPPED_ADDRESS, Attr.XOR_PEER_ADDRESS, Attr.XOR_RELAYED_ADDRESS):
    CODECS[_a] = (_decode_xor_address, _encode_xor_address)
for _a in (Attr.USERNAME, Attr.REALM, Attr.NONCE, Attr.SOFTWARE, Attr.ALTERNATE_DOMAIN):
    CODECS[_a] = (_decode_str, _encode_str)
for _a in (
    Attr.PRIORITY,
    Attr.LIFETIME,
    Attr.CONNECTION_ID,
    Attr.FINGERPRINT,
    Attr.CACHE_TIMEOUT,
    Attr.CHANGE_REQUEST,
):
    CODECS[_a] = _struct_int(_U32)
for _a in (Attr.ICE_CONTROLLED, Attr.ICE_CONTROLLING):
    CODECS[_a] = _struct_int(_U64)
for _a in (Attr.USE_CANDIDATE, Attr.DONT_FRAGMENT):
    CODECS[_a] = (_decode_flag, _encode_flag)
for _a in (Attr.REQUESTED_TRANSPORT, Attr.REQUESTED_ADDRESS_FAMILY, Attr.ADDITIONAL_ADDRESS_FAMILY):
    CODECS[_a] = (_decode_u8_rffu, _encode_u8_rffu)
for _a in (Attr.DATA, Attr.MESSAGE_INTEGRITY_SHA256, Attr.PADDING):
    CODECS[_a] = (_decode_bytes, _encode_bytes)
CODECS[Attr.CHANNEL_NUMBER] = (_decode_u16_rffu, _encode_u16_rffu)
CODECS[Attr.RESPONSE_PORT] = (_decode_u16_rffu, _encode_u16_rffu)
CODECS[Attr.EVEN_PORT] = (_decode_even_port, _encode_even_port)
CODECS[Attr.ERROR_CODE] = (_decode_error_code, _encode_error_code)
CODECS[Attr.ADDRESS_ERROR_CODE] = (_decode_address_error_code, _encode_address_error_code)
CODECS[Attr.UNKNOWN_ATTRIBUTES] = (_decode_unknown_attributes, _encode_unknown_attributes)
CODECS[Attr.PASSWORD_ALGORITHM] = (_decode_password_algorithm, _encode_password_algorithm)
CODECS[Attr.PASSWORD_ALGORITHMS] = (_decode_password_algorithms, _encode_password_algorithms)
CODECS[Attr.MESSAGE_INTEGRITY] = _fixed_bytes(20)
CODECS[Attr.USERHASH] = _fixed_bytes(32)
CODECS[Attr.RESERVATION_TOKEN] = _fixed_bytes(8)
CODECS[Attr.TRANSACTION_TRANSMIT_COUNTER] = _struct_int(_U32)

ATTR_BY_VALUE: dict[int, Attr] = {a.value: a for a in Attr}


def decode_value(attr_type: int, raw: bytes, tid: bytes) -> Any:
    """Decode one attribute value; raises ParseError when malformed."""
    codec = CODECS.get(attr_type)
    if codec is None:
        return raw
    return codec[0](raw, tid)


def encode_value(attr_type: int, value: Any, tid: bytes) -> bytes:
    """Encode one attribute value (no TLV header, no padding)."""
    codec = CODECS.get(attr_type)
    if codec is None:
        return bytes(value)
    return codec[1](value, tid)
