"""STUN codec: round trips, integrity failures, malformed input (hypothesis)."""

from __future__ import annotations

import socket
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.stun import (
    FINGERPRINT_XOR,
    Attr,
    MessageClass,
    Method,
    ParseError,
    StunMessage,
    is_stun,
    parse,
)
from rtcpeer.stun.attributes import CODECS

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
port = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=60)

# attribute type -> strategy producing the value get() must give back
VALUE_STRATEGIES: dict[int, st.SearchStrategy[object]] = {
    Attr.MAPPED_ADDRESS: st.tuples(ipv4 | ipv6, port),
    Attr.XOR_MAPPED_ADDRESS: st.tuples(ipv4 | ipv6, port),
    Attr.XOR_PEER_ADDRESS: st.tuples(ipv4 | ipv6, port),
    Attr.XOR_RELAYED_ADDRESS: st.tuples(ipv4 | ipv6, port),
    Attr.ALTERNATE_SERVER: st.tuples(ipv4 | ipv6, port),
    Attr.USERNAME: text,
    Attr.REALM: text,
    Attr.NONCE: text,
    Attr.SOFTWARE: text,
    Attr.USERHASH: st.binary(min_size=32, max_size=32),
    Attr.ERROR_CODE: st.tuples(st.integers(300, 699), text),
    Attr.UNKNOWN_ATTRIBUTES: st.lists(st.integers(0, 0xFFFF), max_size=7).map(tuple),
    Attr.PASSWORD_ALGORITHMS: st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=9)), max_size=4
    ).map(tuple),
    Attr.PASSWORD_ALGORITHM: st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=9)),
    Attr.PRIORITY: u32,
    Attr.USE_CANDIDATE: st.just(True),
    Attr.ICE_CONTROLLED: st.integers(0, 2**64 - 1),
    Attr.ICE_CONTROLLING: st.integers(0, 2**64 - 1),
    Attr.LIFETIME: u32,
    Attr.REQUESTED_TRANSPORT: st.integers(0, 255),
    Attr.REQUESTED_ADDRESS_FAMILY: st.sampled_from([1, 2]),
    Attr.DATA: st.binary(max_size=200),
    Attr.CHANNEL_NUMBER: st.integers(0x4000, 0x4FFF),
    Attr.DONT_FRAGMENT: st.just(True),
    Attr.EVEN_PORT: st.booleans(),
    Attr.RESERVATION_TOKEN: st.binary(min_size=8, max_size=8),
    Attr.CONNECTION_ID: u32,
    0x7F01: st.binary(max_size=20),  # unknown, kept raw
}

attribute = st.sampled_from(sorted(VALUE_STRATEGIES)).flatmap(
    lambda t: st.tuples(st.just(t), VALUE_STRATEGIES[t])
)
methods = st.sampled_from(list(Method)) | st.integers(0, 0xFFF)
classes = st.sampled_from(list(MessageClass))
keys = st.binary(min_size=1, max_size=40)


def canonical(attr_type: int, value: object) -> object:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        family = socket.AF_INET6 if ":" in value[0] else socket.AF_INET
        return (socket.inet_ntop(family, socket.inet_pton(family, value[0])), value[1])
    return value


