"""Sans-I/O SCTP association for WebRTC data channels (SCTP over DTLS, RFC 8261).

Implements, for a single path:

- RFC 9260 section 5 (association setup: INIT, INIT ACK with an HMAC-signed state cookie,
  COOKIE ECHO, COOKIE ACK; section 5.2 INIT collision and duplicate COOKIE ECHO handling, table
  5.2.4 cases B, C and D; restart (case A) is not supported and such cookies are dropped;
  5.2.6 stale cookies answered with an ERROR, which restarts the handshake with a Cookie
  Preservative; a cookie of the association we hold is never stale; an implied COOKIE ACK
  when the peer already sends DATA/SACK/HEARTBEAT to us in COOKIE-ECHOED);
- section 3.2 and 3.2.1 (unrecognized chunk types and INIT/INIT ACK parameters: the two
  high bits of the type decide between stop, skip and report; never fatal);
- section 6 (DATA transfer: TSNs, per-stream SSNs, ordered and unordered delivery,
  fragmentation and reassembly, SACK with gap blocks and duplicate TSNs, delayed SACK per
  6.2 - every second packet or 200 ms, immediately on gaps or duplicates, receiver window,
  retransmission timer per 6.3 and RFC 6298, Karn's rule);
- section 7 (congestion control: slow start, congestion avoidance, fast retransmit on three
  miss indications with the HTNA rule, fast recovery);
- section 8.3 (heartbeat) and 9 (ABORT, graceful SHUTDOWN);
- RFC 3758 (PR-SCTP: abandoning whole messages by retransmission count or lifetime, FORWARD
  TSN sending and receiving; a message abandoned before its end was sent gets a placeholder
  END TSN so the FORWARD TSN covers it, as dcsctp and usrsctp do);
- RFC 8260 (I-DATA and I-FORWARD-TSN, offered with ``interleaving=True`` and used when the
  peer offers them too: fragments of messages on different streams are interleaved, so a
  large message does not hold up the others);
- RFC 6525 section 5 (stream reset with Outgoing SSN Reset Requests and responses, deferred
  reset until the peer's last TSN has arrived).

Design notes (why it looks like this):

- TSNs are kept *unwrapped* (plain Python ints growing past 2**32) so that every comparison
  on the hot path is a plain int comparison; serial arithmetic (RFC 1982) happens once per
  chunk when a wire TSN is unwrapped against a reference point.
- Messages are fragmented lazily when a packet is built, so a 16 MiB send costs nothing until
  the window opens, SSNs are assigned when the first fragment leaves (a message abandoned
  before that never consumed an SSN) and "buffered amount" drops exactly when bytes are handed
  to the network (W3C semantics).
- Received DATA is parsed straight out of the packet with ``struct.unpack_from``; fragments
  are reassembled by TSN contiguity (each fragment is touched once, so large messages are
  linear).
- The advertised receive window counts only bytes received above the cumulative TSN (data
  waiting for a hole to fill). Contiguous data waiting for the rest of its message is bounded
  by ``max_message_size`` instead, so a message larger than the window can never deadlock.
- Everything a peer can make us hold is bounded (issue 9): out-of-order chunks
  (``receive_window``, ``max_out_of_order_chunks``, 16-bit gap offsets), bytes kept for
  reassembly and ordering (``max_reassembly``: ABORT when exceeded), answered INITs
  (``init_burst``/``init_rate``), duplicate TSN reports, our own send queue
  (``max_send_buffer``). Limits hit are reported as ``AssociationError`` events.
- The code is split by job: this class dispatches packets and timers and owns shutdown and
  heartbeat; :mod:`~rtcpeer.sctp.handshake`, :mod:`~rtcpeer.sctp.sender`,
  :mod:`~rtcpeer.sctp.receiver` and :mod:`~rtcpeer.sctp.reconfig` hold the rest as mixins over
  :class:`~rtcpeer.sctp._base.AssociationBase`.
"""

from __future__ import annotations

from google_crc32c import _crc32c as _crc

