"""SRTP/SRTCP sessions keyed from DTLS-SRTP (RFC 3711, RFC 5764 section 4.2, RFC 7714).

The DTLS exporter ("EXTRACTOR-dtls_srtp") yields, in order: client write master key, server
write master key, client write master salt, server write master salt (RFC 5764 section 4.2).
The DTLS client protects with the client key and unprotects with the server key; the server the
other way round. The ciphers themselves are libsrtp's, through pylibsrtp.
"""

from __future__ import annotations

from dataclasses import dataclass

import pylibsrtp

__all__ = ["PROFILES", "SrtpProfile", "SrtpSession", "keying_material_length"]


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    name: str
    libsrtp_id: int
    key_length: int
    salt_length: int


PROFILES: dict[str, SrtpProfile] = {
    "SRTP_AES128_CM_SHA1_80": SrtpProfile(
        "SRTP_AES128_CM_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14
    ),
    "SRTP_AEAD_AES_128_GCM": SrtpProfile(
        "SRTP_AEAD_AES_128_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12
    ),
}
# OpenSSL's spelling of the profile names, for callers that pass them through.
PROFILES["AEAD_AES_128_GCM"] = PROFILES["SRTP_AEAD_AES_128_GCM"]


def keying_material_length(profile: str) -> int:
    p = PROFILES[profile]
    return 2 * (p.key_length + p.salt_length)


class SrtpSession:
    """Protects outgoing and unprotects incoming RTP and RTCP for one DTLS association.

    ``unprotect``/``unprotect_rtcp`` return None on any failure (authentication, replay, bad
    length): the packet is dropped and counted in ``auth_failures``; nothing raises.
    """

    __slots__ = ("_rx", "_tx", "auth_failures", "profile")

    def __init__(self, profile: str, keying_material: bytes, is_client: bool) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unsupported SRTP profile {profile!r}")
        p = PROFILES[profile]
        self.profile = p
        k, s = p.key_length, p.salt_length
        if len(keying_material) < 2 * (k + s):
            raise ValueError(
                f"{profile} needs {2 * (k + s)} bytes of keying material, "
                f"got {len(keying_material)}"
            )
        client_key = keying_material[:k]
        server_key = keying_material[k : 2 * k]
        client_salt = keying_material[2 * k : 2 * k + s]
        server_salt = keying_material[2 * k + s : 2 * k + 2 * s]
        if is_client:
            tx_key, rx_key = client_key + client_salt, server_key + server_salt
        else:
            tx_key, rx_key = server_key + server_salt, client_key + client_salt
        self._tx = pylibsrtp.Session(self._policy(tx_key, p, pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        self._rx = pylibsrtp.Session(self._policy(rx_key, p, pylibsrtp.Policy.SSRC_ANY_INBOUND))
        self.auth_failures = 0

    @staticmethod
    def _policy(key: bytes, p: SrtpProfile, ssrc_type: int) -> pylibsrtp.Policy:
        policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=p.libsrtp_id)
        # Retransmissions without RTX reuse a sequence number (RFC 4585 NACK repair).
        policy.allow_repeat_tx = True
        policy.window_size = 1024
        return policy

    def protect(self, rtp: bytes) -> bytes:
        return bytes(self._tx.protect(rtp))

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        return bytes(self._tx.protect_rtcp(rtcp))

    def unprotect(self, srtp: bytes) -> bytes | None:
        try:
            return bytes(self._rx.unprotect(srtp))
        except (pylibsrtp.Error, ValueError, TypeError):
            self.auth_failures += 1
            return None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes | None:
        try:
            return bytes(self._rx.unprotect_rtcp(srtcp))
        except (pylibsrtp.Error, ValueError, TypeError):
            self.auth_failures += 1
            return None
