"""Gathering helpers: address filtering and ordering, candidates, ICE server URLs."""

from __future__ import annotations

import pytest

from rtcpeer.ice.candidate import candidate_priority
from rtcpeer.ice.gather import (
    InterfaceAddress,
    ServerUrl,
    _ipv6_addresses,
    host_candidate,
    local_preference,
    parse_ice_servers,
    parse_server_url,
    relay_candidate,
    srflx_candidate,
    usable_addresses,
)

ADDRS = [
    InterfaceAddress("lo", "127.0.0.1", 4, True, False),
    InterfaceAddress("eth0", "192.0.2.2", 4, False, False),
    InterfaceAddress("eth1", "198.51.100.9", 4, False, False),
    InterfaceAddress("eth0", "fd00::2", 6, False, False),
    InterfaceAddress("lo", "::1", 6, True, False),
    InterfaceAddress("eth0", "fe80::1", 6, False, True),
]


def test_usable_addresses_order_and_filters() -> None:
    assert [a.address for a in usable_addresses(ADDRS)] == ["fd00::2", "192.0.2.2", "198.51.100.9"]
    assert [a.address for a in usable_addresses(ADDRS, include_loopback=True)] == [
        "fd00::2",
        "192.0.2.2",
        "198.51.100.9",
        "127.0.0.1",
        "::1",
    ]
    assert [a.address for a in usable_addresses(ADDRS, ipv6=False)] == ["192.0.2.2", "198.51.100.9"]
    assert "fe80::1" in [a.address for a in usable_addresses(ADDRS, include_link_local=True)]


def test_proc_if_inet6_parsing(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "if_inet6"  # type: ignore[operator]
    path.write_text(
        "fd000000000000000000000000000002 04 40 00 82     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "20010db8000000000000000000000005 04 40 00 40     eth0\n"  # tentative: skipped
        "garbage line\n"
    )
    got = _ipv6_addresses(str(path))
    assert got == [
        InterfaceAddress("eth0", "fd00::2", 6, False, False),
        InterfaceAddress("lo", "::1", 6, True, False),
    ]


def test_candidates() -> None:
    host = host_candidate("192.0.2.2", 5000, local_preference(0))
    assert (host.type, host.priority, host.component, host.transport) == (
        "host",
        candidate_priority("host", 65535),
        1,
        "udp",
    )
    srflx = srflx_candidate(("203.0.113.5", 6000), host, 65535, "stun:s:3478")
    assert srflx is not None
    assert (srflx.type, srflx.host, srflx.port, srflx.related_address, srflx.related_port) == (
        "srflx",
        "203.0.113.5",
        6000,
        "192.0.2.2",
        5000,
    )
    assert srflx_candidate(("192.0.2.2", 5000), host, 65535, "stun:s:3478") is None
    relay = relay_candidate(("198.51.100.1", 50000), ("203.0.113.5", 6000), 65535, "turn:t:3478")
    assert (relay.type, relay.priority >> 24, relay.related_address) == ("relay", 0, "203.0.113.5")
    assert local_preference(1) == 65535 - 128


def test_server_urls() -> None:
    assert parse_server_url("stun:stun.example.org") == ServerUrl(
        "stun", "stun.example.org", 3478, "udp"
    )
    assert parse_server_url("turn:[2001:db8::1]:3479?transport=tcp", "u", "p") == ServerUrl(
        "turn", "2001:db8::1", 3479, "tcp", "u", "p"
    )
    assert parse_server_url("turns:t.example.org").port == 5349
    assert parse_server_url("turns:t.example.org").transport == "tcp"
    for bad in ("http://x", "stun:", "stun:host:99999", "stun:host:abc", "turn:h?foo=1"):
        with pytest.raises(ValueError):
            parse_server_url(bad)
    servers = parse_ice_servers(
        [
            {"urls": "stun:a.example:3478"},
            {
                "urls": ["turn:b.example", "turn:b.example?transport=tcp"],
                "username": "u",
                "credential": "c",
            },
        ]
    )
    assert [(s.scheme, s.host, s.transport, s.username) for s in servers] == [
        ("stun", "a.example", "udp", None),
        ("turn", "b.example", "udp", "u"),
        ("turn", "b.example", "tcp", "u"),
    ]
