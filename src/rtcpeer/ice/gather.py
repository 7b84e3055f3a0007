"""Host address discovery and the candidates built from it (the gathering plan).

Implements:
- RFC 8445 section 5.1.1.1 (host candidates: one per usable interface address; loopback and
  IPv6 link-local addresses are left out by default, like browsers do);
- RFC 8421 section 4 (dual-stack local preferences: IPv6 first, the families interleaved so
  that one broken family costs at most one pacing slot);
- RFC 8445 section 5.1.3 (a server-reflexive candidate equal to its base is redundant);
- W3C RTCIceServer dictionaries and RFC 7064/7065 ``stun:``/``turn:``/``turns:`` URIs.

Address discovery reads the kernel's tables with the standard library only: IPv4 through
``socket.if_nameindex()`` plus the SIOCGIFADDR/SIOCGIFFLAGS ioctls, IPv6 from
``/proc/net/if_inet6``; elsewhere it falls back to resolving the host name. It does no
network traffic.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtcpeer.ice.candidate import candidate_priority, compute_foundation, normalize_host
from rtcpeer.sdp.candidate import Candidate

logger = logging.getLogger(__name__)

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
# /proc/net/if_inet6 flags we must not use: tentative (DAD running), DAD failed, deprecated.
_IFA_F_DADFAILED = 0x08
_IFA_F_DEPRECATED = 0x20
_IFA_F_TENTATIVE = 0x40


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    interface: str
    address: str
    family: int  # 4 or 6
    loopback: bool
    link_local: bool


def _ipv4_addresses() -> list[InterfaceAddress]:
    out: list[InterfaceAddress] = []
    try:
        names = socket.if_nameindex()
    except OSError:
        return out
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in names:
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req), 16)[0]
                if not flags & _IFF_UP:
                    continue
                raw = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)
            except OSError:
                continue  # no IPv4 address on this interface
            addr = socket.inet_ntoa(raw[20:24])
            ip = ipaddress.IPv4Address(addr)
            out.append(
                InterfaceAddress(
                    name, addr, 4, bool(flags & _IFF_LOOPBACK) or ip.is_loopback, ip.is_link_local
                )
            )
    return out


def _ipv6_addresses(path: str = "/proc/net/if_inet6") -> list[InterfaceAddress]:
    out: list[InterfaceAddress] = []
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or len(parts[0]) != 32:
            continue
        try:
            ip = ipaddress.IPv6Address(bytes.fromhex(parts[0]))
            flags = int(parts[4], 16)
        except ValueError:
            continue
        if flags & (_IFA_F_DADFAILED | _IFA_F_DEPRECATED | _IFA_F_TENTATIVE):
            continue
        out.append(InterfaceAddress(parts[5], ip.compressed, 6, ip.is_loopback, ip.is_link_local))
    return out


def _fallback_addresses() -> list[InterfaceAddress]:
    out: list[InterfaceAddress] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_DGRAM)
    except OSError:
        infos = []
    seen: set[str] = set()
    for family, _, _, _, sockaddr in infos:
        addr = normalize_host(str(sockaddr[0]))
        if addr in seen:
            continue
        seen.add(addr)
        ip = ipaddress.ip_address(addr)
        out.append(
            InterfaceAddress(
                "?", addr, 6 if family == socket.AF_INET6 else 4, ip.is_loopback, ip.is_link_local
            )
        )
    for lo in ("127.0.0.1", "::1"):
        if lo not in seen:
            out.append(InterfaceAddress("lo", lo, ipaddress.ip_address(lo).version, True, False))
    return out


def enumerate_addresses() -> list[InterfaceAddress]:
    """Every address of every interface that is up (loopback and link-local included)."""
    found = _ipv4_addresses() + _ipv6_addresses()
    if not found:
        found = _fallback_addresses()
    return found


def usable_addresses(
    addresses: Iterable[InterfaceAddress],
    *,
    include_loopback: bool = False,
    ipv6: bool = True,
    include_link_local: bool = False,
) -> list[InterfaceAddress]:
    """Filter and order addresses for host candidates, best first (RFC 8421 interleaving).

    Link-local IPv6 needs a zone on every send and browsers leave it out, so do we by
    default; IPv4 link-local (169.254/16) is kept, it is an ordinary routable LAN address.
    """
    v6: list[InterfaceAddress] = []
    v4: list[InterfaceAddress] = []
    lo: list[InterfaceAddress] = []
    seen: set[str] = set()
    for a in addresses:
        if a.address in seen:
            continue
        seen.add(a.address)
        if a.family == 6 and not ipv6:
            continue
        if a.family == 6 and a.link_local and not include_link_local:
            continue
        if a.loopback:
            if include_loopback:
                lo.append(a)
            continue
        (v6 if a.family == 6 else v4).append(a)
    ordered: list[InterfaceAddress] = []
    for i in range(max(len(v6), len(v4))):
        if i < len(v6):
            ordered.append(v6[i])
        if i < len(v4):
            ordered.append(v4[i])
    # Loopback last: it only works when both ends share a host, and then it wins anyway
    # by being the sole pair of its address family that succeeds quickly.
    lo.sort(key=lambda a: a.family)
    return ordered + lo


def local_preference(index: int) -> int:
    """Local preference for the ``index``-th usable address (best first)."""
    return max(65535 - 128 * index, 0)


def host_candidate(
    address: str, port: int, local_pref: int, transport: str = "udp", tcptype: str | None = None
) -> Candidate:
    return Candidate(
        foundation=compute_foundation("host", address, transport),
        component=1,
        transport=transport,
        priority=candidate_priority("host", local_pref, 1, transport, tcptype),
        host=address,
        port=port,
        type="host",
        tcptype=tcptype,
    )


def srflx_candidate(
    mapped: tuple[str, int], base: Candidate, local_pref: int, server: str
) -> Candidate | None:
    """The server-reflexive candidate, or None when it equals its base (RFC 8445 5.1.3)."""
    host = normalize_host(mapped[0])
    if host == normalize_host(base.host) and mapped[1] == base.port:
        return None
    return Candidate(
        foundation=compute_foundation("srflx", base.host, base.transport, server),
        component=1,
        transport=base.transport,
        priority=candidate_priority("srflx", local_pref, 1, base.transport),
        host=host,
        port=mapped[1],
        type="srflx",
        related_address=base.host,
        related_port=base.port,
    )


def relay_candidate(
    relayed: tuple[str, int], mapped: tuple[str, int] | None, local_pref: int, server: str
) -> Candidate:
    host = normalize_host(relayed[0])
    return Candidate(
        foundation=compute_foundation("relay", host, "udp", server),
        component=1,
        transport="udp",
        priority=candidate_priority("relay", local_pref, 1, "udp"),
        host=host,
        port=relayed[1],
        type="relay",
        related_address=mapped[0] if mapped else None,
        related_port=mapped[1] if mapped else None,
    )


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """One parsed ``stun:``/``turn:``/``turns:`` URI (RFC 7064, RFC 7065)."""

    scheme: str  # "stun", "stuns", "turn" or "turns"
    host: str
    port: int
    transport: str  # "udp" or "tcp"
    username: str | None = None
    credential: str | None = None
    # The URL as configured, for error reports (W3C icecandidateerror ``url``).
    url: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        return f"{self.scheme}:{self.host}:{self.port}"

    @property
    def display(self) -> str:
        return self.url or self.text


def parse_server_url(
    url: str, username: str | None = None, credential: str | None = None
) -> ServerUrl:
    """Parse ``stun:host[:port]`` / ``turn:host[:port][?transport=udp|tcp]``."""
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("stun", "stuns", "turn", "turns"):
        raise ValueError(f"unsupported ICE server URL {url!r}")
    rest, _, query = rest.partition("?")
    transport = "tcp" if scheme in ("stuns", "turns") else "udp"
    for param in query.split("&") if query else []:
        k, _, v = param.partition("=")
        if k.lower() == "transport" and v.lower() in ("udp", "tcp"):
            transport = v.lower()
        elif k:
            raise ValueError(f"unsupported parameter {k!r} in ICE server URL {url!r}")
    default_port = 5349 if scheme in ("stuns", "turns") else 3478
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host, port_text = rest, ""
    if not host:
        raise ValueError(f"ICE server URL {url!r} has no host")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"bad port in ICE server URL {url!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad port in ICE server URL {url!r}")
    return ServerUrl(scheme, host, port, transport, username, credential, url)


def parse_ice_servers(servers: Iterable[Mapping[str, Any]] | None) -> list[ServerUrl]:
    """Flatten W3C RTCIceServer dictionaries (``urls`` a string or a list)."""
    out: list[ServerUrl] = []
    for server in servers or []:
        urls = server.get("urls", server.get("url", []))
        if isinstance(urls, str):
            urls = [urls]
        username = server.get("username")
        credential = server.get("credential")
        for url in urls:
            out.append(
                parse_server_url(
                    str(url),
                    str(username) if username is not None else None,
                    str(credential) if credential is not None else None,
                )
            )
    return out
