"""STUN message codec (RFC 8489 sections 5, 6, 7, 9, 14; RFC 5769 test vectors).

Parsing is lazy: :func:`parse` checks the header and walks the attribute TLVs once, building
an index of ``(type, value offset, value length)`` over the received bytes; a value is decoded
only when :meth:`StunMessage.get` asks for it. MESSAGE-INTEGRITY / -SHA256 are checked over
the bytes as received (with the header length adjusted as section 14.5 says); attributes after
MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, and nothing
may follow FINGERPRINT, which is verified during parsing when present.

Building: ``StunMessage(method, message_class, transaction_id)`` then ``add(Attr.X, value)``
(values are encoded immediately into one growing buffer); ``encode(integrity_key=None,
fingerprint=False, integrity="sha1")`` appends MESSAGE-INTEGRITY (and/or -SHA256) and
FINGERPRINT and returns the datagram.

Credentials (section 9): short-term key = the password bytes (ICE: the remote ice-pwd);
long-term key = :func:`long_term_key` (MD5 or SHA-256 of ``user:realm:password`` after
OpaqueString preparation).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import unicodedata
import zlib
from enum import IntEnum
from typing import Any, Literal, cast, overload

from rtcpeer.stun.attributes import (
    ATTR_BY_VALUE,
    CODECS,
    MAGIC_COOKIE,
    Attr,
    PasswordAlgorithm,
    decode_value,
)
from rtcpeer.stun.errors import ParseError

__all__ = [
    "FINGERPRINT_XOR",
    "MessageClass",
    "Method",
    "StunMessage",
    "is_stun",
    "long_term_key",
    "new_transaction_id",
    "parse",
    "userhash",
]

FINGERPRINT_XOR = 0x5354554E
HEADER_SIZE = 20

_HEADER = struct.Struct("!HHI")
_TLV = struct.Struct("!HH")
_FULL_HEADER = struct.Struct("!HHI12s")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_COOKIE_BYTES = _U32.pack(MAGIC_COOKIE)

_MI = Attr.MESSAGE_INTEGRITY.value
_MI256 = Attr.MESSAGE_INTEGRITY_SHA256.value
_FP = Attr.FINGERPRINT.value
_SPECIAL = frozenset((_MI, _MI256, _FP))
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_MI_TLV = _TLV.pack(_MI, 20)
_FP_TLV = _TLV.pack(_FP, 4)


class Method(IntEnum):
    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009
    CONNECT = 0x00A
    CONNECTION_BIND = 0x00B
    CONNECTION_ATTEMPT = 0x00C
    GOOG_PING = 0x080


class MessageClass(IntEnum):
    REQUEST = 0
    INDICATION = 1
    SUCCESS = 2
    ERROR = 3


_METHOD_BY_VALUE: dict[int, Method] = {m.value: m for m in Method}
_CLASSES = (
    MessageClass.REQUEST,
    MessageClass.INDICATION,
    MessageClass.SUCCESS,
    MessageClass.ERROR,
)


_TYPE_CACHE: dict[int, tuple[int, MessageClass]] = {}

# Keyed HMAC-SHA1 objects by key: copying one is ~25% cheaper than hmac.digest() on
# OpenSSL 3, and an ICE agent or TURN client signs and checks with a handful of keys.
_HMAC_SHA1: dict[bytes, hmac.HMAC] = {}


def _hmac_sha1(key: bytes, data: bytes | bytearray) -> bytes:
    if type(key) is not bytes:
        key = bytes(key)  # bytearray/memoryview keys are not hashable
    base = _HMAC_SHA1.get(key)
    if base is None:
        if len(_HMAC_SHA1) >= 256:
            _HMAC_SHA1.clear()
        base = _HMAC_SHA1[key] = hmac.new(key, digestmod="sha1")
    h = base.copy()
    h.update(data)
    return h.digest()


def _message_type(method: int, message_class: int) -> int:
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 1) << 4)
        | ((message_class & 2) << 7)
    )


def _split_type(mtype: int) -> tuple[int, MessageClass]:
    method = (mtype & 0x000F) | ((mtype >> 1) & 0x0070) | ((mtype >> 2) & 0x0F80)
    cls = _CLASSES[((mtype >> 4) & 1) | ((mtype >> 7) & 2)]
    return _METHOD_BY_VALUE.get(method, method), cls


def new_transaction_id() -> bytes:
    """96 random bits (RFC 8489 section 5)."""
    return os.urandom(12)


def is_stun(data: bytes | bytearray | memoryview) -> bool:
    """Cheap check: top two bits zero, magic cookie, length a multiple of 4 that fits."""
    if len(data) < HEADER_SIZE or data[0] & 0xC0:
        return False
    length = (data[2] << 8) | data[3]
    return bool(not length & 3 and length + HEADER_SIZE == len(data) and data[4:8] == _COOKIE_BYTES)


# --------------------------------------------------------------------------- credentials

# SASLprep-lite (RFC 4013 profile of stringprep, as RFC 5769's long-term vector expects):
# non-ASCII spaces map to U+0020, "commonly mapped to nothing" characters are removed, then
# NFKC. Prohibited-output and bidi checks are left out: servers hold the real credentials.
_SPACES = (
    0x00A0,
    0x1680,
    0x2000,
    0x2001,
    0x2002,
    0x2003,
    0x2004,
    0x2005,
    0x2006,
    0x2007,
    0x2008,
    0x2009,
    0x200A,
    0x200B,
    0x202F,
    0x205F,
    0x3000,
)
_NOTHING = (
    0x00AD,
    0x034F,
    0x1806,
    0x180B,
    0x180C,
    0x180D,
    0x200C,
    0x200D,
    0x2060,
    0xFE00,
    0xFE01,
    0xFE02,
    0xFE03,
    0xFE04,
    0xFE05,
    0xFE06,
    0xFE07,
    0xFE08,
    0xFE09,
    0xFE0A,
    0xFE0B,
    0xFE0C,
    0xFE0D,
    0xFE0E,
    0xFE0F,
    0xFEFF,
)
_SASL_MAP: dict[int, str | None] = {**dict.fromkeys(_SPACES, " "), **dict.fromkeys(_NOTHING)}


def saslprep(value: str) -> str:
    """SASLprep-lite: map spaces, drop mapped-to-nothing characters, NFKC."""
    if value.isascii():
        return value
    return unicodedata.normalize("NFKC", value.translate(_SASL_MAP))


def long_term_key(
    username: str,
    realm: str,
    password: str,
    algorithm: int = PasswordAlgorithm.MD5,
) -> bytes:
    """RFC 8489 section 9.2.2: MD5 (default) or SHA-256 of ``username:realm:password``."""
    material = f"{saslprep(username)}:{saslprep(realm)}:{saslprep(password)}"
    data = material.encode("utf-8")
    if algorithm == PasswordAlgorithm.SHA256:
        return hashlib.sha256(data).digest()
    return hashlib.md5(data, usedforsecurity=False).digest()


def userhash(username: str, realm: str) -> bytes:
    """RFC 8489 section 14.4: SHA-256 of ``username:realm``."""
    return hashlib.sha256(f"{saslprep(username)}:{saslprep(realm)}".encode()).digest()


# --------------------------------------------------------------------------- the message

Address = tuple[str, int]


class StunMessage:
    """One STUN message: header fields plus an index over TLV-encoded attributes."""

    __slots__ = (
        "method",
        "message_class",
        "transaction_id",
        "_buf",
        "_index",
        "_own",
        "_rx",
        "_mi",
        "_mi256",
    )

    method: int
    message_class: MessageClass
    transaction_id: bytes

    def __init__(
        self,
        method: int,
        message_class: int,
        transaction_id: bytes | bytearray | memoryview | None = None,
        attributes: list[tuple[int, Any]] | None = None,
    ) -> None:
        self.method = _METHOD_BY_VALUE.get(int(method), int(method))
        self.message_class = _CLASSES[int(message_class) & 3]
        tid = new_transaction_id() if transaction_id is None else bytes(transaction_id)
        if len(tid) != 12:
            raise ValueError("transaction id must be 12 bytes")
        self.transaction_id = tid
        # Our own buffer starts with 20 placeholder header bytes so offsets match a message.
        self._buf: bytes | bytearray | memoryview = bytearray(HEADER_SIZE)
        self._index: list[tuple[int, int, int]] = []
        self._own = True
        self._rx: bytes | bytearray | memoryview | None = None
        self._mi = -1
        self._mi256 = -1
        if attributes:
            for attr_type, value in attributes:
                self.add(attr_type, value)

    # ------------------------------------------------------------------ reading

    def __repr__(self) -> str:
        method = self.method.name if isinstance(self.method, Method) else hex(self.method)
        names = [ATTR_BY_VALUE[t].name if t in ATTR_BY_VALUE else hex(t) for t, _, _ in self._index]
        return (
            f"StunMessage({method}, {self.message_class.name}, "
            f"tid={self.transaction_id.hex()}, attrs={names})"
        )

    @property
    def attribute_types(self) -> list[int]:
        """Attribute types in wire order (attributes ignored after integrity are left out)."""
        return [t for t, _, _ in self._index]

    def has(self, attr_type: int) -> bool:
        for t, _, _ in self._index:
            if t == attr_type:
                return True
        return False

    def get_raw(self, attr_type: int) -> bytes | None:
        """The value bytes of the first attribute of this type, or None."""
        for t, off, length in self._index:
            if t == attr_type:
                return bytes(self._buf[off : off + length])
        return None

    @overload
    def get(
        self,
        attr_type: Literal[
            Attr.MAPPED_ADDRESS,
            Attr.XOR_MAPPED_ADDRESS,
            Attr.XOR_PEER_ADDRESS,
            Attr.XOR_RELAYED_ADDRESS,
            Attr.ALTERNATE_SERVER,
            Attr.RESPONSE_ORIGIN,
            Attr.OTHER_ADDRESS,
        ],
    ) -> Address | None: ...
    @overload
    def get(
        self,
        attr_type: Literal[
            Attr.USERNAME, Attr.REALM, Attr.NONCE, Attr.SOFTWARE, Attr.ALTERNATE_DOMAIN
        ],
    ) -> str | None: ...
    @overload
    def get(
        self,
        attr_type: Literal[
            Attr.PRIORITY,
            Attr.LIFETIME,
            Attr.CONNECTION_ID,
            Attr.FINGERPRINT,
            Attr.ICE_CONTROLLED,
            Attr.ICE_CONTROLLING,
            Attr.CHANNEL_NUMBER,
            Attr.REQUESTED_TRANSPORT,
            Attr.REQUESTED_ADDRESS_FAMILY,
            Attr.ADDITIONAL_ADDRESS_FAMILY,
        ],
    ) -> int | None: ...
    @overload
    def get(self, attr_type: Literal[Attr.ERROR_CODE]) -> tuple[int, str] | None: ...
    @overload
    def get(
        self,
        attr_type: Literal[
            Attr.DATA,
            Attr.USERHASH,
            Attr.MESSAGE_INTEGRITY,
            Attr.MESSAGE_INTEGRITY_SHA256,
            Attr.RESERVATION_TOKEN,
        ],
    ) -> bytes | None: ...
    @overload
    def get(self, attr_type: int) -> Any: ...

    def get(self, attr_type: int) -> Any:
        """Typed value of the first attribute of this type; None if absent or malformed."""
        for t, off, length in self._index:
            if t == attr_type:
                try:
                    return decode_value(
                        t, bytes(self._buf[off : off + length]), self.transaction_id
                    )
                except ParseError:
                    return None
        return None

    def get_all(self, attr_type: int) -> list[Any]:
        """Typed values of every attribute of this type (malformed ones skipped)."""
        out: list[Any] = []
        tid = self.transaction_id
        for t, off, length in self._index:
            if t == attr_type:
                try:
                    out.append(decode_value(t, bytes(self._buf[off : off + length]), tid))
                except ParseError:
                    pass
        return out

    def attributes(self) -> list[tuple[int, Any]]:
        """All attributes as ``(type, value)``; malformed values come back as raw bytes."""
        out: list[tuple[int, Any]] = []
        tid = self.transaction_id
        for t, off, length in self._index:
            raw = bytes(self._buf[off : off + length])
            try:
                out.append((t, decode_value(t, raw, tid)))
            except ParseError:
                out.append((t, raw))
        return out

    def unknown_required(self) -> list[int]:
        """Comprehension-required attribute types (< 0x8000) this codec does not know."""
        return [t for t, _, _ in self._index if t < 0x8000 and t not in CODECS]

    # ------------------------------------------------------------------ integrity

    def check_integrity(self, key: bytes) -> bool:
        """Verify MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, over the
        received bytes. False when the message was not parsed or carries neither."""
        rx = self._rx
        if rx is None:
            return False
        if self._mi256 >= 0:
            off = self._mi256
            length = (rx[off + 2] << 8) | rx[off + 3]
            end = off + 4 + length
            signed = b"".join((rx[0:2], _U16.pack(end - HEADER_SIZE), rx[4:off]))
            mac = hmac.digest(key, signed, "sha256")[:length]
            return hmac.compare_digest(mac, rx[off + 4 : end])
        off = self._mi
        if off < 0:
            return False
        signed = b"".join((rx[0:2], _U16.pack(off + 24 - HEADER_SIZE), rx[4:off]))
        return hmac.compare_digest(_hmac_sha1(key, signed), rx[off + 4 : off + 24])

    # ------------------------------------------------------------------ building

    def _materialize(self) -> None:
        """Copy a parsed message into our own buffer, dropping integrity/fingerprint."""
        buf = bytearray(HEADER_SIZE)
        index: list[tuple[int, int, int]] = []
        src = self._buf
        for t, off, length in self._index:
            if t in (_MI, _MI256, _FP):
                continue
            buf += _TLV.pack(t, length)
            index.append((t, len(buf), length))
            # Keep the sender's padding bytes so a parsed message re-encodes byte for byte.
            buf += src[off : off + ((length + 3) & ~3)]
        self._buf = buf
        self._index = index
        self._own = True

    def add(self, attr_type: int, value: Any = True) -> StunMessage:
        """Append an attribute; returns self so calls can chain."""
        if not self._own:
            self._materialize()
        codec = CODECS.get(attr_type)
        raw = bytes(value) if codec is None else codec[1](value, self.transaction_id)
        length = len(raw)
        if length > 0xFFFF:
            raise ValueError("attribute value too long")
        buf = cast(bytearray, self._buf)
        buf += _TLV.pack(attr_type, length)
        self._index.append((attr_type, len(buf), length))
        buf += raw
        if length & 3:
            buf += _PADDING[length & 3]
        return self

    def encode(
        self,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
        integrity: Literal["sha1", "sha256", "both"] = "sha1",
    ) -> bytes:
        """The datagram; with MESSAGE-INTEGRITY(-SHA256) under ``integrity_key`` and
        FINGERPRINT when asked."""
        if not self._own:
            self._materialize()
        buf = self._buf
        assert isinstance(buf, bytearray)
        body = len(buf) - HEADER_SIZE
        mtype = _message_type(self.method, self.message_class)
        tail = b""
        if integrity_key is not None:
            if integrity != "sha256":
                body += 24
                _FULL_HEADER.pack_into(buf, 0, mtype, body, MAGIC_COOKIE, self.transaction_id)
                tail = _MI_TLV + _hmac_sha1(integrity_key, buf)
            if integrity != "sha1":
                body += 36
                _FULL_HEADER.pack_into(buf, 0, mtype, body, MAGIC_COOKIE, self.transaction_id)
                h = hmac.new(integrity_key, buf, "sha256")
                h.update(tail)
                tail += _TLV.pack(_MI256, 32) + h.digest()
        if fingerprint:
            body += 8
            _FULL_HEADER.pack_into(buf, 0, mtype, body, MAGIC_COOKIE, self.transaction_id)
            crc = zlib.crc32(tail, zlib.crc32(buf)) ^ FINGERPRINT_XOR
            tail += _FP_TLV + _U32.pack(crc)
        elif integrity_key is None:
            _FULL_HEADER.pack_into(buf, 0, mtype, body, MAGIC_COOKIE, self.transaction_id)
        return b"".join((buf, tail))


# --------------------------------------------------------------------------- parsing


def parse(data: bytes | bytearray | memoryview) -> StunMessage:
    """Parse one STUN message (the whole datagram). Raises only :class:`ParseError`."""
    n = len(data)
    if n < HEADER_SIZE:
        raise ParseError("shorter than a STUN header")
    mtype, length, cookie = _HEADER.unpack_from(data, 0)
    if mtype & 0xC000:
        raise ParseError("first two bits are not zero")
    if cookie != MAGIC_COOKIE:
        raise ParseError("no magic cookie")
    if length & 3 or length + HEADER_SIZE != n:
        raise ParseError(f"length field {length} does not match {n - HEADER_SIZE} bytes")
    index: list[tuple[int, int, int]] = []
    append = index.append
    mi = mi256 = fp = -1
    guard = False  # set once an integrity/fingerprint attribute was seen
    off = HEADER_SIZE
    unpack_tlv = _TLV.unpack_from
    # The length is a multiple of 4 and so is every padded attribute, so a TLV header
    # always fits: only the value can overrun.
    while off < n:
        atype, alen = unpack_tlv(data, off)
        voff = off + 4
        nxt = voff + ((alen + 3) & ~3)
        if nxt > n:
            raise ParseError("attribute overruns the message")
        if guard or atype in _SPECIAL:
            guard = True
            if fp >= 0:
                raise ParseError("attribute after FINGERPRINT")
            if atype == _FP:
                if alen != 4:
                    raise ParseError("FINGERPRINT must be 4 bytes")
                fp = off
            elif mi256 >= 0:
                off = nxt
                continue  # ignored after MESSAGE-INTEGRITY-SHA256 (section 14.6)
            elif atype == _MI256:
                if alen < 16 or alen > 32 or alen & 3:
                    raise ParseError("bad MESSAGE-INTEGRITY-SHA256 length")
                mi256 = off
            elif mi >= 0:
                off = nxt
                continue  # ignored after MESSAGE-INTEGRITY (section 14.5)
            else:
                if alen != 20:
                    raise ParseError("MESSAGE-INTEGRITY must be 20 bytes")
                mi = off
        append((atype, voff, alen))
        off = nxt
    if fp >= 0:
        expected = zlib.crc32(data[:fp]) ^ FINGERPRINT_XOR
        if _U32.unpack_from(data, fp + 4)[0] != expected:
            raise ParseError("FINGERPRINT mismatch")
    msg = StunMessage.__new__(StunMessage)
    split = _TYPE_CACHE.get(mtype)
    if split is None:
        split = _TYPE_CACHE[mtype] = _split_type(mtype)
    method, cls = split
    msg.method = method
    msg.message_class = cls
    msg.transaction_id = bytes(data[8:20])
    msg._buf = data
    msg._index = index
    msg._own = False
    msg._rx = data
    msg._mi = mi
    msg._mi256 = mi256
    return msg