@settings(max_examples=200)
@given(
    methods,
    classes,
    st.binary(min_size=12, max_size=12),
    st.lists(attribute, max_size=8),
    st.none() | keys,
    st.booleans(),
    st.sampled_from(["sha1", "sha256", "both"]),
)
def test_round_trip(method, cls, tid, attrs, key, fingerprint, integrity) -> None:  # type: ignore[no-untyped-def]
    msg = StunMessage(method, cls, tid)
    for t, v in attrs:
        msg.add(t, v)
    data = msg.encode(integrity_key=key, fingerprint=fingerprint, integrity=integrity)
    assert is_stun(data)
    assert len(data) % 4 == 0
    back = parse(data)
    assert back.method == method
    assert back.message_class == cls
    assert back.transaction_id == tid
    got = [(t, v) for t, v in back.attributes() if t not in (0x0008, 0x001C, 0x8028)]
    assert got == [(t, canonical(t, v)) for t, v in attrs]
    for t, _ in attrs:
        assert back.has(t)
    if attrs:
        assert back.get(attrs[0][0]) == canonical(*attrs[0])
    if key is not None:
        assert back.check_integrity(key)
        assert not back.check_integrity(key + b"x")
        assert back.has(Attr.MESSAGE_INTEGRITY) == (integrity != "sha256")
        assert back.has(Attr.MESSAGE_INTEGRITY_SHA256) == (integrity != "sha1")
    else:
        assert not back.check_integrity(b"anything")
    assert back.has(Attr.FINGERPRINT) == fingerprint
    # Re-encoding a parsed message reproduces it exactly.
    assert back.encode(integrity_key=key, fingerprint=fingerprint, integrity=integrity) == data


def test_message_type_bits() -> None:
    cases = [
        (Method.BINDING, MessageClass.REQUEST, 0x0001),
        (Method.BINDING, MessageClass.INDICATION, 0x0011),
        (Method.BINDING, MessageClass.SUCCESS, 0x0101),
        (Method.BINDING, MessageClass.ERROR, 0x0111),
        (Method.ALLOCATE, MessageClass.ERROR, 0x0113),
        (Method.SEND, MessageClass.INDICATION, 0x0016),
        (Method.DATA, MessageClass.INDICATION, 0x0017),
        (Method.CHANNEL_BIND, MessageClass.SUCCESS, 0x0109),
        (0xFFF, MessageClass.ERROR, 0x3FFF),
    ]
    for method, cls, mtype in cases:
        data = StunMessage(method, cls, bytes(12)).encode()
        assert struct.unpack("!H", data[:2])[0] == mtype
        back = parse(data)
        assert (back.method, back.message_class) == (method, cls)


def signed(key: bytes = b"key") -> bytes:
    msg = StunMessage(Method.ALLOCATE, MessageClass.REQUEST, bytes(range(12)))
    msg.add(Attr.LIFETIME, 600)
    msg.add(Attr.USERNAME, "user")
    return msg.encode(integrity_key=key)


def relength(data: bytes) -> bytes:
    return data[:2] + struct.pack("!H", len(data) - 20) + data[4:]


def test_integrity_fails_on_any_flipped_bit() -> None:
    data = signed()
    assert parse(data).check_integrity(b"key")
    for i in range(20, len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        try:
            msg = parse(bytes(flipped))
        except ParseError:
            continue
        assert not msg.check_integrity(b"key"), i


def test_attributes_after_integrity_are_ignored() -> None:
    data = signed()
    tampered = relength(data + struct.pack("!HH", Attr.DATA, 4) + b"evil")
    msg = parse(tampered)
    assert not msg.has(Attr.DATA)
    assert msg.get(Attr.DATA) is None
    assert msg.check_integrity(b"key")


def test_nothing_may_follow_fingerprint() -> None:
    data = StunMessage(Method.BINDING, MessageClass.REQUEST).encode(fingerprint=True)
    with pytest.raises(ParseError):
        parse(relength(data + struct.pack("!HH", Attr.DATA, 0)))


def test_bad_fingerprint_is_a_parse_error() -> None:
    data = bytearray(StunMessage(Method.BINDING, MessageClass.REQUEST).encode(fingerprint=True))
    data[-1] ^= 1
    with pytest.raises(ParseError):
        parse(bytes(data))
    data = StunMessage(Method.BINDING, MessageClass.REQUEST, bytes(12)).encode(fingerprint=True)
    assert struct.unpack("!I", data[-4:])[0] == zlib.crc32(data[:-8]) ^ FINGERPRINT_XOR


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(11),  # 19 bytes
        b"\x80\x01\x00\x00\x21\x12\xa4\x42" + bytes(12),  # top bits
        b"\x00\x01\x00\x00\x21\x12\xa4\x43" + bytes(12),  # cookie
        b"\x00\x01\x00\x04\x21\x12\xa4\x42" + bytes(12),  # length beyond data
        b"\x00\x01\x00\x02\x21\x12\xa4\x42" + bytes(14),  # length not multiple of 4
        b"\x00\x01\x00\x04\x21\x12\xa4\x42" + bytes(12) + b"\x00\x06\x00\x09",  # overrun
        b"\x00\x01\x00\x08\x21\x12\xa4\x42" + bytes(12) + b"\x00\x08\x00\x04abcd",  # MI size
    ],
)
def test_malformed(data: bytes) -> None:
    assert not is_stun(data) or len(data) >= 20
    with pytest.raises(ParseError):
        parse(data)


