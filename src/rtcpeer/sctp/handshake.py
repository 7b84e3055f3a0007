"""Association set-up (RFC 9260 section 5): INIT, INIT ACK with an HMAC-signed state cookie
(hmac/hashlib SHA-256, lifetime checked), COOKIE ECHO, COOKIE ACK, INIT collisions and peer
restart (5.2).
"""

from __future__ import annotations

import hashlib
import hmac

from rtcpeer.sctp._base import (
    _COOKIE,
    _COOKIE_MAC,
    _HDR,
    _M32,
    _PEER_FWD_TSN,
    _PEER_IDATA,
    _PEER_RECONFIG,
    _S,
    AssociationBase,
    _Cookie,
)
from rtcpeer.sctp.chunks import (
    CauseCode,
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    Param,
    ParamType,
    encode_params,
)
from rtcpeer.sctp.events import (
    AssociationError,
    AssociationRestarted,
    Connected,
)


class HandshakeMixin(AssociationBase):
    def _extension_params(self) -> list[Param]:
        ext = [ChunkType.FORWARD_TSN, ChunkType.RECONFIG]
        if self.interleaving:
            ext += [ChunkType.I_DATA, ChunkType.I_FORWARD_TSN]  # RFC 8260 2.2
        return [
            Param(ParamType.SUPPORTED_EXTENSIONS, bytes(ext)),
            Param(ParamType.FORWARD_TSN_SUPPORTED, b""),
        ]

    def _new_local_tag(self) -> None:
        self.local_tag = self._rng.randrange(1, 1 << 32)
        self._local_initial_tsn = self._rng.randrange(0, 1 << 32)

    @staticmethod
    def _screen_params(params: list[Param]) -> tuple[list[Param], list[Param]]:
        """RFC 9260 3.2.1: act on the two high bits of each unrecognized parameter type.

        Returns the parameters to process (cut at the first unknown one whose 0x8000 bit is
        clear: "stop processing") and the encoded unknown parameters to report (0x4000 set),
        at most 512 bytes of them so an INIT ACK or ERROR carrying them stays one packet.
        """
        keep: list[Param] = []
        report: list[Param] = []
        size = 0
        for p in params:
            if p.type in _KNOWN_PARAMS:
                keep.append(p)
                continue
            if p.type & 0x4000 and size + 4 + len(p.value) <= 512:
                report.append(p)
                size += (4 + len(p.value) + 3) & ~3
            if not p.type & 0x8000:
                break
        return keep, report

    @staticmethod
    def _peer_flags_of(init: InitChunk) -> int:
        flags = 0
        ext = init.param(ParamType.SUPPORTED_EXTENSIONS) or b""
        if init.param(ParamType.FORWARD_TSN_SUPPORTED) is not None or (
            ChunkType.FORWARD_TSN in ext
        ):
            flags |= _PEER_FWD_TSN
        if ChunkType.RECONFIG in ext:
            flags |= _PEER_RECONFIG
        if ChunkType.I_DATA in ext:
            flags |= _PEER_IDATA
        return flags

    def _on_init(self, init: InitChunk) -> None:
        """RFC 9260 5.1 and 5.2.1/5.2.2: answer INIT with INIT ACK and a state cookie."""
        if init.initiate_tag == 0 or init.outbound_streams == 0 or init.inbound_streams == 0:
            return
        if not self._init_allowed():
            return
        init.params, unrecognized = self._screen_params(init.params)
        local_tie = peer_tie = 0
        if self.state is _S.CLOSED:
            # Stateless (5.1.3): everything needed later travels in the signed cookie.
            local_tag = self._rng.randrange(1, 1 << 32)
            local_tsn = self._rng.randrange(0, 1 << 32)
        elif self.state in (_S.COOKIE_WAIT, _S.COOKIE_ECHOED):
            local_tag, local_tsn = self.local_tag, self._local_initial_tsn
            if self.state is _S.COOKIE_ECHOED:
                local_tie, peer_tie = self.local_tag, self.peer_tag
        elif self.state is _S.SHUTDOWN_ACK_SENT:
            return
        else:
            # 5.2.2: an unexpected INIT in an established association; a new cookie with
            # tie-tags lets a restart be detected (case A, _on_peer_restart).
            local_tag = self._rng.randrange(1, 1 << 32)
            local_tsn = self._rng.randrange(0, 1 << 32)
            local_tie, peer_tie = self.local_tag, self.peer_tag
        out_streams = min(self._streams, init.inbound_streams)
        in_streams = min(self._streams, init.outbound_streams)
        cookie = _Cookie(
            self._now,
            init.initiate_tag,
            init.initial_tsn,
            init.a_rwnd,
            out_streams,
            in_streams,
            local_tag,
            local_tsn,
            self._peer_flags_of(init),
            local_tie,
            peer_tie,
            self._preservative(init),
        )
        params = [Param(ParamType.STATE_COOKIE, self._sign_cookie(cookie))]
        params += self._extension_params()
        if unrecognized:
            # 3.3.3: each unknown parameter to report goes back in an Unrecognized Parameter.
            params += [Param(ParamType.UNRECOGNIZED, encode_params([p])) for p in unrecognized]
        ack = InitAckChunk(
            local_tag, self.receive_window, self._streams, self._streams, local_tsn, params
        )
        self._send_packet(init.initiate_tag, ack.encode())

    def _preservative(self, init: InitChunk) -> int:
        """The lifetime extension (ms) granted to a Cookie Preservative in ``init``: at most
        the cookie lifetime again, as a long-lived cookie invites replays (5.2.6)."""
        raw = init.param(ParamType.COOKIE_PRESERVATIVE)
        if raw is None or len(raw) != 4:
            return 0
        return min(int.from_bytes(raw, "big"), int(self.cookie_lifetime * 1000))

    def _on_stale_cookie(self, now: float) -> None:
        """5.2.6: our COOKIE ECHO was too late; start again with a new INIT that asks for a
        longer cookie lifetime (Cookie Preservative: the measured round trip plus 1 s)."""
        if self.state is not _S.COOKIE_ECHOED:
            return
        rtt = max(0.0, now - self._echo_sent_at)
        extra = min(int((rtt + 1.0) * 1000), 0xFFFFFFFF)
        init = InitChunk.decode(0, self._init_chunk[4:])
        params = [p for p in init.params if p.type != ParamType.COOKIE_PRESERVATIVE]
        init.params = [Param(ParamType.COOKIE_PRESERVATIVE, extra.to_bytes(4, "big")), *params]
        self._init_chunk = init.encode()
        self._t1_count += 1
        if self._t1_count > self.max_init_retransmissions:
            self._close("association setup timed out (stale cookies)")
            return
        self.state = _S.COOKIE_WAIT
        self.peer_tag = 0
        self._header = b""
        self._send_packet(0, self._init_chunk)
        self._t1_at = now + self._rto

    def _init_allowed(self) -> bool:
        """Token bucket on answered INITs: an INIT flood costs at most ``init_rate`` INIT ACKs
        (and HMACs) per second after a burst of ``init_burst``; reported once per flood."""
        now = self._now
        tokens = self._init_tokens + (now - self._init_tokens_at) * self.init_rate
        self._init_tokens_at = now
        if tokens >= self.init_burst:
            tokens = float(self.init_burst)
            self._init_flood_reported = False
        if tokens < 1.0:
            self._init_tokens = tokens
            if not self._init_flood_reported:
                self._init_flood_reported = True
                self._events.append(
                    AssociationError("init-flood", "too many INIT chunks: some left unanswered")
                )
            return False
        self._init_tokens = tokens - 1.0
        return True

    def _sign_cookie(self, c: _Cookie) -> bytes:
        body = _COOKIE.pack(
            c.created,
            c.peer_tag,
            c.peer_initial_tsn,
            c.peer_rwnd,
            c.out_streams,
            c.in_streams,
            c.local_tag,
            c.local_initial_tsn,
            c.peer_flags,
            c.local_tie_tag,
            c.peer_tie_tag,
            c.extra_ms,
        )
        return body + hmac.new(self._secret, body, hashlib.sha256).digest()[:_COOKIE_MAC]

    def _open_cookie(self, raw: bytes) -> _Cookie | None:
        if len(raw) != _COOKIE.size + _COOKIE_MAC:
            return None
        body = raw[: _COOKIE.size]
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:_COOKIE_MAC]
        if not hmac.compare_digest(mac, raw[_COOKIE.size :]):
            return None
        return _Cookie(*_COOKIE.unpack(body))

    def _on_init_ack(self, ack: InitAckChunk, now: float) -> None:
        if self.state is not _S.COOKIE_WAIT or ack.initiate_tag == 0:
            return
        ack.params, unrecognized = self._screen_params(ack.params)
        cookie = ack.param(ParamType.STATE_COOKIE)
        if cookie is None:
            return
        self._adopt_peer(
            ack.initiate_tag,
            ack.initial_tsn,
            ack.a_rwnd,
            min(self._streams, ack.inbound_streams),
            min(self._streams, ack.outbound_streams),
            self._peer_flags_of(ack),
        )
        self._cookie_echo = CookieEchoChunk(cookie).encode()
        self._echo_sent_at = now
        self.state = _S.COOKIE_ECHOED
        first = self._cookie_echo
        if unrecognized:
            # 3.2.2: unknown INIT ACK parameters are reported in an ERROR after COOKIE ECHO.
            cause = Param(CauseCode.UNRECOGNIZED_PARAMS, encode_params(unrecognized))
            first += ErrorChunk([cause]).encode()
        self._send_packet(self.peer_tag, first)
        self._rto = self.rto_initial
        self._t1_at = now + self._rto
        self._t1_count = 0

    def _adopt_peer(
        self, tag: int, initial_tsn: int, rwnd: int, out_s: int, in_s: int, flags: int
    ) -> None:
        self.peer_tag = tag
        self._cum_in = initial_tsn - 1
        self._peer_req_expected = initial_tsn & _M32
        self._peer_rwnd = rwnd
        self._ssthresh = max(rwnd, 4 * self.mtu)
        self.outbound_streams = out_s
        self.inbound_streams = in_s
        self._peer_flags = flags
        # I-DATA replaces DATA (and I-FORWARD-TSN FORWARD-TSN) when both ends offered it.
        self._idata = self.interleaving and bool(flags & _PEER_IDATA)
        self._seq_mask = _M32 if self._idata else 0xFFFF
        self._header = _HDR.pack(self.local_port, self.remote_port, tag)

    def _on_cookie_echo(self, echo: CookieEchoChunk, tag: int, now: float) -> bool:
        """5.1 step D and table 5.2.4; returns True when the rest of the packet may be read."""
        c = self._open_cookie(echo.cookie)
        if c is None or tag != c.local_tag:
            return False
        age = self._now - c.created - c.extra_ms / 1000
        # A cookie of the association we already hold (our current tag; only our key signs
        # it) creates nothing new, so its age does not matter: answering it as stale would
        # send a simultaneous-open peer whose COOKIE ACKs were lost back to INIT forever.
        current = self.state is not _S.CLOSED and c.local_tag == self.local_tag
        if not current and not -1.0 <= age <= self.cookie_lifetime:
            # Stale (5.1.5 step 3, 3.3.10.3): tell the peer by how much so it starts again.
            if self.state is _S.CLOSED or c.local_tag != self.local_tag:
                late = min(max(int((age - self.cookie_lifetime) * 1e6), 0), 0xFFFFFFFF)
                cause = Param(CauseCode.STALE_COOKIE, late.to_bytes(4, "big"))
                self._send_packet(c.peer_tag, ErrorChunk([cause]).encode())
            return False
        if self.state is _S.CLOSED:
            self.local_tag = c.local_tag
            self._local_initial_tsn = c.local_initial_tsn
            self._init_sender()
        elif c.local_tag != self.local_tag:
            if (
                c.peer_tag != self.peer_tag
                and c.local_tie_tag == self.local_tag
                and c.peer_tie_tag == self.peer_tag
            ):
                return self._on_peer_restart(c)  # case A
            return False  # case C: discard
        flags = c.peer_flags
        if self.state in (_S.CLOSED, _S.COOKIE_WAIT, _S.COOKIE_ECHOED):
            if self.state is not _S.CLOSED and self.peer_tag == c.peer_tag:
                pass  # case D: peer info already known from the INIT ACK
            self._adopt_peer(
                c.peer_tag,
                c.peer_initial_tsn,
                c.peer_rwnd,
                c.out_streams,
                c.in_streams,
                flags,
            )
            self._ctrl.append(CookieAckChunk().encode())
            self._established()
        elif c.peer_tag == self.peer_tag:
            self._ctrl.append(CookieAckChunk().encode())  # duplicate COOKIE ECHO (case D)
        else:
            return False
        return True

    def _on_peer_restart(self, c: _Cookie) -> bool:
        """Table 5.2.4 case A: the peer restarted and echoes a cookie made (5.2.2) from an
        INIT received while we were established, with our old tags as tie-tags. The old
        incarnation's queues, in-flight data and stream state are dropped, the new tags and
        TSNs adopted, congestion control starts afresh and the ULP is told."""
        if self.state is _S.SHUTDOWN_ACK_SENT:
            # 5.2.4 A: no new association while shutting down; resend SHUTDOWN ACK (with the
            # current tags) and tell the restarted peer why with an ERROR.
            self._ctrl.append(bytes((ChunkType.SHUTDOWN_ACK, 0, 0, 4)))
            cause = Param(CauseCode.COOKIE_WHILE_SHUTTING_DOWN, b"")
            self._send_packet(c.peer_tag, ErrorChunk([cause]).encode())
            return False
        if self.state not in _RESTARTABLE:
            return False
        # A graceful close the user asked for survives (not one the old peer asked for).
        shutting_down = self.state is _S.SHUTDOWN_PENDING or self.state is _S.SHUTDOWN_SENT
        dropped = [sid for sid, n in self._buffered.items() if n]
        self._init_transfer_state()
        for sid in dropped:
            self._buffered[sid] = 0
            self._buffer_decreased.add(sid)
        self._ctrl.clear()
        self.local_tag = c.local_tag
        self._local_initial_tsn = c.local_initial_tsn
        self._init_sender()
        self._adopt_peer(
            c.peer_tag, c.peer_initial_tsn, c.peer_rwnd, c.out_streams, c.in_streams, c.peer_flags
        )
        self._ctrl.append(CookieAckChunk().encode())
        self.state = _S.ESTABLISHED
        self._t1_at = None
        self._t2_at = None
        self._t2_count = 0
        self._hb_at = self._now + self.heartbeat_interval + self._rto
        self._events.append(AssociationRestarted())
        if shutting_down:
            self._shutdown_requested = True
            self.state = _S.SHUTDOWN_PENDING
            self._maybe_send_shutdown()
        return True

    def _init_sender(self) -> None:
        self._next_tsn = self._local_initial_tsn
        self._cum_acked = self._local_initial_tsn - 1
        self._adv_ack = self._cum_acked
        # RFC 6525 5.1: re-configuration request sequence numbers start at the initial TSN
        # (dcsctp and usrsctp check this).
        self._reconf_seq = self._local_initial_tsn

    def _established(self) -> None:
        if self.state is _S.COOKIE_WAIT or self.state is _S.COOKIE_ECHOED:
            self._init_sender()
        self.state = _S.ESTABLISHED
        self._t1_at = None
        self._rto = self.rto_initial
        self._hb_at = self._now + self.heartbeat_interval + self._rto
        self._events.append(Connected())

    def _on_t1(self, now: float) -> None:
        self._t1_count += 1
        if self._t1_count > self.max_init_retransmissions:
            self._close("association setup timed out")
            return
        self._rto = min(self._rto * 2, self.rto_max)
        if self.state is _S.COOKIE_WAIT:
            self._send_packet(0, self._init_chunk)
        elif self.state is _S.COOKIE_ECHOED:
            self._send_packet(self.peer_tag, self._cookie_echo)
            self._echo_sent_at = now
        else:
            self._t1_at = None
            return
        self._t1_at = now + self._rto


# States in which a peer restart (5.2.4 A) is accepted.
_RESTARTABLE = frozenset(
    {_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_SENT, _S.SHUTDOWN_RECEIVED}
)

# Parameters we understand (or knowingly ignore: addresses mean nothing over DTLS) in INIT and
# INIT ACK; anything else is handled by its type's two high bits.
_KNOWN_PARAMS = frozenset(
    int(t)
    for t in (
        ParamType.IPV4,
        ParamType.IPV6,
        ParamType.STATE_COOKIE,
        ParamType.UNRECOGNIZED,
        ParamType.COOKIE_PRESERVATIVE,
        ParamType.HOSTNAME,
        ParamType.SUPPORTED_ADDRESS_TYPES,
        ParamType.SUPPORTED_EXTENSIONS,
        ParamType.FORWARD_TSN_SUPPORTED,
    )
)
