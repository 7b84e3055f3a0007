"""Sans-I/O DTLS 1.2 over pyOpenSSL memory BIOs (RFC 6347, RFC 8827 section 6.5, RFC 5764).

``DtlsCore`` runs one DTLS association: the handshake (ECDHE-ECDSA with AES-GCM), verification
of the peer's self-signed certificate against the SDP ``a=fingerprint`` (RFC 8122 section 5),
``use_srtp`` negotiation and ``EXTRACTOR-dtls_srtp`` key export (RFC 5764 section 4.2),
application records and close_notify.

Retransmission (RFC 6347 section 4.2.4) follows the caller's clock, never the wall clock: the
core keeps its own flight timer (1 s initial, doubling, capped at 60 s). When it fires the core
first lets OpenSSL retransmit (``DTLSv1_handle_timeout``, which does so only once OpenSSL's own
real-time timer has run out, as it has in a live connection; when that timer is due within
50 ms the core waits for it); otherwise (a fake clock) it re-sends the datagrams of its last
flight unchanged. An unchanged datagram is what a duplicating network delivers, so
every DTLS stack accepts it: the peer fills the holes and drops the duplicates. Because the
peer drops duplicates silently it cannot answer them, so the sender of the final flight re-sends
that flight itself whenever handshake records from the peer arrive after the handshake.

OpenSSL writes a flight into the memory BIO as a run of records; the core splits it at record
boundaries and packs records into datagrams of at most ``mtu`` bytes.

The hot path (one application record per datagram, either way) calls ``SSL_read``/``SSL_write``
through pyOpenSSL's cffi binding with one buffer per association (``_Fast``): about twice the
record rate of ``Connection.recv``/``send``.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from OpenSSL import SSL, crypto

try:  # pyOpenSSL's own cffi binding: the per-record hot path calls it directly (see _Fast)
    from OpenSSL._util import ffi as _ffi
    from OpenSSL._util import lib as _lib
except ImportError:  # pragma: no cover - other pyOpenSSL layouts use the public API
    _ffi = _lib = None

from rtcpeer.dtls.certificate import FINGERPRINT_ALGORITHMS, RTCCertificate, normalize_fingerprint

__all__ = [
    "SRTP_PROFILES",
    "DtlsClosed",
    "DtlsConnected",
    "DtlsCore",
    "DtlsEvent",
    "DtlsFailed",
    "DtlsState",
    "srtp_keys",
]

logger = logging.getLogger(__name__)

_DTLS1_2_VERSION = 0xFEFD
# ECDSA certificates are the default; RSA ones (webrtc-pc 4.10.2 RSASSA-PKCS1-v1_5) use the
# ECDHE-RSA suites, which the peer of an RSA endpoint must offer too.
_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
)
# OpenSSL profile name -> (master key length, master salt length), RFC 5764 / RFC 7714.
SRTP_PROFILES: dict[str, tuple[int, int]] = {
    "SRTP_AEAD_AES_128_GCM": (16, 12),
    "SRTP_AES128_CM_SHA1_80": (16, 14),
}
_SRTP_OFFER = b":".join(name.encode() for name in SRTP_PROFILES)
_SRTP_LABEL = b"EXTRACTOR-dtls_srtp"

_CT_CHANGE_CIPHER_SPEC = 20
_CT_HANDSHAKE = 22
_CT_APPLICATION_DATA = 23
_HEADER = 13  # DTLS record header: type, version(2), epoch(2), sequence(6), length(2)
_MAX_PLAINTEXT = 16384
_RELEASE_BUFFERS = True  # SSL_MODE_RELEASE_BUFFERS on our contexts (see _context)
_MAX_RECORD = _MAX_PLAINTEXT + 2048
_READ_BIO = 1 << 16
_OPENSSL_TIMER_GRACE = 0.05  # seconds


class DtlsState(enum.Enum):
    """W3C ``RTCDtlsTransportState``."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DtlsConnected:
    """The handshake finished and the peer's certificate matched the SDP fingerprint.

    ``srtp_profile`` is the OpenSSL name of the negotiated SRTP profile (a key of
    ``SRTP_PROFILES``) or None; ``keying_material`` the RFC 5764 exporter output for it
    (empty without SRTP); ``remote_certificate`` the peer's certificate in DER.
    """

    srtp_profile: str | None
    keying_material: bytes = field(repr=False)  # secret: keep it out of logs
    remote_certificate: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class DtlsClosed:
    """The association ended with close_notify (from either side)."""


