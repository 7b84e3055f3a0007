"""RTCCertificate (W3C) and RFC 7983 demultiplexing."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.dtls import RTCCertificate, certificate_fingerprint, classify
from rtcpeer.dtls.demux import classify_datagram
from rtcpeer.errors import NotSupportedError

FP_RE = re.compile(r"^([0-9a-f]{2}:){31}[0-9a-f]{2}$")  # W3C: lower-case hex


def test_generate_ecdsa_p256_and_fingerprints() -> None:
    cert = RTCCertificate.generate()
    key = cert.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    (fp,) = cert.getFingerprints()
    assert fp["algorithm"] == "sha-256"
    assert FP_RE.match(fp["value"])
    digest = hashlib.sha256(cert.der).hexdigest()
    assert fp["value"].replace(":", "") == digest
    assert cert.fingerprint("sha-1") == certificate_fingerprint(cert.der, "sha-1")
    assert len(cert.fingerprint("sha-512").split(":")) == 64
    with pytest.raises(NotSupportedError):
        cert.fingerprint("md5")
    # the list is a copy: callers cannot corrupt the certificate
    cert.getFingerprints()[0]["value"] = "x"
    assert cert.getFingerprints() == [fp]
    assert b"BEGIN CERTIFICATE" in cert.certificate_pem()
    assert b"PRIVATE KEY" in cert.private_key_pem()


def test_expires_is_ms_since_epoch() -> None:
    cert = RTCCertificate.generate()
    thirty_days = 30 * 24 * 3600 * 1000
    now_ms = time.time() * 1000
    assert abs(cert.expires - (now_ms + thirty_days)) < 5000
    short = RTCCertificate.generate(expires_ms=60_000)
    assert abs(short.expires - (now_ms + 60_000)) < 5000
    with pytest.raises(ValueError):
        RTCCertificate.generate(expires_ms=0)


def test_default_certificate_is_cached() -> None:
    a = RTCCertificate.default()
    b = RTCCertificate.default()
    assert a is b


async def test_generate_certificate_async() -> None:
    cert = await RTCCertificate.generateCertificate({"name": "ECDSA", "namedCurve": "P-256"})
    assert cert.getFingerprints()[0]["algorithm"] == "sha-256"
    other = await RTCCertificate.generateCertificate("ECDSA")
    assert other.fingerprint() != cert.fingerprint()
    timed = await RTCCertificate.generateCertificate(
        {"name": "ECDSA", "namedCurve": "P-256", "expires": 3_600_000}
    )
    assert timed.expires < cert.expires
    with pytest.raises(NotSupportedError):
        await RTCCertificate.generateCertificate({"name": "RSASSA-PKCS1-v1_5"})
    with pytest.raises(NotSupportedError):
        await RTCCertificate.generateCertificate({"name": "ECDSA", "namedCurve": "P-384"})


@pytest.mark.parametrize(
    ("byte", "kind"),
    [
        (0, "stun"),
        (1, "stun"),
        (3, "stun"),
        (4, "unknown"),
        (16, "unknown"),  # ZRTP is not used by WebRTC
        (19, "unknown"),
        (20, "dtls"),
        (22, "dtls"),
        (23, "dtls"),
        (63, "dtls"),
        (64, "turn-channel"),
        (79, "turn-channel"),
        (80, "unknown"),
        (127, "unknown"),
        (128, "rtp"),
        (191, "rtp"),
        (192, "unknown"),
        (255, "unknown"),
        (-1, "unknown"),
        (256, "unknown"),
    ],
)
def test_classify(byte: int, kind: str) -> None:
    assert classify(byte) == kind


@given(st.binary(max_size=20))
def test_classify_datagram_matches_first_byte(data: bytes) -> None:
    kind = classify_datagram(data)
    assert kind == (classify(data[0]) if data else "unknown")
    assert kind in ("stun", "dtls", "rtp", "turn-channel", "unknown")
