"""rtcpeer.dtls: certificates, the sans-I/O DTLS core and RFC 7983 demultiplexing."""

from rtcpeer.dtls.certificate import RTCCertificate, certificate_fingerprint
from rtcpeer.dtls.demux import classify
from rtcpeer.dtls.transport import (
    SRTP_PROFILES,
    DtlsClosed,
    DtlsConnected,
    DtlsCore,
    DtlsEvent,
    DtlsFailed,
    DtlsState,
    srtp_keys,
)

__all__ = [
    "SRTP_PROFILES",
    "DtlsClosed",
    "DtlsConnected",
    "DtlsCore",
    "DtlsEvent",
    "DtlsFailed",
    "DtlsState",
    "RTCCertificate",
    "certificate_fingerprint",
    "classify",
    "srtp_keys",
]
