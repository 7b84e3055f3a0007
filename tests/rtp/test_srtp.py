"""SRTP/SRTCP sessions keyed the RFC 5764 way; failures drop the packet."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.packet import RtpPacket
from rtcpeer.rtp.rtcp import Pli, parse_rtcp, serialize_rtcp
from rtcpeer.rtp.srtp import SrtpSession, keying_material_length

PROFILES = ["SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM"]


def pair(profile: str) -> tuple[SrtpSession, SrtpSession]:
    km = os.urandom(keying_material_length(profile))
    return SrtpSession(profile, km, is_client=True), SrtpSession(profile, km, is_client=False)


@pytest.mark.parametrize("profile", PROFILES)
def test_rtp_and_rtcp_both_directions(profile: str) -> None:
    client, server = pair(profile)
    for seq in range(5):
        rtp = RtpPacket(96, seq, seq * 3000, 1234, b"payload%d" % seq).serialize()
        srtp = client.protect(rtp)
        assert srtp != rtp and len(srtp) > len(rtp)
        assert server.unprotect(srtp) == rtp
        back = server.protect(rtp)
        assert client.unprotect(back) == rtp
    rtcp = serialize_rtcp([Pli(1, 2)])
    assert parse_rtcp(server.unprotect_rtcp(client.protect_rtcp(rtcp)) or b"") == [Pli(1, 2)]


def test_key_layout_rfc5764() -> None:
    km = bytes(range(60))
    a = SrtpSession("SRTP_AES128_CM_SHA1_80", km, is_client=True)
    # the same material with client/server halves swapped decrypts the client's packets when
    # the receiver believes it is the client: proves which quarters are used for what.
    swapped = km[16:32] + km[0:16] + km[46:60] + km[32:46]
    b = SrtpSession("SRTP_AES128_CM_SHA1_80", swapped, is_client=True)
    rtp = RtpPacket(96, 1, 1, 5, b"x").serialize()
    assert b.unprotect(a.protect(rtp)) == rtp


@pytest.mark.parametrize("profile", PROFILES)
def test_tampered_and_replayed_packets_fail_closed(profile: str) -> None:
    client, server = pair(profile)
    rtp = RtpPacket(96, 7, 1, 99, b"secret").serialize()
    srtp = bytearray(client.protect(rtp))
    srtp[-1] ^= 1
    assert server.unprotect(bytes(srtp)) is None
    good = client.protect(RtpPacket(96, 8, 1, 99, b"s").serialize())
    assert server.unprotect(good) is not None
    assert server.unprotect(good) is None  # replay
    assert server.unprotect_rtcp(b"\x80\xc9\x00\x01garbage") is None
    assert server.auth_failures == 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SrtpSession("NOPE", bytes(60), True)
    with pytest.raises(ValueError):
        SrtpSession("SRTP_AES128_CM_SHA1_80", bytes(10), True)


_SESSION = pair("SRTP_AES128_CM_SHA1_80")[1]


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert _SESSION.unprotect(data) is None
    assert _SESSION.unprotect_rtcp(data) is None


def test_keyed_from_a_real_dtls_handshake() -> None:
    """The contract with rtcpeer.dtls: DtlsConnected(srtp_profile, keying_material) keys both
    ends, the DTLS client with is_client=True."""
    from rtcpeer.dtls.certificate import RTCCertificate
    from rtcpeer.dtls.transport import DtlsConnected, DtlsCore

    certs = [RTCCertificate.generate(), RTCCertificate.generate()]
    fps = [[(f["algorithm"], f["value"]) for f in c.getFingerprints()] for c in certs]
    client = DtlsCore(certs[0], "client", fps[1], srtp=True)
    server = DtlsCore(certs[1], "server", fps[0], srtp=True)
    now = 0.0
    client.start(now)
    server.start(now)
    for _ in range(20):
        for d in client.datagrams_to_send():
            server.receive(d, now)
        for d in server.datagrams_to_send():
            client.receive(d, now)
        if client.connected and server.connected:
            break
    ev = {
        name: [e for e in core.events() if isinstance(e, DtlsConnected)][0]
        for name, core in (("c", client), ("s", server))
    }
    profile = ev["c"].srtp_profile
    assert profile is not None and profile == ev["s"].srtp_profile
    c = SrtpSession(profile, ev["c"].keying_material, is_client=True)
    s = SrtpSession(profile, ev["s"].keying_material, is_client=False)
    rtp = RtpPacket(96, 1, 2, 3, b"media").serialize()
    assert s.unprotect(c.protect(rtp)) == rtp and c.unprotect(s.protect(rtp)) == rtp