from rtcpeer.sctp._base import (
    _CRC,
    _HB_INFO,
    _HDR,
    _M32,
    _PROBE_INFO,
    _RECEIVING_STATES,
    _S,
    _SENDING_STATES,
    _ZERO4,
    logger,
)
from rtcpeer.sctp.chunks import (
    FLAG_IMMEDIATE,
    FLAG_T,
    AbortChunk,
    CauseCode,
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IForwardTsnChunk,
    InitAckChunk,
    InitChunk,
    Param,
    ParseError,
    ReconfigChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    decode_chunk,
    iter_chunks,
)
from rtcpeer.sctp.events import (
    AssociationError,
    AssociationRestarted,
    AssociationState,
    Closed,
    Connected,
    DataReceived,
    Event,
    IncomingStreamsReset,
    OutgoingStreamsReset,
    StreamResetFailed,
)
from rtcpeer.sctp.handshake import HandshakeMixin
from rtcpeer.sctp.receiver import ReceiverMixin
from rtcpeer.sctp.reconfig import ReconfigMixin
from rtcpeer.sctp.sender import SenderMixin

__all__ = [
    "Association",
    "AssociationError",
    "AssociationRestarted",
    "AssociationState",
    "Closed",
    "Connected",
    "DataReceived",
    "Event",
    "IncomingStreamsReset",
    "OutgoingStreamsReset",
    "StreamResetFailed",
]