@dataclass(frozen=True, slots=True)
class DtlsFailed:
    """The handshake or the association failed; ``reason`` says why."""

    reason: str


DtlsEvent = DtlsConnected | DtlsClosed | DtlsFailed


def srtp_keys(profile: str, keying_material: bytes, role: str) -> tuple[bytes, bytes]:
    """Split exported keying material into (local key+salt, remote key+salt) for ``role``.

    RFC 5764 section 4.2 lays it out as client key, server key, client salt, server salt; the
    key+salt concatenation is what libsrtp (pylibsrtp ``Policy.key``) takes.
    """
    key_len, salt_len = SRTP_PROFILES[profile]
    if len(keying_material) != 2 * (key_len + salt_len):
        raise ValueError("keying material has the wrong length for " + profile)
    m = keying_material
    client = m[:key_len] + m[2 * key_len : 2 * key_len + salt_len]
    server = m[key_len : 2 * key_len] + m[2 * key_len + salt_len :]
    return (client, server) if role == "client" else (server, client)


def _verify_callback(
    conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
) -> bool:
    ref = conn.get_app_data()
    core = ref() if isinstance(ref, weakref.ref) else None
    if not isinstance(core, DtlsCore):
        return False
    try:
        return core._verify_peer(cert, depth)
    except Exception as exc:  # never let a callback raise through OpenSSL
        core._verify_error = f"certificate verification error: {exc}"
        return False


def _context(certificate: RTCCertificate, srtp: bool) -> SSL.Context:
    """One SSL context per certificate and SRTP setting, shared by its connections."""
    key = ("dtls", srtp)
    ctx = certificate._contexts.get(key)
    if ctx is not None:
        return ctx  # type: ignore[no-any-return]
    with certificate._lock:
        ctx = certificate._contexts.get(key)
        if ctx is not None:
            return ctx  # type: ignore[no-any-return]
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_min_proto_version(_DTLS1_2_VERSION)
        ctx.set_max_proto_version(_DTLS1_2_VERSION)
        # No session resumption: every association must present (and verify) a certificate.
        ctx.set_options(
            SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET | SSL.OP_NO_RENEGOTIATION | SSL.OP_NO_COMPRESSION
        )
        ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        release = getattr(_lib, "SSL_MODE_RELEASE_BUFFERS", None) if _lib is not None else None
        if _RELEASE_BUFFERS and release:
            # Idle connections give their read/write buffers back (~34 KiB each).
            ctx.set_mode(release)
        ctx.set_cipher_list(_CIPHERS)
        ctx.use_certificate(certificate.certificate)
        ctx.use_privatekey(certificate.private_key)
        ctx.check_privatekey()
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _verify_callback)
        if srtp:
            ctx.set_tlsext_use_srtp(_SRTP_OFFER)
        certificate._contexts[key] = ctx
        return ctx


def _pack_records(buf: bytes, mtu: int) -> list[bytes]:
    """Split a run of DTLS records at record boundaries into datagrams of at most ``mtu``."""
    out: list[bytes] = []
    n = len(buf)
    start = pos = 0
    while pos + _HEADER <= n:
        end = pos + _HEADER + ((buf[pos + 11] << 8) | buf[pos + 12])
        if end > n:
            break
        if end - start > mtu and pos > start:
            out.append(buf[start:pos])
            start = pos
        pos = end
    if n > start:
        out.append(buf[start:])
    return out


class _Fast:
    """Direct ``SSL_read``/``SSL_write``/``BIO_*`` calls on the connection's own handles.

    pyOpenSSL's ``recv``/``send``/``bio_*`` allocate a fresh buffer and map errors through
    several Python layers on every call, which costs more than the AES-GCM itself for
    1,200-byte records. These calls use the same cffi binding and OpenSSL objects, one
    preallocated buffer per association, and fall back to the public API for anything but
    success and "no record" (``SSL_ERROR_WANT_READ``). Enabled only when the binding exposes
    what is needed (pyOpenSSL 24-26); otherwise ``DtlsCore`` uses the public API.
    """

    __slots__ = ("bio_in", "bio_out", "buf", "size", "ssl")

    def __init__(self, conn: SSL.Connection) -> None:
        assert _ffi is not None
        self.ssl = conn._ssl
        self.bio_in = conn._into_ssl
        self.bio_out = conn._from_ssl
        self.size = _MAX_RECORD
        self.buf = _ffi.new("char[]", self.size)

    @staticmethod
    def available(conn: SSL.Connection) -> bool:
        return (
            _lib is not None
            and all(hasattr(conn, a) for a in ("_ssl", "_into_ssl", "_from_ssl"))
            and all(
                hasattr(_lib, n)
                for n in ("SSL_read", "SSL_write", "SSL_get_error", "BIO_read", "BIO_write")
            )
        )


