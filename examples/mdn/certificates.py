"""MDN ``RTCPeerConnection.generateCertificate()`` and ``RTCCertificate``, ported.

https://developer.mozilla.org/en-US/docs/Web/API/RTCPeerConnection/generateCertificate_static
https://developer.mozilla.org/en-US/docs/Web/API/RTCCertificate

Generate a certificate once, hand it to ``RTCPeerConnection({"certificates": [cert]})``, and
read ``expires`` and ``getFingerprints()``; the fingerprint is the one in the SDP
(``a=fingerprint``) and the one the peer checks during the DTLS handshake.

What differs: MDN's example asks for ``RSASSA-PKCS1-v1_5`` (2048 bits); rtcpeer only makes
ECDSA P-256 certificates (the other algorithm the W3C spec requires) and raises
NotSupportedError for RSA. This port uses ECDSA P-256.

Run: ``python examples/mdn/certificates.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rtcpeer import RTCCertificate, RTCPeerConnection


async def main() -> dict[str, Any]:
    cert: RTCCertificate = await RTCPeerConnection.generateCertificate(
        {"name": "ECDSA", "namedCurve": "P-256"}
    )
    pc = RTCPeerConnection({"certificates": [cert], "includeLoopback": True})
    pc.createDataChannel("x")
    offer = await pc.createOffer()
    fingerprints = cert.getFingerprints()
    out = {
        "expires_in_days": (cert.expires - time.time() * 1000) / 86400000,
        "fingerprints": fingerprints,
        # SDP writes the fingerprint in upper case (RFC 8122); the W3C value is lower case.
        "in_sdp": f"a=fingerprint:{fingerprints[0]['algorithm']} {fingerprints[0]['value'].upper()}"
        in offer.sdp,
        "configured": pc.getConfiguration()["certificates"] == [cert],
    }
    pc.close()
    return out


if __name__ == "__main__":
    print(asyncio.run(main()))
