"""Stream reset (RFC 6525 sections 5.1-5.2): Outgoing SSN Reset Requests, responses, deferred
resets until the peer's last TSN has arrived.
"""

from __future__ import annotations

from rtcpeer.sctp._base import (
    _IDATA_MARK,
    _IPARTIAL_COST,
    _M32,
    AssociationBase,
)
from rtcpeer.sctp.chunks import (
    IncomingSsnResetRequest,
    OutgoingSsnResetRequest,
    ReconfigChunk,
    ReconfigParam,
    ReconfigResponse,
    ReconfigResult,
)
from rtcpeer.sctp.events import (
    IncomingStreamsReset,
    OutgoingStreamsReset,
    StreamResetFailed,
)


class ReconfigMixin(AssociationBase):
    def reset_streams(self, ids: list[int] | tuple[int, ...]) -> None:
        """Reset outgoing streams (RFC 6525) once their queued messages have been sent."""
        for sid in ids:
            if sid not in self._resetting:
                self._resetting.add(sid)
                self._reset_queue.append(sid)

    def _on_reconfig(self, chunk: ReconfigChunk, now: float) -> None:
        for p in chunk.params:
            if isinstance(p, OutgoingSsnResetRequest):
                self._on_outgoing_reset_request(p)
            elif isinstance(p, ReconfigResponse):
                self._on_reconfig_response(p, now)
            elif isinstance(p, IncomingSsnResetRequest):
                # The peer asks us to reset our outgoing streams; do it as a new request of
                # our own and answer this one as performed-by-request.
                self._respond(p.request_seq, ReconfigResult.SUCCESS_NOTHING_TO_DO, p)
                self.reset_streams(p.streams)
            else:
                seq = getattr(p, "request_seq", None)
                if isinstance(seq, int):
                    self._respond(seq, ReconfigResult.DENIED, p)

    def _respond(self, seq: int, result: int, req: ReconfigParam) -> None:
        if self._peer_req_expected is None:
            self._peer_req_expected = seq
        if seq == self._peer_req_expected:
            self._peer_req_expected = (seq + 1) & _M32
            resp = ReconfigResponse(seq, result)
            self._last_response = resp
        elif self._last_response is not None and seq == self._last_response.response_seq:
            resp = self._last_response
        else:
            resp = ReconfigResponse(seq, ReconfigResult.ERROR_BAD_SEQUENCE)
        self._ctrl.append(ReconfigChunk([resp]).encode())

    def _on_outgoing_reset_request(self, req: OutgoingSsnResetRequest) -> None:
        if self._peer_req_expected is None:
            self._peer_req_expected = req.request_seq
        if req.request_seq == self._peer_req_expected:
            self._peer_req_expected = (req.request_seq + 1) & _M32
            if self._unwrap_in(req.last_tsn) <= self._cum_in:
                self._perform_incoming_reset(req)
                self._last_response = ReconfigResponse(
                    req.request_seq, ReconfigResult.SUCCESS_PERFORMED
                )
            else:
                self._deferred_reset = req
                self._last_response = ReconfigResponse(req.request_seq, ReconfigResult.IN_PROGRESS)
            resp = self._last_response
        elif (
            self._last_response is not None and req.request_seq == self._last_response.response_seq
        ):
            resp = self._last_response
        else:
            resp = ReconfigResponse(req.request_seq, ReconfigResult.ERROR_BAD_SEQUENCE)
        self._ctrl.append(ReconfigChunk([resp]).encode())

    def _perform_incoming_reset(self, req: OutgoingSsnResetRequest) -> None:
        ids = list(req.streams) or sorted(set(self._ssn_in) | set(self._stash))
        if self._ipartials:
            for key in [k for k in self._ipartials if k[0] in ids]:
                p = self._ipartials.pop(key)
                self._held -= _IPARTIAL_COST + max(p.size, 0)
        for sid in ids:
            self._ssn_in.pop(sid, None)
            stash = self._stash.pop(sid, None)
            if stash:
                self._held -= sum(len(m) for _, m in stash.values() if m is not None)
        self._events.append(IncomingStreamsReset(tuple(ids)))

    def _try_deferred_reset(self) -> None:
        req = self._deferred_reset
        if req is None or self._unwrap_in(req.last_tsn) > self._cum_in:
            return
        self._deferred_reset = None
        self._perform_incoming_reset(req)
        resp = ReconfigResponse(req.request_seq, ReconfigResult.SUCCESS_PERFORMED)
        self._last_response = resp
        self._ctrl.append(ReconfigChunk([resp]).encode())
        chunks, self._deferred_chunks = self._deferred_chunks, []
        for tsn, flags, sid, ssn, ppid, payload in chunks:
            self._held -= len(payload)
            if flags & _IDATA_MARK:
                self._ideliver(flags & 0xFF, sid, ssn, ppid, payload)
                continue
            self._deliver(tsn, flags, sid, ssn, ppid, payload)

    def _on_reconfig_response(self, resp: ReconfigResponse, now: float) -> None:
        req = self._reconf_req
        if req is None or resp.response_seq != req.request_seq:
            return
        if resp.result == ReconfigResult.IN_PROGRESS:
            self._reconf_at = now + self._rto  # ask again later with the same sequence number
            return
        self._reconf_req = None
        self._reconf_at = None
        self._reconf_seq = (self._reconf_seq + 1) & _M32
        ids = tuple(req.streams)
        for sid in ids:
            self._resetting.discard(sid)
        if resp.result in (ReconfigResult.SUCCESS_PERFORMED, ReconfigResult.SUCCESS_NOTHING_TO_DO):
            for sid in ids:
                self._ssn_out.pop(sid, None)
                self._umid_out.pop(sid, None)
            self._events.append(OutgoingStreamsReset(ids))
        else:
            self._events.append(StreamResetFailed(ids, resp.result))

    def _maybe_send_reset(self) -> None:
        if self._reconf_req is not None or not self._reset_queue:
            return
        waiting = self._out_streams
        ids = [s for s in self._reset_queue if s not in waiting]
        if not ids:
            return
        self._reset_queue = [s for s in self._reset_queue if s in waiting]
        resp_seq = ((self._peer_req_expected or 0) - 1) & _M32
        self._reconf_req = OutgoingSsnResetRequest(
            self._reconf_seq, resp_seq, (self._next_tsn - 1) & _M32, ids
        )
        self._ctrl.append(ReconfigChunk([self._reconf_req]).encode())
        self._reconf_at = self._now + self._rto
