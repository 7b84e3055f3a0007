"""Candidate priorities, foundations and pair priorities for ICE.

Implements:
- RFC 8445 section 5.1.2 (candidate priority: type preference, local preference, component),
  with the recommended type preferences host 126, peer-reflexive 110, server-reflexive 100,
  relayed 0 (section 5.1.2.2);
- RFC 8445 section 5.1.1.3 (foundations: equal for candidates of the same type, base IP
  address, STUN/TURN server and transport);
- RFC 8445 section 6.1.2.3 (candidate pair priority);
- RFC 8445 section 7.1.1 (the PRIORITY attribute: the priority the candidate would have as a
  peer-reflexive candidate);
- RFC 6544 section 4.2 (local preference for TCP candidates by direction).

The candidate itself is :class:`rtcpeer.sdp.candidate.Candidate`; this module only computes
numbers and strings for it, so there is exactly one candidate representation in the project.
"""

from __future__ import annotations

import ipaddress
import zlib

TYPE_PREFERENCE: dict[str, int] = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}

# RFC 6544 section 4.2: prefer UDP over TCP; among TCP types, active > passive > so.
_TCP_DIRECTION_PREFERENCE: dict[str, int] = {"active": 6, "passive": 4, "so": 2}

MAX_LOCAL_PREFERENCE = 65535


def candidate_priority(
    candidate_type: str,
    local_preference: int = MAX_LOCAL_PREFERENCE,
    component: int = 1,
    transport: str = "udp",
    tcptype: str | None = None,
) -> int:
    """Priority of a candidate (RFC 8445 section 5.1.2.1).

    ``local_preference`` ranks interfaces (0..65535, higher is better). For TCP candidates the
    local preference is rebuilt per RFC 6544 section 4.2 from the direction and the low 13 bits
    of the given preference, and the type preference is lowered so that every UDP candidate of
    the same type outranks it.
    """
    type_pref = TYPE_PREFERENCE[candidate_type]
    if transport.lower() == "tcp":
        direction = _TCP_DIRECTION_PREFERENCE.get(tcptype or "passive", 4)
        local_preference = (direction << 13) | (local_preference & 0x1FFF)
        # Keep tcp below udp of the same type without crossing into the next type's range.
        type_pref = max(type_pref - 6, 0)
    if not 0 <= local_preference <= MAX_LOCAL_PREFERENCE:
        raise ValueError(f"local preference {local_preference} outside 0..65535")
    if not 1 <= component <= 256:
        raise ValueError(f"component {component} outside 1..256")
    return (type_pref << 24) | (local_preference << 8) | (256 - component)


def peer_reflexive_priority(priority: int) -> int:
    """The PRIORITY attribute value for a check sent from a candidate of ``priority``.

    RFC 8445 section 7.1.1: computed like the candidate's own priority but with the
    peer-reflexive type preference; local preference and component are kept, which are
    exactly the low 24 bits.
    """
    return (TYPE_PREFERENCE["prflx"] << 24) | (priority & 0xFFFFFF)


def compute_foundation(
    candidate_type: str,
    base_address: str,
    transport: str = "udp",
    server: str | None = None,
) -> str:
    """A foundation string (RFC 8445 section 5.1.1.3).

    Two candidates share a foundation when they have the same type, base IP address, transport
    and (for server-reflexive and relayed candidates) STUN/TURN server. A short decimal hash
    of those values meets that and is a valid ``foundation`` token (1*32 ice-char).
    """
    key = f"{candidate_type}|{normalize_host(base_address)}|{transport.lower()}|{server or ''}"
    return str(zlib.crc32(key.encode()))


def pair_priority(controlling_priority: int, controlled_priority: int) -> int:
    """Candidate pair priority (RFC 8445 section 6.1.2.3)."""
    g, d = controlling_priority, controlled_priority
    return (min(g, d) << 32) + (max(g, d) << 1) + (1 if g > d else 0)


def normalize_host(host: str) -> str:
    """Canonical text form of an IP address (IPv6 compressed, zone index dropped).

    Addresses are compared as strings everywhere in ICE, so ``::1`` and ``0:0::1`` (or an
    address with a ``%eth0`` zone from the socket layer) must become the same key. Names
    that are not IP addresses (mDNS ``.local`` names) are returned unchanged.
    """
    plain = host.split("%", 1)[0]
    try:
        return ipaddress.ip_address(plain).compressed
    except ValueError:
        return host


def is_ip_address(host: str) -> bool:
    """True for a literal IPv4 or IPv6 address (a ``.local`` mDNS name is not)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def address_family(host: str) -> int:
    """4 or 6 for an IP literal."""
    return ipaddress.ip_address(host.split("%", 1)[0]).version
