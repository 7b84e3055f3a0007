"""A minimal DNS message codec for resolving mDNS ICE candidate names.

Browsers hide host addresses behind random ``<uuid>.local`` names (RFC 8828 section 5.1,
draft-ietf-mmusic-mdns-ice-candidates). To use such a candidate we ask for its A/AAAA record
over multicast DNS (RFC 6762) as a one-shot "legacy unicast" querier (section 6.7: a query
from a port other than 5353 is answered by unicast to that port, echoing the query id).

Implements the RFC 1035 section 4 message format (header, question, resource records, name
compression pointers per section 4.1.4) and RFC 3596 AAAA records; only what resolving a
name needs. Every parse is bounds-checked; malformed input raises :class:`MdnsParseError`.
"""

from __future__ import annotations

import ipaddress
import struct

MDNS_GROUP_V4 = "224.0.0.251"
MDNS_GROUP_V6 = "ff02::fb"
MDNS_PORT = 5353

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1
_MAX_POINTER_HOPS = 32


class MdnsParseError(ValueError):
    """A DNS message that cannot be decoded."""


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("utf-8")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def encode_query(name: str, query_id: int, qtypes: tuple[int, ...] = (TYPE_A,)) -> bytes:
    """A standard query (QR=0, opcode 0) for ``name`` with one question per type."""
    header = struct.pack("!HHHHHH", query_id, 0, len(qtypes), 0, 0, 0)
    qname = encode_name(name)
    return header + b"".join(qname + struct.pack("!HH", t, CLASS_IN) for t in qtypes)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """Decode a possibly compressed name; returns (name, offset after it in the record)."""
    labels: list[str] = []
    end: int | None = None
    hops = 0
    pos = offset
    while True:
        if pos >= len(data):
            raise MdnsParseError("name runs past the end")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise MdnsParseError("truncated compression pointer")
            if end is None:
                end = pos + 2
            hops += 1
            if hops > _MAX_POINTER_HOPS:
                raise MdnsParseError("compression pointer loop")
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        if length & 0xC0:
            raise MdnsParseError("reserved label type")
        pos += 1
        if length == 0:
            break
        if pos + length > len(data):
            raise MdnsParseError("label runs past the end")
        labels.append(data[pos : pos + length].decode("utf-8", "replace"))
        pos += length
    return ".".join(labels), (end if end is not None else pos)


def parse_answers(data: bytes) -> tuple[int, list[tuple[str, int, str]]]:
    """Decode a response: (query id, [(name, type, address)]) for A and AAAA records.

    Names are returned lower-case without the trailing dot; other record types are skipped.
    """
    if len(data) < 12:
        raise MdnsParseError("shorter than a DNS header")
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data, 0)
    if not flags & 0x8000:
        raise MdnsParseError("not a response")
    pos = 12
    for _ in range(qd):
        _, pos = _read_name(data, pos)
        pos += 4
        if pos > len(data):
            raise MdnsParseError("truncated question")
    out: list[tuple[str, int, str]] = []
    for _ in range(an + ns + ar):
        name, pos = _read_name(data, pos)
        if pos + 10 > len(data):
            raise MdnsParseError("truncated record header")
        rtype, rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        if pos + rdlen > len(data):
            raise MdnsParseError("truncated record data")
        rdata = data[pos : pos + rdlen]
        pos += rdlen
        # mDNS uses the top bit of the class as the cache-flush flag (RFC 6762 10.2).
        if rclass & 0x7FFF != CLASS_IN:
            continue
        if rtype == TYPE_A and rdlen == 4:
            out.append((name.lower(), rtype, str(ipaddress.IPv4Address(rdata))))
        elif rtype == TYPE_AAAA and rdlen == 16:
            out.append((name.lower(), rtype, ipaddress.IPv6Address(rdata).compressed))
    return qid, out


def parse_query(data: bytes) -> tuple[int, list[tuple[str, int]]]:
    """Decode a query: (query id, [(name, qtype)]), names lower-case without the final dot.

    Responses (QR set) and queries with a non-zero opcode are refused (RFC 6762 section 18.3:
    such queries must be ignored), as is anything malformed: :class:`MdnsParseError`.
    """
    if len(data) < 12:
        raise MdnsParseError("shorter than a DNS header")
    qid, flags, qd = struct.unpack_from("!HHH", data, 0)
    if flags & 0x8000:
        raise MdnsParseError("a response, not a query")
    if flags & 0x7800:
        raise MdnsParseError("opcode is not a standard query")
    pos = 12
    out: list[tuple[str, int]] = []
    for _ in range(qd):
        name, pos = _read_name(data, pos)
        if pos + 4 > len(data):
            raise MdnsParseError("truncated question")
        qtype, _qclass = struct.unpack_from("!HH", data, pos)
        pos += 4
        out.append((name.lower(), qtype))
    return qid, out


def encode_response(query_id: int, name: str, address: str, ttl: int = 120) -> bytes:
    """An authoritative answer with one A or AAAA record (used by tests and a responder)."""
    ip = ipaddress.ip_address(address)
    rtype = TYPE_A if ip.version == 4 else TYPE_AAAA
    header = struct.pack("!HHHHHH", query_id, 0x8400, 0, 1, 0, 0)
    return (
        header
        + encode_name(name)
        + struct.pack("!HHIH", rtype, CLASS_IN | 0x8000, ttl, len(ip.packed))
        + ip.packed
    )


def is_mdns_name(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".local")