class DtlsCore:
    """One DTLS 1.2 association, sans-I/O (see the module docstring).

    ``srtp`` (default True) offers/accepts use_srtp even on data-only sessions: browsers always
    do, and some peers (aiortc) fail a handshake that negotiated no SRTP profile.
    """

    def __init__(
        self,
        certificate: RTCCertificate,
        role: Literal["client", "server"],
        remote_fingerprints: list[tuple[str, str]],
        srtp: bool = True,
        mtu: int = 1200,
        *,
        initial_timeout: float = 1.0,
        max_timeout: float = 60.0,
        handshake_timeout: float = 30.0,
    ) -> None:
        if role not in ("client", "server"):
            raise ValueError(f"role must be 'client' or 'server', not {role!r}")
        self.certificate = certificate
        self.role = role
        self.srtp = srtp
        self.mtu = mtu
        self.remote_fingerprints = [normalize_fingerprint(a, v) for a, v in remote_fingerprints]
        self.initial_timeout = initial_timeout
        self.max_timeout = max_timeout
        self.handshake_timeout = handshake_timeout
        self.state = DtlsState.NEW
        self.remote_certificate: bytes | None = None
        self.srtp_profile: str | None = None
        self._verify_error: str | None = None
        self._events: list[DtlsEvent] = []
        self._out: list[bytes] = []
        self._flight: list[bytes] = []
        self._final_flight: list[bytes] | None = None
        self._timer_at: float | None = None
        self._interval = initial_timeout
        self._deadline: float | None = None
        conn = SSL.Connection(_context(certificate, srtp), None)
        conn.set_app_data(weakref.ref(self))  # no reference cycle: freed as soon as dropped
        conn.set_ciphertext_mtu(mtu)
        if role == "client":
            conn.set_connect_state()
        else:
            conn.set_accept_state()
        self._conn = conn
        self._fast = _Fast(conn) if _Fast.available(conn) else None

    # -- driving ---------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Begin the handshake (the client sends its ClientHello; the server waits for it)."""
        if self.state is not DtlsState.NEW:
            return
        self.state = DtlsState.CONNECTING
        if self.role == "client":
            self._deadline = now + self.handshake_timeout
            self._handshake(now)
        # A server has no timer until the first datagram: it may be started long before ICE
        # connects, and ICE decides when that wait has failed.

    def receive(self, data: bytes | bytearray | memoryview, now: float) -> list[bytes]:
        """Feed one datagram; returns the decrypted application records it carried."""
        state = self.state
        if state is DtlsState.CONNECTED:
            return self._receive_app(data)
        if state is DtlsState.CONNECTING:
            if not data:
                return []
            try:
                self._conn.bio_write(data)
            except SSL.Error:
                return []
            if self._deadline is None:
                self._deadline = now + self.handshake_timeout
            self._handshake(now)
            if self.state is DtlsState.CONNECTED:
                return self._read_app(False)
        return []

    def send(self, data: bytes | bytearray | memoryview) -> bool:
        """Encrypt ``data`` as one application record; False when not connected.

        The record goes out as one datagram even when it exceeds ``mtu`` (keeping under it is
        the caller's job: SCTP packets are sized for it). More than 16384 bytes is a ValueError.
        """
        if len(data) > _MAX_PLAINTEXT:
            raise ValueError(f"a DTLS record carries at most {_MAX_PLAINTEXT} bytes")
        if self.state is not DtlsState.CONNECTED:
            return False
        if not data:
            return True  # an empty record carries nothing: send nothing
        fast = self._fast
        if fast is not None and type(data) is bytes:
            lib = _lib
            assert lib is not None and _ffi is not None
            n = len(data)
            if lib.SSL_write(fast.ssl, data, n) == n:
                got = lib.BIO_read(fast.bio_out, fast.buf, fast.size)
                if 0 < got < fast.size:
                    self._out.append(_ffi.buffer(fast.buf, got)[:])
                else:  # never for one record; keep the bytes and the datagram boundary anyway
                    head = _ffi.buffer(fast.buf, got)[:] if got > 0 else b""
                    record = head + self._drain_bio()
                    if record:
                        self._out.append(record)
                return True
            # not written: let pyOpenSSL write it and describe any error
        conn = self._conn
        try:
            conn.send(data)
            size = len(data) + 256
            rec = conn.bio_read(size)
            if len(rec) == size:  # never for one record, but keep datagram boundaries honest
                rec += self._drain_bio()
        except SSL.Error as exc:
            self._fail(f"send failed: {exc}")
            return False
        self._out.append(rec)
        return True

    def send_many(self, packets: list[bytes]) -> list[bytes]:
        """Encrypt each packet as one record and return every datagram waiting to go out.

        The same as ``send(p)`` for each packet followed by ``datagrams_to_send()`` (so
        anything queued before, e.g. an alert, keeps its place in front), with the per-record
        Python work of the fast path done once per batch: the asyncio shell's flush calls it
        with an SCTP burst. Packets above 16384 bytes raise ValueError, as ``send`` does.
        """
        fast = self._fast
        if fast is None or self.state is not DtlsState.CONNECTED:
            for packet in packets:
                self.send(packet)
            return self.datagrams_to_send()
        out = self._out
        self._out = []
        assert _lib is not None and _ffi is not None
        ssl_write = _lib.SSL_write
        bio_read = _lib.BIO_read
        buffer = _ffi.buffer
        ssl = fast.ssl
        bio_out = fast.bio_out
        buf = fast.buf
        size = fast.size
        i = 0
        for packet in packets:
            n = len(packet)
            if not 0 < n <= _MAX_PLAINTEXT or type(packet) is not bytes:
                break  # send() below deals with empty, oversized and non-bytes packets
            if ssl_write(ssl, packet, n) != n:
                break  # send() below retries through pyOpenSSL and reports the error
            got = bio_read(bio_out, buf, size)
            if 0 < got < size:
                out.append(buffer(buf, got)[:])
            else:  # never for one record; keep the bytes and the datagram boundary anyway
                record = (buffer(buf, got)[:] if got > 0 else b"") + self._drain_bio()
                if record:
                    out.append(record)
            i += 1
        else:
            return out
        self._out = out
        for packet in packets[i:]:
            self.send(packet)
        return self.datagrams_to_send()

    def receive_many(self, datagrams: list[bytes] | tuple[bytes, ...], now: float) -> list[bytes]:
        """``receive`` for a batch of datagrams (a shell's read burst): the decrypted
        application records of all of them, in order. Single-record application datagrams
        (the data path) are decrypted in one loop; anything else goes through ``receive``.
        """
        out: list[bytes] = []
        fast = self._fast
        if fast is None:
            for d in datagrams:
                out += self.receive(d, now)
            return out
        assert _lib is not None and _ffi is not None
        bio_write = _lib.BIO_write
        ssl_read = _lib.SSL_read
        buffer = _ffi.buffer
        ssl = fast.ssl
        bio_in = fast.bio_in
        buf = fast.buf
        size = fast.size
        for d in datagrams:
            n = len(d)
            if (
                _HEADER < n <= size
                and d[0] == _CT_APPLICATION_DATA
                and type(d) is bytes
                and self.state is DtlsState.CONNECTED
                and ((d[11] << 8) | d[12]) + _HEADER == n
                and bio_write(bio_in, d, n) == n
            ):
                got = ssl_read(ssl, buf, size)
                if got > 0:
                    self._final_flight = None  # the peer finished the handshake
                    out.append(buffer(buf, got)[:])
                elif _lib.SSL_get_error(ssl, got) != _lib.SSL_ERROR_WANT_READ:
                    out += self._read_app(True)  # an error: reported by the slow path
                # else: dropped by OpenSSL (a replay, a bad tag, an old epoch)
                continue
            out += self.receive(d, now)
        return out

    def timeout(self, now: float) -> None:
        """Run the handshake timers that are due at ``now``."""
        if self.state is not DtlsState.CONNECTING:
            return
        if self._deadline is not None and now >= self._deadline:
            self._fail("handshake timed out")
            return
        if self._timer_at is None or now < self._timer_at:
            return
        try:
            retransmitted = self._conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(self._verify_error or f"handshake failed: {exc}")
            return
        fresh = self._collect() if retransmitted else []
        if not fresh:
            # On the real clock OpenSSL's timer runs out a hair after ours: wait for it, its
            # retransmission (fresh record numbers) also makes a peer re-send a lost final
            # flight. With a fake clock (tests) it is far away: re-send the flight ourselves.
            remaining = self._conn.DTLSv1_get_timeout()
            if remaining is not None and 0 < remaining < _OPENSSL_TIMER_GRACE:
                self._timer_at = now + remaining
                return
        if fresh:
            self._flight = fresh
        self._out.extend(self._flight)
        self._interval = min(self._interval * 2.0, self.max_timeout)
        self._timer_at = now + self._interval

    def next_timeout(self) -> float | None:
        if self.state is not DtlsState.CONNECTING:
            return None
        if self._timer_at is None:
            return self._deadline
        if self._deadline is None:
            return self._timer_at
        return min(self._timer_at, self._deadline)

    def close(self) -> None:
        """Send close_notify (when connected) and enter the closed state."""
        if self.state in (DtlsState.CLOSED, DtlsState.FAILED):
            return
        if self.state is DtlsState.CONNECTED:
            try:
                self._conn.shutdown()
            except SSL.Error:
                pass
            self._out.extend(self._collect())
        self.state = DtlsState.CLOSED
        self._timer_at = None
        self._events.append(DtlsClosed())

    def datagrams_to_send(self) -> list[bytes]:
        out = self._out
        if out:
            self._out = []
        return out

    def events(self) -> list[DtlsEvent]:
        ev = self._events
        if ev:
            self._events = []
        return ev

    @property
    def connected(self) -> bool:
        return self.state is DtlsState.CONNECTED

    # -- internals -------------------------------------------------------------------------
    def _drain_bio(self) -> bytes:
        chunks: list[bytes] = []
        conn = self._conn
        while True:
            try:
                chunk = conn.bio_read(_READ_BIO)
            except SSL.WantReadError:
                break
            except SSL.Error:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _collect(self) -> list[bytes]:
        buf = self._drain_bio()
        return _pack_records(buf, self.mtu) if buf else []

    def _handshake(self, now: float) -> None:
        conn = self._conn
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            self._flush_flight(now)
            return
        except SSL.Error as exc:
            # Send our alert (e.g. bad_certificate) so the peer fails fast too.
            self._out.extend(self._collect())
            self._fail(self._verify_error or f"handshake failed: {_describe(exc)}")
            return
        # Handshake complete. Anything we send now is the final flight: keep it to answer the
        # peer's retransmissions, which OpenSSL drops as duplicates.
        fresh = self._collect()
        self._out.extend(fresh)
        self._final_flight = fresh or None
        self._timer_at = None
        self._flight = []
        self._on_connected()

    def _flush_flight(self, now: float) -> None:
        fresh = self._collect()
        if fresh:
            self._out.extend(fresh)
            self._flight = fresh
            self._interval = self.initial_timeout
            self._timer_at = now + self._interval

    def _on_connected(self) -> None:
        conn = self._conn
        peer = conn.get_peer_certificate(as_cryptography=True)
        if peer is None:
            self._fail("peer sent no certificate")
            return
        from cryptography.hazmat.primitives.serialization import Encoding

        der = peer.public_bytes(Encoding.DER)
        if not self._fingerprint_matches(der):
            self._fail(self._verify_error or "remote certificate does not match the fingerprint")
            return
        self.remote_certificate = der
        profile = b""
        material = b""
        if self.srtp:
            profile = conn.get_selected_srtp_profile() or b""
            if profile:
                name = profile.decode("ascii", "replace")
                lengths = SRTP_PROFILES.get(name)
                if lengths is None:
                    self._fail(f"peer selected unsupported SRTP profile {name}")
                    return
                material = conn.export_keying_material(_SRTP_LABEL, 2 * sum(lengths))
        self.srtp_profile = profile.decode("ascii") if profile else None
        self.state = DtlsState.CONNECTED
        self._events.append(DtlsConnected(self.srtp_profile, material, der))

    def _fingerprint_matches(self, der: bytes) -> bool:
        if not self.remote_fingerprints:
            self._verify_error = "no remote fingerprint (a=fingerprint missing from the SDP)"
            return False
        for algorithm, value in self.remote_fingerprints:
            name = FINGERPRINT_ALGORITHMS.get(algorithm)
            if name is None:
                continue
            digest = hashlib.new(name, der).digest()
            if ":".join(f"{b:02X}" for b in digest) == value:
                return True
        self._verify_error = "remote certificate does not match the SDP fingerprint"
        return False

    def _verify_peer(self, cert: crypto.X509, depth: int) -> bool:
        if depth > 0:
            return True  # intermediate certificates: only the leaf must match the SDP
        der = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
        return self._fingerprint_matches(der)

    def _receive_app(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        n = len(data)
        if n <= _HEADER:
            return []
        conn = self._conn
        if data[0] == _CT_APPLICATION_DATA and ((data[11] << 8) | data[12]) + _HEADER == n:
            # The hot path: one application record in the datagram, one SSL_read for it.
            fast = self._fast
            if fast is not None and n <= fast.size and type(data) is bytes:
                lib = _lib
                assert lib is not None and _ffi is not None
                if lib.BIO_write(fast.bio_in, data, n) == n:
                    got = lib.SSL_read(fast.ssl, fast.buf, fast.size)
                    if got > 0:
                        if self._final_flight is not None:
                            self._final_flight = None
                        return [_ffi.buffer(fast.buf, got)[:]]
                    if lib.SSL_get_error(fast.ssl, got) == lib.SSL_ERROR_WANT_READ:
                        return []  # dropped by OpenSSL: a replay, a bad tag, an old epoch
                    # Anything else (an error, close_notify can't be type 23): the slow path
                    # below reads the state again through pyOpenSSL and reports it.
                    return self._read_app(True)
            try:
                conn.bio_write(data)
                record = conn.recv(n)
            except SSL.WantReadError:
                return []  # dropped by OpenSSL: a replay, a bad tag, an old epoch
            except SSL.Error as exc:
                self._fail(f"connection failed: {_describe(exc)}")
                return []
            if self._final_flight is not None:
                self._final_flight = None  # the peer finished the handshake
            return [record]
        try:
            conn.bio_write(data)
        except SSL.Error:
            return []
        # Application records (type 23) never make OpenSSL write anything: skip the BIO check.
        queued = len(self._out)
        out = self._read_app(data[0] != _CT_APPLICATION_DATA)
        final = self._final_flight
        if final is not None and data[0] in (_CT_HANDSHAKE, _CT_CHANGE_CIPHER_SPEC):
            # The peer retransmits its last flight: it lost ours. OpenSSL may have answered
            # already (a fresh Finished); if it stayed silent, re-send our final flight.
            if len(self._out) == queued and self.state is DtlsState.CONNECTED:
                self._out.extend(final)
        return out

    def _read_app(self, check_output: bool) -> list[bytes]:
        out: list[bytes] = []
        conn = self._conn
        while True:
            try:
                out.append(conn.recv(_MAX_RECORD))
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._on_close_notify()
                break
            except SSL.Error as exc:
                self._fail(f"connection failed: {_describe(exc)}")
                break
        if out:
            # The peer finished the handshake: our final flight is no longer needed.
            self._final_flight = None
        if check_output and self.state is DtlsState.CONNECTED:
            pending = self._drain_bio()
            if pending:
                self._out.extend(_pack_records(pending, self.mtu))
        return out

    def _on_close_notify(self) -> None:
        try:
            self._conn.shutdown()
        except SSL.Error:
            pass
        self._out.extend(self._collect())
        self.state = DtlsState.CLOSED
        self._events.append(DtlsClosed())

    def _fail(self, reason: str) -> None:
        if self.state in (DtlsState.FAILED, DtlsState.CLOSED):
            return
        logger.debug("DTLS %s failed: %s", self.role, reason)
        self.state = DtlsState.FAILED
        self._timer_at = None
        self._final_flight = None
        self._events.append(DtlsFailed(reason))


def _describe(exc: Any) -> str:
    try:
        args = exc.args[0]
        if isinstance(args, list) and args:
            return "; ".join(str(a[-1]) for a in args if isinstance(a, tuple) and a)
    except (IndexError, TypeError):
        pass
    return str(exc) or type(exc).__name__