class Association(ReceiverMixin, SenderMixin, HandshakeMixin, ReconfigMixin):
    """A sans-I/O SCTP association (one per DTLS transport). See docs/internals.md."""

    def connect(self, now: float) -> None:
        """Send INIT (both WebRTC endpoints do this; collisions are resolved per 5.2)."""
        self._now = now
        if self.state is not AssociationState.CLOSED or self._dead:
            return
        self._new_local_tag()
        init = InitChunk(
            self.local_tag,
            self.receive_window,
            self._streams,
            self._streams,
            self._local_initial_tsn,
            self._extension_params(),
        )
        self._init_chunk = init.encode()
        self.state = AssociationState.COOKIE_WAIT
        self._send_packet(0, self._init_chunk)
        self._t1_at = now + self._rto
        self._t1_count = 0

    def shutdown(self, now: float) -> None:
        """Graceful close (RFC 9260 section 9.2): SHUTDOWN once all data is acknowledged."""
        self._now = now
        if self.state in (_S.COOKIE_WAIT, _S.COOKIE_ECHOED, _S.CLOSED):
            self.abort("shutdown before established")
            return
        if self.state is _S.ESTABLISHED:
            self._shutdown_requested = True
            self.state = _S.SHUTDOWN_PENDING
            self._maybe_send_shutdown()

    def abort(self, reason: str = "") -> None:
        """Send ABORT with a User-Initiated Abort cause and close immediately."""
        if self._dead:
            return
        if self.peer_tag and self._header:
            cause = Param(CauseCode.USER_INITIATED_ABORT, reason.encode()[:200])
            self._send_packet(self.peer_tag, AbortChunk([cause]).encode())
        self._close("aborted locally" + (f": {reason}" if reason else ""))

    def events(self) -> list[Event]:
        out = self._events
        self._events = []
        return out

    def packets_to_send(self) -> list[bytes]:
        if self.state in _SENDING_STATES or self._ctrl or self._sack_now:
            self._build()
        out = self._packets
        self._packets = []
        return out

    def next_timeout(self) -> float | None:
        best: float | None = None
        for t in (
            self._t1_at,
            self._t3_at,
            self._pto_at,
            self._sack_at,
            self._hb_at,
            self._reconf_at,
            self._t2_at,
        ):
            if t is not None and (best is None or t < best):
                best = t
        return best

    @property
    def rto(self) -> float:
        return self._rto

    @property
    def cwnd(self) -> int:
        return self._cwnd

    @property
    def srtt(self) -> float | None:
        return self._srtt

    def timeout(self, now: float) -> None:
        self._now = now
        if self._t1_at is not None and now >= self._t1_at:
            self._on_t1(now)
        if self._sack_at is not None and now >= self._sack_at:
            self._sack_at = None
            if self._sack_pending:
                self._sack_now = True
        if self._t3_at is not None and now >= self._t3_at:
            self._on_t3(now)
        if self._pto_at is not None and now >= self._pto_at:
            self._on_pto(now)
        if self._reconf_at is not None and now >= self._reconf_at:
            self._reconf_at = None
            if self._reconf_req is not None:
                self._ctrl.append(ReconfigChunk([self._reconf_req]).encode())
                self._reconf_at = now + self._rto
        if self._t2_at is not None and now >= self._t2_at:
            self._on_t2(now)
        if self._hb_at is not None and now >= self._hb_at:
            self._on_heartbeat_timer(now)

    def _on_heartbeat_timer(self, now: float) -> None:
        self._hb_at = None
        if self.state is not _S.ESTABLISHED:
            return
        if self._hb_nonce is not None:
            self._errors += 1
            if self._errors > self.max_retransmissions:
                self.abort("peer unreachable (heartbeats unanswered)")
                return
            self._rto = min(self._rto * 2, self.rto_max)
        self._hb_nonce = self._rng.getrandbits(64)
        self._ctrl.append(HeartbeatChunk(_HB_INFO.pack(now, self._hb_nonce)).encode())
        self._hb_at = now + self.heartbeat_interval + self._rto

    def _on_t2(self, now: float) -> None:
        self._t2_count += 1
        if self._t2_count > self.max_retransmissions:
            self.abort("shutdown timed out")
            return
        self._rto = min(self._rto * 2, self.rto_max)
        if self.state is _S.SHUTDOWN_SENT:
            self._ctrl.append(ShutdownChunk(self._cum_in & _M32).encode())
        elif self.state is _S.SHUTDOWN_ACK_SENT:
            self._ctrl.append(ShutdownAckChunk().encode())
        else:
            self._t2_at = None
            return
        self._t2_at = now + self._rto

    def receive(self, packet: bytes | bytearray | memoryview, now: float) -> None:
        """Handle one SCTP packet; malformed, mis-tagged or bad-CRC packets are dropped."""
        self._now = now
        if self._dead:
            self._answer_ootb(packet)
            return
        data = packet if isinstance(packet, bytes) else bytes(packet)
        n = len(data)
        if n < 16:
            return
        src, dst, tag = _HDR.unpack_from(data)
        first_type = data[12]
        # Verification tag rules (RFC 9260 8.5, 8.5.1) before the CRC: cheaper to reject.
        if tag != self.local_tag or not self.local_tag:
            if not self._tag_exception(data, tag, first_type):
                return
        crc = _crc.extend(_crc.extend(_crc.value(data[:8]), _ZERO4), data[12:])
        if crc != _CRC.unpack_from(data, 8)[0]:
            return
        if dst != self.local_port:
            return
        if self.state is _S.COOKIE_ECHOED and tag == self.local_tag and first_type in _IMPLIED:
            # The peer sends DATA, SACK or HEARTBEAT with our tag: it holds the association,
            # so its COOKIE ACK was lost (a simultaneous open where every ACK went missing
            # would otherwise wait for our T1 backoff or give up).
            self._established()
        if first_type == 0 and not self._idata:
            clen = (data[14] << 8) | data[15]
            if 29 <= 12 + clen <= n <= 12 + ((clen + 3) & ~3):
                # Fast path: a packet holding one DATA chunk (most of a bulk transfer).
                if self.state in _RECEIVING_STATES:
                    flags = data[13]
                    self._on_data(data, flags, 16, 12 + clen)
                    self._after_data(bool(flags & FLAG_IMMEDIATE), now)
                    self._after_packet()
                return
        try:
            chunks = iter_chunks(data)
        except ParseError:
            return
        got_data = False
        immediate = False
        receiving = self.state in _RECEIVING_STATES  # once per packet: Enum hashing is slow
        idata = self._idata
        for ctype, flags, start, end in chunks:
            if ctype == 0:
                if not receiving or idata:
                    continue  # (DATA once I-DATA was negotiated: protocol violation, ignore)
                if end - start < 13:
                    continue  # a DATA chunk without user data: protocol violation, ignore
                got_data = True
                if flags & FLAG_IMMEDIATE:
                    immediate = True
                self._on_data(data, flags, start, end)
            elif ctype == 64:
                if not receiving or not idata or end - start < 17:
                    continue
                got_data = True
                if flags & FLAG_IMMEDIATE:
                    immediate = True
                self._on_idata(data, flags, start, end)
            elif ctype == 3:
                if end - start >= 12:
                    self._on_sack(data, start, end, now)
            elif ctype not in _HANDLED_CHUNKS:
                # RFC 9260 3.2: the two high bits of an unknown type say what to do: 0x40 set,
                # report it in an ERROR (Unrecognized Chunk Type, the whole chunk); 0x80 clear,
                # discard the rest of the packet, set, skip it and go on. Never fatal.
                if ctype & 0x40:
                    self._report_unrecognized(data[start - 4 : end])
                if not ctype & 0x80:
                    break
            else:
                try:
                    chunk = decode_chunk(ctype, flags, data[start:end])
                except ParseError:
                    break
                if self._on_control(ctype, chunk, tag, now):
                    break
                receiving = self.state in _RECEIVING_STATES
        if got_data:
            self._after_data(immediate, now)
        self._after_packet()

    def _after_data(self, immediate: bool, now: float) -> None:
        """A packet with DATA was read: SACK now or arm the delayed-SACK timer (6.2)."""
        if self.state is _S.SHUTDOWN_SENT:
            # 9.2: answer DATA with SHUTDOWN (its cumulative TSN acks) and restart T2.
            self._ctrl.append(ShutdownChunk(self._cum_in & _M32).encode())
            self._t2_at = now + self._rto
        self._data_packets += 1
        if (
            immediate
            or self._above
            or self._dups
            or self._data_packets >= 2
            or self.state is not _S.ESTABLISHED
        ):
            self._sack_now = True
            self._sack_at = None
        else:
            self._sack_pending = True
            if self._sack_at is None:
                self._sack_at = now + self.delayed_ack

    def _after_packet(self) -> None:
        if self._deferred_reset is not None:
            self._try_deferred_reset()
        if self._held > self.max_reassembly:
            # The peer makes us hold more than we allow for partial and out-of-order messages
            # (ordered data behind a hole that never fills, fragments without a beginning...).
            self._events.append(
                AssociationError(
                    "reassembly-limit",
                    f"{self._held} bytes held for reassembly, limit {self.max_reassembly}",
                )
            )
            self.abort("reassembly limit exceeded")

    def _report_unrecognized(self, raw: bytes) -> None:
        # Only to a peer we know, and only when the ERROR fits a packet (never truncated: a
        # cut chunk would be a malformed cause). One ERROR per unknown chunk received is no
        # amplification.
        if not self._header or self.state is _S.COOKIE_WAIT:
            return
        if len(raw) + 8 > (self.mtu - 12) & ~3:
            return
        self._ctrl.append(ErrorChunk([Param(CauseCode.UNRECOGNIZED_CHUNK, raw)]).encode())

    def _answer_ootb(self, packet: bytes | bytearray | memoryview) -> None:
        """8.4 (5): a SHUTDOWN ACK after we closed (our SHUTDOWN COMPLETE was lost) gets a
        SHUTDOWN COMPLETE with the T bit, or the peer would retransmit until it gives up."""
        data = bytes(packet)
        if len(data) < 16 or data[12] != ChunkType.SHUTDOWN_ACK or not self.local_tag:
            return
        src, dst, tag = _HDR.unpack_from(data)
        if tag != self.local_tag or dst != self.local_port:
            return
        crc = _crc.extend(_crc.extend(_crc.value(data[:8]), _ZERO4), data[12:])
        if crc != _CRC.unpack_from(data, 8)[0]:
            return
        header = _HDR.pack(dst, src, tag)
        chunk = bytes((ChunkType.SHUTDOWN_COMPLETE, FLAG_T, 0, 4))
        crc = _crc.extend(_crc.extend(_crc.value(header), _ZERO4), chunk)
        self._packets.append(header + _CRC.pack(crc) + chunk)

    def _tag_exception(self, data: bytes, tag: int, first_type: int) -> bool:
        """Packets whose tag is not our local tag that are still acceptable (8.5.1)."""
        if first_type == ChunkType.INIT:
            return tag == 0
        if first_type == ChunkType.COOKIE_ECHO:
            return True  # checked against the cookie's own tag
        if first_type in (ChunkType.ABORT, ChunkType.SHUTDOWN_COMPLETE):
            flags = data[13]
            if flags & FLAG_T:
                return bool(self.peer_tag) and tag == self.peer_tag
            return bool(self.local_tag) and tag == self.local_tag
        return False

    def _on_control(self, ctype: int, chunk: object, tag: int, now: float) -> bool:
        """Handle one control chunk; returns True to stop processing the packet."""
        if isinstance(chunk, InitAckChunk):
            self._on_init_ack(chunk, now)
            return True
        if isinstance(chunk, InitChunk):
            self._on_init(chunk)
            return True
        if isinstance(chunk, CookieEchoChunk):
            return not self._on_cookie_echo(chunk, tag, now)
        if isinstance(chunk, CookieAckChunk):
            if self.state is _S.COOKIE_ECHOED:
                self._established()
            return False
        if self.state is _S.CLOSED or self.state is _S.COOKIE_WAIT:
            if isinstance(chunk, AbortChunk) and self.state is _S.COOKIE_WAIT:
                self._close("aborted by peer: " + chunk.reason())
            return True
        if isinstance(chunk, HeartbeatAckChunk):
            self._on_heartbeat_ack(chunk, now)
        elif isinstance(chunk, HeartbeatChunk):
            self._ctrl.append(HeartbeatAckChunk(chunk.info).encode())
        elif isinstance(chunk, ForwardTsnChunk):
            if not self._idata:
                self._on_forward_tsn(chunk)
        elif isinstance(chunk, IForwardTsnChunk):
            if self._idata:
                self._on_iforward_tsn(chunk)
        elif isinstance(chunk, ReconfigChunk):
            self._on_reconfig(chunk, now)
        elif isinstance(chunk, AbortChunk):
            self._close("aborted by peer: " + chunk.reason())
            return True
        elif isinstance(chunk, ShutdownChunk):
            self._on_shutdown(chunk, now)
        elif isinstance(chunk, ShutdownAckChunk):
            if self.state in (_S.SHUTDOWN_SENT, _S.SHUTDOWN_ACK_SENT):
                self._send_packet(self.peer_tag, ShutdownCompleteChunk().encode())
                self._close(None)
                return True
        elif isinstance(chunk, ShutdownCompleteChunk):
            if self.state is _S.SHUTDOWN_ACK_SENT:
                self._close(None)
                return True
        elif isinstance(chunk, ErrorChunk):
            if any(c.type == CauseCode.STALE_COOKIE for c in chunk.causes):
                self._on_stale_cookie(now)
                return True
            logger.debug("peer reported: %s", [c.type for c in chunk.causes])
        return False

    def probe_mtu(self, size: int, now: float) -> bool:
        """Send one path MTU probe of ``size`` bytes (RFC 8899 6.2.1: HEARTBEAT + PAD).

        When the peer's HEARTBEAT ACK for it arrives, ``mtu`` becomes ``size`` (it never
        shrinks: callers only probe a path they have reason to trust, e.g. loopback). A
        peer that does not know PAD skips it (type 0x84) and still answers. Returns False
        (nothing sent) unless established or when ``size`` is not above the current MTU.
        """
        if self.state is not _S.ESTABLISHED or size <= self.mtu or size > 65507:
            return False
        nonce = self._rng.getrandbits(64)
        hb = HeartbeatChunk(_PROBE_INFO.pack(now, nonce, size)).encode()
        pad = size - 12 - len(hb) - 4
        if pad < 0:
            return False
        # PAD chunk: type 0x84, flags 0, length, zero padding (a multiple of 4 long).
        pad &= ~3
        chunk = hb + bytes((0x84, 0, (pad + 4) >> 8, (pad + 4) & 0xFF)) + bytes(pad)
        self._probe = (nonce, 12 + len(chunk))
        self._send_packet(self.peer_tag, chunk)
        return True

    def reset_mtu(self, mtu: int) -> None:
        """The path changed: new packets are cut for ``mtu`` again and any outstanding probe
        is forgotten (chunks already sent keep their size when retransmitted)."""
        self._probe = None
        self.mtu = mtu

    def _on_heartbeat_ack(self, chunk: HeartbeatAckChunk, now: float) -> None:
        if len(chunk.info) == _PROBE_INFO.size:
            _, nonce, size = _PROBE_INFO.unpack(chunk.info)
            if self._probe is not None and self._probe == (nonce, size):
                self._probe = None
                if size > self.mtu:
                    self.mtu = size
                    # The initial window of 9260 7.2.1 in the new packet size, so that a
                    # window holds at least two packets (SACKed at once by the peer).
                    self._cwnd = max(self._cwnd, min(4 * size, max(2 * size, 4380)))
            return
        if len(chunk.info) != _HB_INFO.size:
            return
        sent_at, nonce = _HB_INFO.unpack(chunk.info)
        if nonce != self._hb_nonce:
            return
        self._hb_nonce = None
        self._errors = 0
        if 0 <= now - sent_at < 120:
            self._update_rto(now - sent_at)

    def _maybe_send_shutdown(self) -> None:
        if not self._buffered_empty():
            return
        if self.state is _S.SHUTDOWN_PENDING:
            self.state = _S.SHUTDOWN_SENT
            self._ctrl.append(ShutdownChunk(self._cum_in & _M32).encode())
        elif self.state is _S.SHUTDOWN_RECEIVED:
            self.state = _S.SHUTDOWN_ACK_SENT
            self._ctrl.append(ShutdownAckChunk().encode())
        else:
            return
        self._t2_at = self._now + self._rto
        self._t2_count = 0
        self._t3_at = None
        self._pto_at = None
        self._hb_at = None

    def _on_shutdown(self, chunk: ShutdownChunk, now: float) -> None:
        cum = self._unwrap_out(chunk.cumulative_tsn)
        if self._cum_acked < cum < self._next_tsn:
            # Treat as a SACK without gaps (9.2).
            fake = SackChunk(chunk.cumulative_tsn, self._peer_rwnd + self._flight).encode()
            self._on_sack(fake, 4, len(fake), now)
        if self.state in (_S.ESTABLISHED, _S.SHUTDOWN_PENDING):
            self.state = _S.SHUTDOWN_RECEIVED
            self._shutdown_requested = True
            self._maybe_send_shutdown()
        elif self.state is _S.SHUTDOWN_SENT:
            # Shutdown collision (9.2): answer with SHUTDOWN ACK.
            self.state = _S.SHUTDOWN_ACK_SENT
            self._ctrl.append(ShutdownAckChunk().encode())
            self._t2_at = now + self._rto


_HANDLED_CHUNKS = frozenset(int(t) for t in ChunkType)
# Chunks only an endpoint with an established association sends (implied COOKIE ACK).
_IMPLIED = frozenset(
    int(t)
    for t in (
        ChunkType.DATA,
        ChunkType.I_DATA,
        ChunkType.SACK,
        ChunkType.HEARTBEAT,
        ChunkType.FORWARD_TSN,
        ChunkType.I_FORWARD_TSN,
        ChunkType.RECONFIG,
    )
)
