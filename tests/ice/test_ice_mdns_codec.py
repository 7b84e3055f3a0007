"""The tiny DNS codec used for mDNS candidate names (RFC 1035 section 4, RFC 6762)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.ice.mdns import (
    TYPE_A,
    TYPE_AAAA,
    MdnsParseError,
    encode_name,
    encode_query,
    encode_response,
    is_mdns_name,
    parse_answers,
    parse_query,
)

NAME = "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8.local"


def test_query_layout() -> None:
    q = encode_query(NAME, 0x1234, (TYPE_A, TYPE_AAAA))
    assert q[:12] == struct.pack("!HHHHHH", 0x1234, 0, 2, 0, 0, 0)
    qname = encode_name(NAME)
    assert q[12:] == qname + b"\x00\x01\x00\x01" + qname + b"\x00\x1c\x00\x01"
    assert qname[0] == 36 and qname[-7:] == b"\x05local\x00"


def test_response_roundtrip_v4_v6() -> None:
    assert parse_answers(encode_response(7, NAME, "192.0.2.5")) == (
        7,
        [(NAME, TYPE_A, "192.0.2.5")],
    )
    assert parse_answers(encode_response(8, NAME.upper(), "fd00::5")) == (
        8,
        [(NAME, TYPE_AAAA, "fd00::5")],
    )


def test_compressed_name_and_question_section() -> None:
    # Header with one question and one answer whose name is a pointer to the question.
    header = struct.pack("!HHHHHH", 1, 0x8400, 1, 1, 0, 0)
    question = encode_name(NAME) + struct.pack("!HH", TYPE_A, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 0x8001, 120, 4) + bytes([10, 1, 2, 3])
    assert parse_answers(header + question + answer) == (1, [(NAME, TYPE_A, "10.1.2.3")])


def test_pointer_loop_rejected() -> None:
    header = struct.pack("!HHHHHH", 1, 0x8400, 0, 1, 0, 0)
    with pytest.raises(MdnsParseError):
        parse_answers(header + b"\xc0\x0c")


def test_query_is_not_a_response() -> None:
    with pytest.raises(MdnsParseError):
        parse_answers(encode_query(NAME, 1))


def test_is_mdns_name() -> None:
    assert is_mdns_name(NAME) and is_mdns_name("x.LOCAL.")
    assert not is_mdns_name("192.0.2.1") and not is_mdns_name("example.com")


@given(st.binary(max_size=300))
def test_parse_never_raises_anything_else(data: bytes) -> None:
    try:
        parse_answers(data)
    except MdnsParseError:
        pass


@given(st.binary(min_size=12, max_size=120))
def test_parse_response_like_garbage(data: bytes) -> None:
    try:
        parse_answers(b"\x00\x01\x84\x00" + data)
    except MdnsParseError:
        pass


def test_query_parse_roundtrip_and_refusals() -> None:
    assert parse_query(encode_query(NAME.upper(), 0xBEEF, (TYPE_A, TYPE_AAAA))) == (
        0xBEEF,
        [(NAME, TYPE_A), (NAME, TYPE_AAAA)],
    )
    with pytest.raises(MdnsParseError):
        parse_query(encode_response(1, NAME, "192.0.2.1"))  # a response
    with pytest.raises(MdnsParseError):
        parse_query(b"\x00\x01\x28\x00" + bytes(8))  # opcode 5 (UPDATE)


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(st.lists(label, min_size=1, max_size=4), st.integers(0, 0xFFFF))
def test_query_roundtrip_any_name(labels: list[str], qid: int) -> None:
    name = ".".join(labels)
    assert parse_query(encode_query(name, qid, (TYPE_AAAA,))) == (qid, [(name, TYPE_AAAA)])


@given(st.binary(max_size=300))
def test_parse_query_never_raises_anything_else(data: bytes) -> None:
    try:
        parse_query(data)
    except MdnsParseError:
        pass