def test_malformed_values_read_as_none() -> None:
    msg = StunMessage(Method.BINDING, MessageClass.SUCCESS, bytes(12))
    msg.add(Attr.XOR_MAPPED_ADDRESS, ("1.2.3.4", 5))
    data = bytearray(msg.encode())
    data[25] = 9  # address family 9
    back = parse(bytes(data))
    assert back.has(Attr.XOR_MAPPED_ADDRESS)
    assert back.get(Attr.XOR_MAPPED_ADDRESS) is None
    assert back.attributes() == [(Attr.XOR_MAPPED_ADDRESS, bytes(data[24:32]))]


def test_error_code_and_defaults() -> None:
    msg = StunMessage(Method.ALLOCATE, MessageClass.ERROR, bytes(12))
    msg.add(Attr.ERROR_CODE, 401)
    msg.add(Attr.UNKNOWN_ATTRIBUTES, (0x0031, 0x0032, 0x0033))
    back = parse(msg.encode())
    assert back.get(Attr.ERROR_CODE) == (401, "Unauthenticated")
    assert back.get(Attr.UNKNOWN_ATTRIBUTES) == (0x31, 0x32, 0x33)
    assert back.unknown_required() == []
    raw = StunMessage(Method.BINDING, MessageClass.REQUEST).add(0x0031, b"x").encode()
    assert parse(raw).unknown_required() == [0x0031]


def test_memoryview_and_bytearray_input() -> None:
    data = signed()
    for form in (bytearray(data), memoryview(data)):
        msg = parse(form)
        assert msg.get(Attr.USERNAME) == "user"
        assert msg.get(Attr.LIFETIME) == 600
        assert msg.check_integrity(b"key")


@settings(max_examples=1000)
@given(st.binary(max_size=200))
def test_random_bytes_only_parse_error(data: bytes) -> None:
    probe(data)


def probe(data: bytes) -> None:
    try:
        msg = parse(data)
    except ParseError:
        return
    assert is_stun(data)
    for t in CODECS:
        msg.get(t)
        msg.get_all(t)
    msg.attributes()
    msg.check_integrity(b"k")
    msg.encode(integrity_key=b"k", fingerprint=True)


SEEDS = [
    signed(),
    StunMessage(Method.BINDING, MessageClass.SUCCESS, bytes(12))
    .add(Attr.XOR_MAPPED_ADDRESS, ("2001:db8::1", 9))
    .add(Attr.ERROR_CODE, (438, "Stale Nonce"))
    .add(Attr.PASSWORD_ALGORITHMS, ((1, b""), (2, b"ab")))
    .encode(integrity_key=b"k", fingerprint=True, integrity="both"),
]


@settings(max_examples=1000)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
)
def test_mutated_messages_only_parse_error(
    seed: bytes, edits: list[tuple[int, int]], fix: bool
) -> None:
    data = bytearray(seed)
    for pos, val in edits:
        data[pos % len(data)] = val
    if fix:  # keep the header valid so mutations reach the attribute walker
        data[0] &= 0x3F
        data[4:8] = b"\x21\x12\xa4\x42"
        struct.pack_into("!H", data, 2, len(data) - 20)
    probe(bytes(data))
