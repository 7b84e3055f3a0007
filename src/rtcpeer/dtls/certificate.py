"""RTCCertificate: the W3C certificate object (webrtc-pc section 4.9) and SDP fingerprints.

A WebRTC endpoint authenticates with a self-signed certificate whose hash travels in the SDP
``a=fingerprint`` attribute (RFC 8122 section 5, RFC 8827 section 6.5). Keys are ECDSA P-256 by
default (the browsers' default); RSASSA-PKCS1-v1_5 2048/65537/SHA-256, the other algorithm
webrtc-pc 4.10.2 makes mandatory, is available through ``generateCertificate``. The certificate is
created with ``cryptography``. Key generation is cheap but
not free, so ``RTCCertificate.default()`` hands out one process-wide certificate until it nears
its expiry: creating a peer connection does not generate a key unless asked to.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from rtcpeer.errors import NotSupportedError

__all__ = [
    "FINGERPRINT_ALGORITHMS",
    "RTCCertificate",
    "RTCDtlsFingerprint",
    "certificate_fingerprint",
    "normalize_fingerprint",
]

# hash name used in SDP (RFC 8122, "hash-func") -> hashlib name
FINGERPRINT_ALGORITHMS: dict[str, str] = {
    "sha-1": "sha1",
    "sha-224": "sha224",
    "sha-256": "sha256",
    "sha-384": "sha384",
    "sha-512": "sha512",
}

# W3C: a generated certificate expires after 30 days unless asked otherwise.
DEFAULT_LIFETIME_MS = 30 * 24 * 3600 * 1000
# Hand out the cached certificate only while it has at least this much life left.
_DEFAULT_REFRESH_MARGIN_MS = 24 * 3600 * 1000

RTCDtlsFingerprint = dict[str, str]  # {"algorithm": "sha-256", "value": "AB:CD:..."}
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# RSASSA-PKCS1-v1_5 keys generateCertificate() accepts (Chromium: 1024..8192 bits, exponent
# 65537 only, SHA-256 only).
_RSA_MIN_BITS, _RSA_MAX_BITS = 1024, 8192
_RSA_EXPONENT = 65537


def _hex_colons(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def certificate_fingerprint(der: bytes, algorithm: str = "sha-256") -> str:
    """Fingerprint of a DER certificate as SDP writes it: upper-case hex pairs with colons."""
    name = FINGERPRINT_ALGORITHMS.get(algorithm.lower())
    if name is None:
        raise NotSupportedError(f"unsupported fingerprint algorithm {algorithm!r}")
    return _hex_colons(hashlib.new(name, der).digest())


def normalize_fingerprint(algorithm: str, value: str) -> tuple[str, str]:
    """(algorithm lower-case, value upper-case hex with colons) for comparison."""
    return algorithm.strip().lower(), value.strip().upper()


def _rsa_modulus_length(params: Mapping[str, Any], spec: object) -> int:
    """Check an RsaHashedKeyGenParams dictionary (WebCrypto) and return its modulus length."""
    bits = params.get("modulusLength")
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise NotSupportedError(f"keygenAlgorithm {spec!r}: modulusLength must be an int")
    if not _RSA_MIN_BITS <= bits <= _RSA_MAX_BITS:
        raise NotSupportedError(f"keygenAlgorithm {spec!r}: modulusLength {bits} not supported")
    exponent = params.get("publicExponent", _RSA_EXPONENT)
    if isinstance(exponent, (bytes, bytearray, memoryview, list, tuple)):
        try:
            exponent = int.from_bytes(bytes(exponent), "big")
        except (TypeError, ValueError) as exc:
            raise NotSupportedError(f"keygenAlgorithm {spec!r}: bad publicExponent") from exc
    if exponent != _RSA_EXPONENT:
        raise NotSupportedError(f"keygenAlgorithm {spec!r}: publicExponent must be 65537")
    hash_name = params.get("hash", "SHA-256")
    if isinstance(hash_name, Mapping):
        hash_name = hash_name.get("name")
    if not isinstance(hash_name, str) or hash_name.upper() != "SHA-256":
        raise NotSupportedError(f"keygenAlgorithm {spec!r}: hash must be SHA-256")
    return bits


class RTCCertificate:
    """A private key and its self-signed X.509 certificate (W3C ``RTCCertificate``).

    ``expires`` is milliseconds since the Unix epoch, as in the W3C API.
    """

    __slots__ = ("_contexts", "_der", "_fingerprints", "_lock", "certificate", "private_key")

    _default: RTCCertificate | None = None
    _default_lock = threading.Lock()

    def __init__(self, private_key: PrivateKey, certificate: x509.Certificate):
        self.private_key = private_key
        self.certificate = certificate
        self._der = certificate.public_bytes(serialization.Encoding.DER)
        self._fingerprints: list[RTCDtlsFingerprint] | None = None
        # SSL contexts built for this certificate (owned by rtcpeer.dtls.transport).
        self._contexts: dict[Any, Any] = {}
        self._lock = threading.Lock()

    # -- W3C API -----------------------------------------------------------------------------
    @property
    def expires(self) -> float:
        """Expiry time in milliseconds since the Unix epoch."""
        return self.certificate.not_valid_after_utc.timestamp() * 1000.0

    def getFingerprints(self) -> list[RTCDtlsFingerprint]:
        """The certificate's fingerprints (sha-256), as W3C ``RTCDtlsFingerprint`` dicts.

        The value is lower-case hex as the W3C specifies and browsers return; SDP's
        a=fingerprint (RFC 8122) writes the same value in upper case.
        """
        if self._fingerprints is None:
            value = certificate_fingerprint(self._der, "sha-256").lower()
            self._fingerprints = [{"algorithm": "sha-256", "value": value}]
        return [dict(fp) for fp in self._fingerprints]

    @classmethod
    async def generateCertificate(
        cls,
        keygenAlgorithm: str | Mapping[str, Any] | None = None,
    ) -> RTCCertificate:
        """W3C ``RTCPeerConnection.generateCertificate`` (webrtc-pc 4.10.2).

        ``keygenAlgorithm`` may be ``"ECDSA"``, ``{"name": "ECDSA", "namedCurve": "P-256"}`` or
        ``{"name": "RSASSA-PKCS1-v1_5", "modulusLength": 2048, "publicExponent":
        bytes([1, 0, 1]), "hash": "SHA-256"}`` (``publicExponent`` big-endian bytes, a list of
        byte values or an int), optionally with ``"expires"`` (milliseconds from now). Other
        algorithms raise ``NotSupportedError``. Key generation runs in a worker thread.
        """
        expires_ms: float = DEFAULT_LIFETIME_MS
        rsa_bits = 0
        if keygenAlgorithm is not None:
            if isinstance(keygenAlgorithm, str):
                name, curve = keygenAlgorithm, "P-256"
                params: Mapping[str, Any] = {}
            else:
                params = keygenAlgorithm
                name = str(params.get("name", ""))
                curve = str(params.get("namedCurve", "P-256"))
                if "expires" in params:
                    expires_ms = float(params["expires"])
            if name.upper() == "RSASSA-PKCS1-V1_5":
                rsa_bits = _rsa_modulus_length(params, keygenAlgorithm)
            elif name.upper() != "ECDSA" or curve.upper() != "P-256":
                raise NotSupportedError(
                    f"unsupported keygenAlgorithm {keygenAlgorithm!r}: "
                    "ECDSA P-256 or RSASSA-PKCS1-v1_5 are supported"
                )
        return await asyncio.to_thread(cls.generate, expires_ms, rsa_bits)

    # -- Python API --------------------------------------------------------------------------
    @classmethod
    def generate(cls, expires_ms: float = DEFAULT_LIFETIME_MS, rsa_bits: int = 0) -> RTCCertificate:
        """Generate a key and a self-signed certificate valid for ``expires_ms``.

        The key is ECDSA P-256, or RSA (exponent 65537) of ``rsa_bits`` bits when that is set;
        the certificate is signed with SHA-256 either way (PKCS#1 v1.5 for RSA).
        """
        if expires_ms <= 0:
            raise ValueError("expires must be positive")
        key: PrivateKey
        if rsa_bits:
            key = rsa.generate_private_key(public_exponent=_RSA_EXPONENT, key_size=rsa_bits)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "rtcpeer-" + secrets.token_hex(8))]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Back-date a day: peers with a skewed clock must not see a "future" certificate.
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(milliseconds=expires_ms))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def default(cls) -> RTCCertificate:
        """The process-wide certificate, generated once and renewed a day before it expires."""
        with cls._default_lock:
            cert = cls._default
            if cert is None or cert.expires - time.time() * 1000.0 < _DEFAULT_REFRESH_MARGIN_MS:
                cert = cls._default = cls.generate()
            return cert

    @property
    def der(self) -> bytes:
        """The certificate in DER encoding."""
        return self._der

    def fingerprint(self, algorithm: str = "sha-256") -> str:
        """The certificate's fingerprint with any RFC 8122 hash function."""
        return certificate_fingerprint(self._der, algorithm)

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def __repr__(self) -> str:
        return f"RTCCertificate(expires={self.expires:.0f}, sha-256={self.fingerprint()})"
