"""Receiving DATA (RFC 9260 section 6.2-6.6): TSN tracking, duplicate detection, reassembly,
ordered delivery by SSN, SACK with gap blocks and duplicate TSNs, and FORWARD TSN (RFC 3758
section 3.6).
"""

from __future__ import annotations

from rtcpeer.sctp._base import (
    _DATA_FIELDS,
    _HALF,
    _IDATA_FIELDS,
    _IDATA_MARK,
    _IPARTIAL_COST,
    _M32,
    _SACK_HDR,
    _U32,
    AssociationBase,
    _IPartial,
    _Partial,
    _U16x2,
    logger,
)
from rtcpeer.sctp.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    ForwardTsnChunk,
    IForwardTsnChunk,
)
from rtcpeer.sctp.events import AssociationError, DataReceived


class ReceiverMixin(AssociationBase):
    """The receive side. ``_held`` counts every byte kept for reassembly or ordering (partial
    messages, fragments waiting for their first part, complete messages waiting for an earlier
    SSN, chunks held back by a deferred stream reset) so a peer cannot grow it unbounded."""

    def _on_data(self, data: bytes, flags: int, start: int, end: int) -> None:
        wire_tsn, sid, ssn, ppid = _DATA_FIELDS.unpack_from(data, start)
        cum = self._cum_in
        tsn = cum + ((wire_tsn - cum) & _M32)
        if tsn - cum >= _HALF:
            tsn -= 1 << 32
        if tsn <= cum or tsn in self._above:
            if len(self._dups) < 64:
                self._dups.append(wire_tsn)
            return
        payload = data[start + 12 : end]
        if tsn == cum + 1:
            cum = tsn
            above = self._above
            if above:
                while cum + 1 in above:
                    cum += 1
                    self._above_bytes -= above.pop(cum)
            self._cum_in = cum
        else:
            # Beyond our window, beyond what a SACK gap block can express, or too many
            # out-of-order chunks: drop without acking (RFC 9260 6.2); the sender retransmits.
            if (
                self._above_bytes + len(payload) > self.receive_window
                or tsn - cum > 0xFFFF
                or len(self._above) >= self.max_out_of_order_chunks
            ):
                return
            self._above[tsn] = len(payload)
            self._above_bytes += len(payload)
        if self._deferred_reset is not None and sid in self._deferred_reset.streams:
            last = self._unwrap_in(self._deferred_reset.last_tsn)
            if tsn > last:
                self._deferred_chunks.append((tsn, flags, sid, ssn, ppid, payload))
                self._held += len(payload)
                return
        self._deliver(tsn, flags, sid, ssn, ppid, payload)

    def _deliver(self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, payload: bytes) -> None:
        if flags & FLAG_BEGIN and self._partials:
            dead = self._partials.pop(tsn, None)
            if dead is not None and not dead.oversized:
                # A new message starts where this one expected its next fragment: the sender
                # abandoned it (RFC 3758); it can never complete.
                self._held -= dead.size
        if flags & 3 == 3:
            if flags & FLAG_UNORDERED:
                self._events.append(DataReceived(sid, ppid, payload))
            else:
                self._deliver_ordered(sid, ssn, ppid, payload)
            return
        if flags & FLAG_BEGIN:
            p = _Partial(tsn, sid, ssn, ppid, bool(flags & FLAG_UNORDERED))
            p.parts.append(payload)
            p.size = len(payload)
            self._held += p.size
        else:
            found = self._partials.pop(tsn, None)
            if found is None:
                self._orphans[tsn] = (flags, sid, ssn, ppid, payload)
                self._held += len(payload)
                return
            p = found
            if self._add_fragment(p, payload, flags):
                return
        nxt = tsn + 1
        orphans = self._orphans
        while orphans:
            o = orphans.get(nxt)
            if o is None or o[0] & FLAG_BEGIN:
                break
            del orphans[nxt]
            self._held -= len(o[4])
            if self._add_fragment(p, o[4], o[0]):
                return
            nxt += 1
        self._partials[nxt] = p

    def _report_oversized(self, sid: int) -> None:
        # Once per message, when its size first passes the limit (not at its last fragment).
        self.dropped_oversized += 1
        logger.debug("dropping a message larger than %d bytes", self.max_message_size)
        self._events.append(
            AssociationError(
                "message-too-big",
                f"dropping a message on stream {sid}: larger than the limit of "
                f"{self.max_message_size} bytes",
                sid,
            )
        )

    def _add_fragment(self, p: _Partial, payload: bytes, flags: int) -> bool:
        """Append a middle/end fragment; returns True when the message is complete."""
        if not p.oversized:
            p.size += len(payload)
            if p.size > self.max_message_size:
                # Larger than we announced (a=max-message-size): keep nothing more of it, and
                # say so now: a hostile message may never end.
                p.oversized = True
                self._held -= p.size - len(payload)
                p.parts = []
                self._report_oversized(p.sid)
            else:
                p.parts.append(payload)
                self._held += len(payload)
        if not flags & FLAG_END:
            return False
        if p.oversized:
            if not p.unordered:
                self._deliver_ordered(p.sid, p.ssn, p.ppid, None)
            return True
        self._held -= p.size
        msg = b"".join(p.parts)
        if p.unordered:
            self._events.append(DataReceived(p.sid, p.ppid, msg))
        else:
            self._deliver_ordered(p.sid, p.ssn, p.ppid, msg)
        return True

    def _deliver_ordered(self, sid: int, ssn: int, ppid: int, msg: bytes | None) -> None:
        """Deliver in SSN order; ``msg`` None stands for a dropped message (SSN consumed)."""
        expected = self._ssn_in.get(sid, 0)
        if ssn != expected:
            mask = self._seq_mask
            if (ssn - expected) & mask > mask >> 1:
                return  # behind: delivered or skipped (FORWARD TSN) already
            stash = self._stash.get(sid)
            if stash is None:
                stash = self._stash[sid] = {}
            if ssn not in stash:
                stash[ssn] = (ppid, msg)
                if msg is not None:
                    self._held += len(msg)
            return
        if msg is not None:
            self._events.append(DataReceived(sid, ppid, msg))
        mask = self._seq_mask
        expected = (expected + 1) & mask
        stash = self._stash.get(sid)
        if stash:
            while expected in stash:
                ppid2, msg2 = stash.pop(expected)
                if msg2 is not None:
                    self._held -= len(msg2)
                    self._events.append(DataReceived(sid, ppid2, msg2))
                expected = (expected + 1) & mask
        self._ssn_in[sid] = expected

    def _on_forward_tsn(self, chunk: ForwardTsnChunk) -> None:
        """RFC 3758 3.6: skip abandoned TSNs, drop their fragments, unblock ordered streams."""
        new_cum = self._unwrap_in(chunk.new_cumulative_tsn)
        self._sack_now = True
        if new_cum <= self._cum_in:
            return
        if new_cum - self._cum_in > (1 << 24):
            return  # implausible jump: protocol violation, ignore
        above = self._above
        for t in [t for t in above if t <= new_cum]:
            self._above_bytes -= above.pop(t)
        cum = new_cum
        while cum + 1 in above:
            cum += 1
            self._above_bytes -= above.pop(cum)
        self._cum_in = cum
        # Fragments whose predecessor is missing at or below the new cumulative TSN belong to
        # abandoned messages. A partial message is keyed by the next TSN it needs: it is dead
        # only if that TSN was skipped (a live message may straddle the new cumulative TSN).
        orphans = self._orphans
        for t in [t for t in orphans if t <= new_cum]:
            self._held -= len(orphans.pop(t)[4])
        partials = self._partials
        for k in [k for k in partials if k <= new_cum]:
            p = partials.pop(k)
            if not p.oversized:
                self._held -= p.size
        for sid, ssn in chunk.streams:
            self._skip_ssn(sid, ssn)
        if self._deferred_reset is not None:
            self._try_deferred_reset()

    def _skip_ssn(self, sid: int, ssn: int) -> None:
        expected = self._ssn_in.get(sid, 0)
        mask = self._seq_mask
        dist = (ssn - expected) & mask
        if dist > mask >> 1:
            return  # already past it
        stash = self._stash.get(sid)
        if stash:
            # Complete messages up to the skipped SSN were received: deliver them in order.
            ready = sorted(
                (k for k in stash if (k - expected) & mask <= dist),
                key=lambda k: (k - expected) & mask,
            )
            for k in ready:
                ppid, msg = stash.pop(k)
                if msg is not None:
                    self._held -= len(msg)
                    self._events.append(DataReceived(sid, ppid, msg))
        nxt = (ssn + 1) & mask
        self._ssn_in[sid] = nxt
        if stash and nxt in stash:
            ppid, msg = stash.pop(nxt)
            if msg is not None:
                self._held -= len(msg)
            self._deliver_ordered(sid, nxt, ppid, msg)

    # --- I-DATA (RFC 8260) --------------------------------------------------------------

    def _on_idata(self, data: bytes, flags: int, start: int, end: int) -> None:
        wire_tsn, sid, _, mid, ppid_fsn = _IDATA_FIELDS.unpack_from(data, start)
        cum = self._cum_in
        tsn = cum + ((wire_tsn - cum) & _M32)
        if tsn - cum >= _HALF:
            tsn -= 1 << 32
        if tsn <= cum or tsn in self._above:
            if len(self._dups) < 64:
                self._dups.append(wire_tsn)
            return
        payload = data[start + 16 : end]
        if tsn == cum + 1:
            cum = tsn
            above = self._above
            if above:
                while cum + 1 in above:
                    cum += 1
                    self._above_bytes -= above.pop(cum)
            self._cum_in = cum
        else:
            if (
                self._above_bytes + len(payload) > self.receive_window
                or tsn - cum > 0xFFFF
                or len(self._above) >= self.max_out_of_order_chunks
            ):
                return
            self._above[tsn] = len(payload)
            self._above_bytes += len(payload)
        if self._deferred_reset is not None and sid in self._deferred_reset.streams:
            last = self._unwrap_in(self._deferred_reset.last_tsn)
            if tsn > last:
                self._deferred_chunks.append(
                    (tsn, flags | _IDATA_MARK, sid, mid, ppid_fsn, payload)
                )
                self._held += len(payload)
                return
        self._ideliver(flags, sid, mid, ppid_fsn, payload)

    def _ideliver(self, flags: int, sid: int, mid: int, ppid_fsn: int, payload: bytes) -> None:
        unordered = bool(flags & FLAG_UNORDERED)
        if flags & 3 == 3:
            if unordered:
                self._events.append(DataReceived(sid, ppid_fsn, payload))
            else:
                self._deliver_ordered(sid, mid, ppid_fsn, payload)
            return
        if not unordered and (mid - self._ssn_in.get(sid, 0)) & _M32 >= _HALF:
            return  # a fragment of a message delivered or skipped already
        key = (sid, unordered, mid)
        p = self._ipartials.get(key)
        if p is None:
            p = self._ipartials[key] = _IPartial(sid, unordered, mid)
            self._held += _IPARTIAL_COST
        if flags & FLAG_BEGIN:
            fsn = 0
            p.ppid = ppid_fsn
        else:
            fsn = ppid_fsn
        if fsn in p.frags:
            return
        if p.size >= 0:
            if p.size + len(payload) > self.max_message_size:
                # Larger than we announced: keep counting fragments, not bytes.
                self._held -= p.size
                p.size = -1
                p.frags = dict.fromkeys(p.frags, b"")
                self._report_oversized(sid)
            else:
                p.size += len(payload)
                self._held += len(payload)
        p.frags[fsn] = payload if p.size >= 0 else b""
        if flags & FLAG_END:
            p.last_fsn = fsn
        if p.last_fsn < 0 or p.ppid < 0 or len(p.frags) != p.last_fsn + 1:
            return
        del self._ipartials[key]
        self._held -= _IPARTIAL_COST + max(p.size, 0)
        if p.size < 0:
            if not unordered:
                self._deliver_ordered(sid, mid, p.ppid, None)
            return
        frags = p.frags
        msg = b"".join([frags[i] for i in range(p.last_fsn + 1)])
        if unordered:
            self._events.append(DataReceived(sid, p.ppid, msg))
        else:
            self._deliver_ordered(sid, mid, p.ppid, msg)

    def _drop_ipartial(self, key: tuple[int, bool, int]) -> None:
        p = self._ipartials.pop(key, None)
        if p is not None:
            self._held -= _IPARTIAL_COST + max(p.size, 0)

    def _on_iforward_tsn(self, chunk: IForwardTsnChunk) -> None:
        """RFC 8260 2.3.2: like FORWARD TSN, naming skipped messages by stream, U and MID."""
        new_cum = self._unwrap_in(chunk.new_cumulative_tsn)
        self._sack_now = True
        if new_cum <= self._cum_in or new_cum - self._cum_in > (1 << 24):
            return
        above = self._above
        for t in [t for t in above if t <= new_cum]:
            self._above_bytes -= above.pop(t)
        cum = new_cum
        while cum + 1 in above:
            cum += 1
            self._above_bytes -= above.pop(cum)
        self._cum_in = cum
        for sid, unordered, mid in chunk.streams:
            if unordered:
                self._drop_ipartial((sid, True, mid))
                continue
            expected = self._ssn_in.get(sid, 0)
            dist = (mid - expected) & _M32
            if dist >= _HALF:
                continue
            for key in [
                k
                for k in self._ipartials
                if k[0] == sid and not k[1] and (k[2] - expected) & _M32 <= dist
            ]:
                self._drop_ipartial(key)
            self._skip_ssn(sid, mid)
        if self._deferred_reset is not None:
            self._try_deferred_reset()

    def _sack_chunk(self) -> bytes:
        cum = self._cum_in
        gaps: list[tuple[int, int]] = []
        if self._above:
            run_start = run_end = -1
            for t in sorted(self._above):
                off = t - cum
                if off == run_end + 1:
                    run_end = off
                else:
                    if run_start >= 0:
                        gaps.append((run_start, run_end))
                        if len(gaps) >= 128:
                            break
                    run_start = run_end = off
            if run_start >= 0 and len(gaps) < 128:
                gaps.append((run_start, run_end))
        dups = self._dups[:32]
        self._dups = []
        rwnd = self.receive_window - self._above_bytes
        body = _SACK_HDR.pack(
            3, 0, 16 + 4 * len(gaps) + 4 * len(dups), cum & _M32, max(rwnd, 0), len(gaps), len(dups)
        )
        if gaps:
            body += b"".join(_U16x2.pack(s, e) for s, e in gaps)
        if dups:
            body += b"".join(_U32.pack(d) for d in dups)
        self._sack_now = self._sack_pending = False
        self._sack_at = None
        self._data_packets = 0
        return body
