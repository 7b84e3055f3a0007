"""Sending DATA (RFC 9260 sections 6.1, 6.3, 7): lazy fragmentation and bundling into packets,
SACK processing, retransmission timer (RFC 6298), congestion control (slow start, congestion
avoidance, fast retransmit and fast recovery) and PR-SCTP abandonment (RFC 3758 section 3.5).

Loss recovery beyond RFC 9260's minimum, so that high loss is not timer-bound: a probe timeout
(the idea of RFC 8985 section 7, adapted: the first outstanding chunk is resent after 2 SRTT
without progress, as a fast retransmission), miss indications for retransmitted chunks counted
by send time (RFC 8985 6.2) so a lost fast retransmission is fast retransmitted again, the I
bit (RFC 7053) on retransmissions, and the RTO backoff dropped once the cumulative TSN advances.
``path_changed`` restarts all of it when ICE moves to another pair.
"""

from __future__ import annotations

from bisect import insort
from collections import deque

from google_crc32c import _crc32c as _crc

from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.sctp._base import (
    _CRC,
    _DATA_HDR,
    _IDATA_HDR,
    _M32,
    _PEER_FWD_TSN,
    _S,
    _SACK_HDR,
    _SENDING_STATES,
    _ZERO4,
    AssociationBase,
    _Out,
    _OutMsg,
    _U16x2,
)
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
    FLAG_UNORDERED,
    ForwardTsnChunk,
    IForwardTsnChunk,
)


def _tsn_of(c: _Out) -> int:
    return c.tsn


_QUEUEING_STATES = frozenset({_S.ESTABLISHED, _S.COOKIE_WAIT, _S.COOKIE_ECHOED, _S.CLOSED})
_PTO_MIN = 0.01  # seconds: the probe timeout's floor (RFC 8985 7.2 uses 10 ms as well)
_MAX_PROBES = 2  # probes without progress before T3 is left to recover


