"""Candidate and pair priorities, foundations (RFC 8445 sections 5.1.2, 5.1.1.3, 6.1.2.3)."""

from __future__ import annotations

import pytest

from rtcpeer.ice.candidate import (
    candidate_priority,
    compute_foundation,
    is_ip_address,
    normalize_host,
    pair_priority,
    peer_reflexive_priority,
)


def test_type_preferences() -> None:
    assert candidate_priority("host") == (126 << 24) | (65535 << 8) | 255
    assert candidate_priority("prflx", 100) == (110 << 24) | (100 << 8) | 255
    assert candidate_priority("srflx", 0) == (100 << 24) | 255
    assert candidate_priority("relay", 1) == (1 << 8) | 255
    assert candidate_priority("host", 65535, component=2) == (126 << 24) | (65535 << 8) | 254


def test_host_beats_prflx_beats_srflx_beats_relay() -> None:
    ranks = [candidate_priority(t, 0) for t in ("host", "prflx", "srflx", "relay")]
    assert ranks == sorted(ranks, reverse=True)
    # Even the worst local preference of a better type outranks the best of a worse type.
    assert candidate_priority("srflx", 0) > candidate_priority("relay", 65535)


def test_tcp_below_udp_of_same_type() -> None:
    udp = candidate_priority("host", 65535)
    active = candidate_priority("host", 65535, transport="tcp", tcptype="active")
    passive = candidate_priority("host", 65535, transport="tcp", tcptype="passive")
    assert udp > active > passive
    assert active == (120 << 24) | (((6 << 13) | 0x1FFF) << 8) | 255


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        candidate_priority("host", 70000)
    with pytest.raises(KeyError):
        candidate_priority("bogus")
    with pytest.raises(ValueError):
        candidate_priority("host", component=0)


def test_prflx_priority_keeps_local_preference() -> None:
    host = candidate_priority("host", 1234)
    assert peer_reflexive_priority(host) == candidate_priority("prflx", 1234)
    assert peer_reflexive_priority(candidate_priority("relay", 7)) == candidate_priority("prflx", 7)


def test_pair_priority_formula() -> None:
    g, d = 100, 200
    assert pair_priority(g, d) == (100 << 32) + 2 * 200 + 0
    assert pair_priority(d, g) == (100 << 32) + 2 * 200 + 1
    # Both agents compute the same order for the same pair.
    a, b = candidate_priority("host", 5), candidate_priority("srflx", 9)
    assert pair_priority(a, b) != pair_priority(b, a)


def test_foundations() -> None:
    f1 = compute_foundation("host", "192.0.2.1")
    assert f1 == compute_foundation("host", "192.0.2.1", "UDP")
    assert f1 != compute_foundation("host", "192.0.2.2")
    assert f1 != compute_foundation("srflx", "192.0.2.1", server="stun:a:3478")
    assert compute_foundation("srflx", "192.0.2.1", server="stun:a:3478") != compute_foundation(
        "srflx", "192.0.2.1", server="stun:b:3478"
    )
    assert compute_foundation("host", "::1") == compute_foundation("host", "0:0::1")
    assert f1.isdigit() and len(f1) <= 32


def test_normalize_and_is_ip() -> None:
    assert normalize_host("FD00:0::2") == "fd00::2"
    assert normalize_host("fe80::1%eth0") == "fe80::1"
    assert normalize_host("abc.local") == "abc.local"
    assert is_ip_address("10.0.0.1") and is_ip_address("::1")
    assert not is_ip_address("f3a1c7e0-1111-2222-3333-444455556666.local")