class SenderMixin(AssociationBase):
    def send(
        self,
        stream_id: int,
        ppid: int,
        data: bytes | bytearray | memoryview,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_lifetime: float | None = None,
        now: float | None = None,
    ) -> None:
        """Queue one message. ``max_lifetime`` is in seconds from ``now`` (PR-SCTP timed).

        ``now`` defaults to the time of the last call that passed one in. Raises
        ``InvalidStateError`` (closed, shutting down, stream being reset), ``ValueError`` (empty,
        bad stream id) and ``OperationError`` when the send queue would exceed
        ``max_send_buffer`` (as a browser's "send queue is full"). ``max_message_size`` limits
        what we *receive*; the peer's limit is the caller's business (DataChannelCore checks
        a=max-message-size).
        """
        state = self.state
        if (
            self._dead
            or self._shutdown_requested
            or (state is not _S.ESTABLISHED and state not in _QUEUEING_STATES)
        ):
            raise InvalidStateError(f"cannot send on an association in state {self.state.value}")
        if type(data) is not bytes:
            data = bytes(data)  # the caller may reuse its buffer: keep our own copy
        size = len(data)
        if not size:
            raise ValueError("SCTP cannot carry an empty message (use the empty-message PPIDs)")
        if not 0 <= stream_id <= 0xFFFF:
            raise ValueError(f"stream id {stream_id} out of range")
        if self._resetting and stream_id in self._resetting:
            raise InvalidStateError(f"stream {stream_id} is being reset")
        if self._queued_bytes + size > self.max_send_buffer:
            raise OperationError(
                f"send queue is full: {self._queued_bytes} bytes queued, limit "
                f"{self.max_send_buffer}"
            )
        if now is not None:
            self._now = now
        expires = None if max_lifetime is None else self._now + max_lifetime
        msg = _OutMsg(stream_id, ppid, data, not ordered, max_retransmits, expires)
        q = self._out_streams.get(stream_id)
        if q is None:
            q = self._out_streams[stream_id] = deque()
            self._rr.append(stream_id)
        q.append(msg)
        buffered = self._buffered
        buffered[stream_id] = buffered.get(stream_id, 0) + size
        self._queued_bytes += size

    def buffered_amount(self, stream_id: int) -> int:
        """Bytes queued on ``stream_id`` that have not been handed to the network yet."""
        return self._buffered.get(stream_id, 0)

    @property
    def queued_bytes(self) -> int:
        """Bytes queued by send() on every stream and not yet packetised."""
        return self._queued_bytes

    def take_buffer_decreased(self) -> set[int]:
        """Streams whose buffered amount went down since the last call (drains)."""
        out = self._buffer_decreased
        self._buffer_decreased = set()
        return out

    def path_changed(self, now: float) -> None:
        """The layer below moved to a new network path (ICE selected another pair).

        SCTP sees one transport address, so RFC 9260 has no event for this; what was learned
        about the old path no longer holds. Treated like a new destination: RTT estimate and
        RTO back to their initial state (RFC 6298 section 2, 9260 6.3.1), congestion window
        back to the initial window (9260 7.2.1), error counter cleared, and outstanding DATA
        retransmitted at once instead of at the next (backed-off) T3 expiry. A pending INIT or
        COOKIE ECHO is resent at once too.
        """
        if self._dead:
            return
        self._now = now
        self._rto = self.rto_initial
        self._srtt = None
        self._rttvar = 0.0
        self._rtt_tsn = -1
        self._errors = 0
        self._probes = 0
        self._pto_at = None  # no RTT estimate: T3 only until the new path has one
        if self._t1_at is not None:
            self._t1_at = now
            return
        if self.state not in _SENDING_STATES:
            return
        self._cwnd = min(4 * self.mtu, max(2 * self.mtu, 4380))
        self._pba = 0
        self._fast_recovery_exit = None
        self._hb_nonce = None
        self._hb_at = now + self.heartbeat_interval + self._rto
        pending = [c for c in self._sent if not c.acked and not c.abandoned]
        for c in pending:
            if c.in_flight:
                c.in_flight = False
                self._flight -= c.size
            if not c.needs_rtx:
                self._mark_rtx(c, now)
        self._fwd_needed = self._advance_peer_ack() or self._fwd_needed
        if pending or self._rtx or self._adv_ack > self._cum_acked:
            self._t3_at = now + self._rto

    def _pto(self) -> float | None:
        """Probe timeout: 2 SRTT (RFC 8985 7.2), never later than the RTO, doubled for each
        probe without progress; None while there is no RTT estimate."""
        srtt = self._srtt
        if srtt is None:
            return None
        pto = max(2 * srtt, _PTO_MIN)
        if self._flight <= self.mtu and not self._tail_immediate:
            # One packet outstanding without the I bit: the peer may delay its SACK (8985 7.2
            # adds the worst-case delayed-ACK time here).
            pto += self.delayed_ack
        return min(pto * (1 << self._probes), self._rto)

    def _arm_pto(self, now: float) -> None:
        pto = self._pto()
        if pto is None or self._probes >= _MAX_PROBES or self.state not in _SENDING_STATES:
            self._pto_at = None
            return
        self._pto_at = now + pto

    def _on_pto(self, now: float) -> None:
        """No SACK progress for a probe timeout while DATA is outstanding.

        At high loss, windows are small and a lost tail (or a lost retransmission) gets no
        miss indications: only T3 would recover it, collapsing cwnd to one MTU and backing off
        the RTO. Like RACK-TLP's probe (RFC 8985 7) this sends one packet early, but the
        first outstanding chunk rather than the last: a tail loss then needs no further miss
        indications, and the probe's SACK shows what else is missing. It counts as a loss
        (7.2.4: halve cwnd once per window), and at most _MAX_PROBES are sent before T3 is
        left to act.
        """
        self._pto_at = None
        if self.state not in _SENDING_STATES or self._probes >= _MAX_PROBES:
            return
        for c in self._sent:
            if not c.acked and not c.abandoned and not c.needs_rtx and c.in_flight:
                break
        else:
            return
        self._probes += 1
        self._start_fast_rtx(c, now)
        self._arm_pto(now)

    def _on_t3(self, now: float) -> None:
        """Retransmission timeout (RFC 9260 6.3.3, 7.2.3)."""
        self._t3_at = None
        self._pto_at = None
        pending = [c for c in self._sent if not c.acked and not c.abandoned]
        if not pending and self._adv_ack <= self._cum_acked:
            return
        self._errors += 1
        if self._errors > self.max_retransmissions:
            self.abort("too many retransmissions")
            return
        self._rto = min(self._rto * 2, self.rto_max)
        if pending:
            self.t3_expirations += 1
            self._ssthresh = max(self._cwnd // 2, 4 * self.mtu)
            self._cwnd = self.mtu
            self._pba = 0
            self._fast_recovery_exit = None
            self._rtt_tsn = -1
            for c in pending:
                if c.in_flight:
                    c.in_flight = False
                    self._flight -= c.size
                if not c.needs_rtx:
                    self._mark_rtx(c, now)
        self._fwd_needed = self._advance_peer_ack()
        self._t3_at = now + self._rto

    def _on_sack(self, data: bytes, start: int, end: int, now: float) -> None:
        if self.state not in _SENDING_STATES and self.state is not _S.SHUTDOWN_SENT:
            return
        cum_w, a_rwnd, ngaps, ndups = _SACK_HDR.unpack_from(data, start - 4)[3:]
        if start + 12 + 4 * ngaps + 4 * ndups > end:
            return
        cum = self._unwrap_out(cum_w)
        if cum < self._cum_acked or cum >= self._next_tsn:
            return  # stale or acknowledging what we never sent
        sent = self._sent
        flight_before = self._flight
        acked_bytes = 0
        htna = -1
        newest = -1.0  # latest (re)transmission time among the chunks this SACK newly acks
        cum_advanced = cum > self._cum_acked
        if cum_advanced:
            while sent and sent[0].tsn <= cum:
                c = sent.popleft()
                if not c.acked and not c.abandoned:
                    c.acked = True
                    c.needs_rtx = False
                    acked_bytes += c.size
                    if c.in_flight:
                        self._flight -= c.size
                    htna = c.tsn
                    if c.sent_at > newest:
                        newest = c.sent_at
                    self._on_chunk_acked(c, now)
            self._cum_acked = cum
            if self._adv_ack < cum:
                self._adv_ack = cum
        highest_gap = cum
        if ngaps and sent:
            base = sent[0].tsn
            pos = start + 12
            for _ in range(ngaps):
                gs, ge = _U16x2.unpack_from(data, pos)
                pos += 4
                if gs == 0 or ge < gs:
                    continue
                lo = max(cum + gs, base)
                hi = min(cum + ge, self._next_tsn - 1)
                if hi > highest_gap:
                    highest_gap = hi
                for tsn in range(lo, hi + 1):
                    c = sent[tsn - base]
                    if not c.acked:
                        c.acked = True
                        if not c.abandoned:
                            acked_bytes += c.size
                            if c.in_flight:
                                c.in_flight = False
                                self._flight -= c.size
                            c.needs_rtx = False
                            htna = tsn
                            if c.sent_at > newest:
                                newest = c.sent_at
                            self._on_chunk_acked(c, now)
            # Miss indications (7.2.4, HTNA): only below the highest newly acked TSN, or all
            # reported holes while in fast recovery when the cumulative point advanced.
            # A chunk already retransmitted counts a miss only when data sent after that
            # retransmission is newly acked (the RACK idea of RFC 8985 6.2, by send time): three
            # such misses mean the retransmission itself was lost, and it is fast retransmitted
            # again instead of waiting for T3 (which would collapse cwnd and back off the RTO).
            limit = htna
            if self._fast_recovery_exit is not None and cum_advanced:
                limit = highest_gap
            if limit > cum:
                lost: list[_Out] = []
                for c in sent:
                    if c.tsn >= limit:
                        break
                    if c.acked or c.abandoned or c.needs_rtx:
                        continue
                    if c.rtx_count and c.sent_at >= newest:
                        continue
                    c.misses += 1
                    if c.misses >= 3:
                        lost.append(c)
                for c in lost:  # after the loop: abandoning may append to ``sent``
                    if not c.abandoned:
                        self._start_fast_rtx(c, now)
        self._peer_rwnd = max(0, a_rwnd - self._flight)
        if acked_bytes:
            self._errors = 0
            self._probes = 0
            if self._flight > 0:
                self._arm_pto(now)
            else:
                self._pto_at = None
            if self._fast_recovery_exit is not None and cum >= self._fast_recovery_exit:
                self._fast_recovery_exit = None
            if cum_advanced and self._fast_recovery_exit is None:
                if self._cwnd <= self._ssthresh:
                    if flight_before + self.mtu >= self._cwnd:
                        # 7.2.1: at most one MTU per SACK. A stretch SACK (the peer acks a
                        # whole burst it read at once, as batching shells do) counts as the
                        # SACKs-every-second-packet it replaces, or slow start would crawl.
                        self._cwnd += max(min(acked_bytes, self.mtu), acked_bytes >> 1)
                else:
                    self._pba += acked_bytes
                    if self._pba >= self._cwnd and flight_before + self.mtu >= self._cwnd:
                        self._pba -= self._cwnd
                        self._cwnd += self.mtu
        if cum_advanced:
            srtt = self._srtt
            if srtt is not None:
                # The path delivers again: drop the exponential backoff of earlier T3
                # expirations, as BSD TCP does on an ACK of new data (t_rxtshift = 0). Karn's
                # rule (9260 6.3.1 C5) still keeps retransmitted chunks out of the estimate; at
                # high loss that alone could leave the backed-off RTO in place for many rounds.
                self._rto = min(max(srtt + 4 * self._rttvar, self.rto_min), self.rto_max)
            if self._flight > 0 or self._rtx:
                self._t3_at = now + self._rto
            elif self._adv_ack <= self._cum_acked:
                self._t3_at = None
        if self._adv_ack > self._cum_acked or (sent and sent[0].abandoned):
            if self._advance_peer_ack():
                self._fwd_needed = True
        if self._buffered_empty() and self.state in (_S.SHUTDOWN_PENDING, _S.SHUTDOWN_RECEIVED):
            self._maybe_send_shutdown()

    def _on_chunk_acked(self, c: _Out, now: float) -> None:
        if c.tsn == self._rtt_tsn:
            self._rtt_tsn = -1
            if c.rtx_count == 0:
                self._update_rto(now - self._rtt_sent)

    def _start_fast_rtx(self, c: _Out, now: float) -> None:
        """Fast retransmit (7.2.4): at most once per chunk, then the T3 timer takes over."""
        c.fast_rtx = True
        self.fast_retransmits += 1
        if self._fast_recovery_exit is None:
            self._ssthresh = max(self._cwnd // 2, 4 * self.mtu)
            self._cwnd = self._ssthresh
            self._pba = 0
            self._fast_recovery_exit = self._next_tsn - 1
        if c.in_flight:
            c.in_flight = False
            self._flight -= c.size
        if self._mark_rtx(c, now):
            self._fast_rtx_pending = True
        if c.tsn == self._rtt_tsn:
            self._rtt_tsn = -1

    def _mark_rtx(self, c: _Out, now: float) -> bool:
        """Queue ``c`` for retransmission unless PR-SCTP says to abandon its message."""
        msg = c.msg
        if (self._peer_flags & _PEER_FWD_TSN) and (
            (msg.max_rtx is not None and c.rtx_count >= msg.max_rtx)
            or (msg.expires is not None and now >= msg.expires)
        ):
            self._abandon(msg)
            return False
        c.needs_rtx = True
        rtx = self._rtx
        if rtx and rtx[-1].tsn > c.tsn:
            # Kept in TSN order as it grows (almost always an append) instead of sorting the
            # whole list on every packet build.
            insort(rtx, c, key=_tsn_of)
        else:
            rtx.append(c)
        return True

    def _abandon(self, msg: _OutMsg) -> None:
        """Abandon a whole message (RFC 3758 3.5): its sent chunks and its unsent rest."""
        if msg.abandoned:
            return
        msg.abandoned = True
        sent = self._sent
        if msg.first_tsn >= 0 and sent:
            base = sent[0].tsn
            for tsn in range(max(msg.first_tsn, base), msg.last_tsn + 1):
                c = sent[tsn - base]
                if c.msg is msg and not c.acked:  # I-DATA interleaves other messages' TSNs
                    c.abandoned = True
                    c.needs_rtx = False
                    if c.in_flight:
                        c.in_flight = False
                        self._flight -= c.size
        rest = len(msg.data) - msg.offset
        if rest:
            msg.offset = len(msg.data)
            self._buffered[msg.sid] -= rest
            self._queued_bytes -= rest
            self._buffer_decreased.add(msg.sid)
            if msg.first_tsn >= 0:
                # Its end was never sent: give an abandoned placeholder END fragment a TSN so
                # that FORWARD TSN covers the whole message and names its SSN; otherwise a
                # receiver holding the first fragments would wait for the rest forever.
                tsn = self._next_tsn
                end = _Out(tsn, msg.flags | FLAG_END, msg, memoryview(b""), self._now)
                end.fsn = msg.fsn
                end.abandoned = True
                end.in_flight = False
                self._sent.append(end)
                self._next_tsn = tsn + 1
                msg.last_tsn = tsn
        if msg.first_tsn >= 0:
            q = self._out_streams.get(msg.sid)
            if q and q[0] is msg:
                self._drop_head(msg.sid)

    def _advance_peer_ack(self) -> bool:
        """RFC 3758 3.5 C1: move the advanced peer ack point over abandoned chunks."""
        adv = max(self._adv_ack, self._cum_acked)
        sent = self._sent
        if not sent:
            return adv > self._cum_acked
        base = sent[0].tsn
        i = adv + 1 - base
        n = len(sent)
        while 0 <= i < n and (sent[i].abandoned or sent[i].acked):
            i += 1
        new_adv = base + i - 1
        if new_adv > adv:
            self._adv_ack = new_adv
        if self._adv_ack > self._cum_acked:
            if self._t3_at is None:
                self._t3_at = self._now + self._rto
            return True
        return False

    def _forward_tsn_chunk(self) -> bytes:
        sent = self._sent
        base = sent[0].tsn if sent else self._adv_ack + 1
        skipped = range(max(base, self._cum_acked + 1), self._adv_ack + 1)
        if self._idata:
            # RFC 8260 2.3: the largest ordered MID per stream; every unordered message is
            # named on its own (its MID alone identifies what to drop).
            ordered: dict[int, int] = {}
            unordered: set[tuple[int, int]] = set()
            for tsn in skipped:
                c = sent[tsn - base]
                if c.abandoned:
                    if c.flags & FLAG_UNORDERED:
                        unordered.add((c.msg.sid, c.msg.ssn))
                    else:
                        ordered[c.msg.sid] = c.msg.ssn
            entries = [(sid, False, mid) for sid, mid in sorted(ordered.items())]
            entries += [(sid, True, mid) for sid, mid in sorted(unordered)]
            return IForwardTsnChunk(self._adv_ack & _M32, entries).encode()
        streams: dict[int, int] = {}
        for tsn in skipped:
            c = sent[tsn - base]
            if c.abandoned and not c.flags & FLAG_UNORDERED:
                streams[c.msg.sid] = c.msg.ssn
        return ForwardTsnChunk(self._adv_ack & _M32, sorted(streams.items())).encode()

    def _build(self) -> None:
        """Pack control chunks, SACK, FORWARD TSN, retransmissions and new DATA into packets."""
        if self._reset_queue:
            self._maybe_send_reset()
        now = self._now
        header = self._header
        if not header:
            self._ctrl.clear()
            return
        sending = self.state in _SENDING_STATES
        header_crc = _crc.extend(_crc.value(header), _ZERO4)  # the same for every packet
        cap = (self.mtu - 12) & ~3
        pack_into = _DATA_HDR.pack_into
        streams = self._out_streams
        rr = self._rr
        sent = self._sent
        ctrl = self._ctrl
        out = self._packets
        data_sent = False
        while True:
            buf = bytearray(cap)
            pos = 0
            has_rtx = sending and bool(self._rtx)
            can_new = (
                sending
                and bool(rr)
                and self._flight < self._cwnd
                and (self._peer_rwnd > 0 or self._flight == 0)
            )
            while ctrl and pos + len(ctrl[0]) <= cap:
                raw = ctrl.popleft()
                buf[pos : pos + len(raw)] = raw
                pos += (len(raw) + 3) & ~3
            if pos == 0 and ctrl and len(ctrl[0]) > cap:
                # Larger than a packet (an echo of a huge HEARTBEAT, say): never sendable.
                ctrl.popleft()
                continue
            if (self._sack_now or (self._sack_pending and (has_rtx or can_new))) and (
                pos + 16 + 4 * (len(self._above) + len(self._dups)) <= cap or pos == 0
            ):
                sack = self._sack_chunk()
                buf[pos : pos + len(sack)] = sack
                pos += len(sack)
            if self._fwd_needed and sending and (self._peer_flags & _PEER_FWD_TSN):
                fwd = self._forward_tsn_chunk()
                if pos + len(fwd) <= cap:
                    buf[pos : pos + len(fwd)] = fwd
                    pos += len(fwd)
                    self._fwd_needed = False
            if has_rtx:
                pos = self._write_rtx(buf, pos, cap, now)
                if self._rtx:
                    can_new = False  # retransmissions go before new data
            if can_new:
                # New DATA: fragments are cut from the head message while the congestion and
                # receive windows allow (7.2.1 lets the last packet overshoot cwnd).
                flight = self._flight
                cwnd = self._cwnd
                rwnd = self._peer_rwnd
                next_tsn = self._next_tsn
                idata = self._idata
                hdr = 20 if idata else 16
                while rr and flight < cwnd and (rwnd > 0 or flight == 0):
                    room = cap - pos - hdr
                    if room < 64:
                        break
                    msg = streams[rr[0]][0]
                    if msg.abandoned:
                        self._drop_head(msg.sid)
                        continue
                    total = len(msg.data)
                    off = msg.offset
                    if off == 0:
                        if msg.expires is not None and now > msg.expires:
                            self._abandon(msg)
                            self._drop_head(msg.sid)
                            continue
                        if idata:
                            # RFC 8260: 32-bit MIDs, ordered and unordered counted apart.
                            mids = self._umid_out if msg.flags & FLAG_UNORDERED else self._ssn_out
                            mid = mids.get(msg.sid, 0)
                            msg.ssn = mid
                            mids[msg.sid] = (mid + 1) & _M32
                        elif not msg.flags & FLAG_UNORDERED:
                            ssn = self._ssn_out.get(msg.sid, 0)
                            msg.ssn = ssn
                            self._ssn_out[msg.sid] = (ssn + 1) & 0xFFFF
                        msg.first_tsn = next_tsn
                        flags = msg.flags | FLAG_BEGIN
                    else:
                        flags = msg.flags
                    n = total - off
                    if n > room:
                        n = room
                    else:
                        flags |= FLAG_END
                    if flight + n >= cwnd or rwnd <= n:
                        # The window is full after this chunk: ask for the SACK now (RFC
                        # 7053) instead of leaving the peer's delayed-ack timer to stall us.
                        flags |= FLAG_IMMEDIATE
                        self._tail_immediate = True
                    else:
                        self._tail_immediate = False
                    # A whole message is the caller's bytes object itself (no copy); only
                    # fragments of a larger one are views into it.
                    frag = msg.data if n == total else memoryview(msg.data)[off : off + n]
                    c = _Out(next_tsn, flags, msg, frag, now)
                    if idata:
                        fsn = msg.fsn
                        c.fsn = fsn
                        msg.fsn = fsn + 1
                        _IDATA_HDR.pack_into(
                            buf,
                            pos,
                            64,
                            flags,
                            20 + n,
                            next_tsn & _M32,
                            msg.sid,
                            0,
                            msg.ssn,
                            msg.ppid if flags & FLAG_BEGIN else fsn,
                        )
                        pos += 20
                    else:
                        pack_into(
                            buf, pos, 0, flags, 16 + n, next_tsn & _M32, msg.sid, msg.ssn, msg.ppid
                        )
                        pos += 16
                    buf[pos : pos + n] = frag
                    pos += (n + 3) & ~3
                    sent.append(c)
                    if self._rtt_tsn < 0:
                        self._rtt_tsn = next_tsn
                        self._rtt_sent = now
                    msg.last_tsn = next_tsn
                    next_tsn += 1
                    flight += n
                    rwnd -= n
                    msg.offset = off + n
                    self._buffered[msg.sid] -= n
                    self._queued_bytes -= n
                    self._buffer_decreased.add(msg.sid)
                    if flags & FLAG_END:
                        sid = rr.popleft()  # the message is done: next stream's turn
                        q = streams[sid]
                        q.popleft()
                        if q:
                            rr.append(sid)
                        else:
                            del streams[sid]
                    elif idata and len(rr) > 1:
                        rr.rotate(-1)  # interleave: another stream's message goes next
                self._next_tsn = next_tsn
                self._flight = flight
                self._peer_rwnd = max(rwnd, 0)
                data_sent = True
            if pos == 0:
                break
            if pos > cap:
                pos = cap  # padding of a full-size last chunk never exceeds the MTU
            body = bytes(memoryview(buf)[:pos])
            out.append(header + _CRC.pack(_crc.extend(header_crc, body)) + body)
            if len(out) > 1 << 16:
                break
        if data_sent or (sent and self._t3_at is None):
            self._last_sent = now
            if self._t3_at is None and sent:
                self._t3_at = now + self._rto
            if self._pto_at is None and self._flight > 0:
                self._arm_pto(now)
            if self.state is _S.ESTABLISHED:
                self._hb_at = now + self.heartbeat_interval + self._rto

    def _write_rtx(self, buf: bytearray, pos: int, cap: int, now: float) -> int:
        """Retransmissions first; the first packet after fast retransmit ignores cwnd."""
        rtx = self._rtx
        ignore_cwnd = self._fast_rtx_pending
        self._fast_rtx_pending = False
        i = 0
        n = len(rtx)
        while i < n:
            c = rtx[i]
            if not c.needs_rtx or c.acked or c.abandoned:
                i += 1
                continue
            if not ignore_cwnd and self._flight >= self._cwnd:
                break
            msg = c.msg
            if msg.expires is not None and now > msg.expires and self._peer_flags & _PEER_FWD_TSN:
                self._abandon(msg)
                self._fwd_needed = self._advance_peer_ack() or self._fwd_needed
                i += 1
                continue
            hdr = 20 if self._idata else 16
            size = hdr + c.size
            if pos + size > cap:
                break
            # Loss recovery wants the SACK at once (RFC 7053): no delayed ack on retransmissions.
            flags = c.flags | FLAG_IMMEDIATE
            self._tail_immediate = True
            if hdr == 20:
                _IDATA_HDR.pack_into(
                    buf,
                    pos,
                    64,
                    flags,
                    size,
                    c.tsn & _M32,
                    msg.sid,
                    0,
                    msg.ssn,
                    msg.ppid if c.flags & FLAG_BEGIN else c.fsn,
                )
            else:
                _DATA_HDR.pack_into(
                    buf, pos, 0, flags, size, c.tsn & _M32, msg.sid, msg.ssn, msg.ppid
                )
            buf[pos + hdr : pos + size] = c.data
            pos += (size + 3) & ~3
            c.needs_rtx = False
            c.in_flight = True
            c.rtx_count += 1
            c.sent_at = now
            c.misses = 0
            self._flight += c.size
            if c.tsn == self._rtt_tsn:
                self._rtt_tsn = -1
            i += 1
        del rtx[:i]
        if self._t3_at is None:
            self._t3_at = now + self._rto
        return pos
