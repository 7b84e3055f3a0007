"""Our outgoing connectivity checks: transactions, responses, nomination and selection.

RFC 8445 sections 7.2 (sending checks, processing responses), 8.1 (regular nomination,
stopping checks once nominated) and 14.3 (RTO for checks).
"""

from __future__ import annotations

from rtcpeer.ice.agent_base import _Kind, _Transaction
from rtcpeer.ice.candidate import compute_foundation, normalize_host
from rtcpeer.ice.checklist import Address, CandidatePair, PairState
from rtcpeer.ice.consent import ConsentAndRestart
from rtcpeer.ice.events import IceState, LocalCandidateLearned, LocalKey, SelectedPairChanged
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import Attr, MessageClass, StunMessage


class CheckSender(ConsentAndRestart):
    """Sending checks and acting on their responses."""

    def _send_check(self, pair: CandidatePair, now: float) -> None:
        gen = self._gen
        if gen.remote_pwd is None:
            return
        use_candidate = self.controlling and (
            self.aggressive_nomination or pair is self._nominating
        )
        tid, data, priority = self._request(pair, gen, use_candidate)
        # Per RFC 8445 section 7.3.1.4 a new check supersedes one still in flight.
        for tx in self._transactions.values():
            if tx.pair is pair and tx.kind is _Kind.CHECK:
                tx.cancelled = True
        tx = _Transaction(
            _Kind.CHECK,
            pair,
            data,
            gen.remote_pwd.encode(),
            self.controlling,
            use_candidate,
            priority,
        )
        waiting = sum(
            1 for p in self.checklist if p.state in (PairState.WAITING, PairState.IN_PROGRESS)
        )
        # RFC 8445 section 14.3: RTO = max(500 ms, Ta * (waiting + in-progress pairs)).
        tx.rto = max(self.check_rto, self.ta * waiting)
        tx.next_at = now + tx.rto
        self._transactions[tid] = tx
        pair.state = PairState.IN_PROGRESS
        pair.use_candidate_sent = use_candidate
        self._last_check_at = now
        self._out.append((data, pair.local_key, pair.remote_addr))
        if self.state is IceState.NEW:
            self._set_state(IceState.CHECKING)

    def _retransmit(self, now: float) -> None:
        for tid, tx in list(self._transactions.items()):
            if tx.next_at > now:
                continue
            if tx.kind is _Kind.CONSENT:
                if now >= tx.expires_at:
                    del self._transactions[tid]
                else:
                    tx.next_at = tx.expires_at
                continue
            if tx.cancelled or tx.sends >= self.check_max_sends:
                del self._transactions[tid]
                pair = tx.pair
                if not tx.cancelled and (
                    pair.state is PairState.IN_PROGRESS or (tx.use_candidate and not pair.nominated)
                ):
                    # An unanswered nomination fails its pair even if an earlier check on it
                    # succeeded: the path no longer works, and another pair gets nominated.
                    self._pair_failed(pair)
                continue
            tx.sends += 1
            tx.rto = min(tx.rto * 2, self.check_rto_max)
            tx.next_at = now + tx.rto
            self._out.append((tx.data, tx.pair.local_key, tx.pair.remote_addr))

    def _pair_failed(self, pair: CandidatePair) -> None:
        pair.state = PairState.FAILED
        pair.valid = False
        pair.nominated = False
        if pair is self._nominating:
            self._nominating = None
        # A failure also lets same-foundation pairs be tried (RFC 8445 section 7.2.5.3.3
        # speaks of success; unfreezing on failure avoids waiting for the Ta fallback).
        self.checklist.unfreeze_foundation(pair.foundation)
        if self._selected is pair:
            self._selected = None
            self._select(self._now)
        self._update_state()

    # ------------------------------------------------------------------ responses

    def _on_response(
        self, msg: StunMessage, local_key: LocalKey, addr: Address, now: float
    ) -> None:
        tid = bytes(msg.transaction_id)
        tx = self._transactions.get(tid)
        if tx is None:
            return
        if not msg.check_integrity(tx.key):
            return  # not from the peer we asked; the transaction stays open
        del self._transactions[tid]
        pair = tx.pair
        if addr != pair.remote_addr or local_key != pair.local_key:
            # RFC 8445 section 7.2.5.2.1: non-symmetric addresses fail the pair.
            if tx.kind is _Kind.CHECK:
                self._pair_failed(pair)
            return
        if tx.kind is _Kind.CONSENT:
            if msg.message_class == MessageClass.SUCCESS:
                self._last_consent = now
                self._consent_outstanding = False
                self._note_rx(addr, now)
            return
        if msg.message_class == MessageClass.ERROR:
            error = msg.get(Attr.ERROR_CODE)
            code = error[0] if isinstance(error, tuple) else 0
            if code == 487:
                # RFC 8445 section 7.2.5.1: switch role only if it is still the one the
                # request claimed, then retry the pair.
                if tx.controlling == self.controlling:
                    self._switch_role(not tx.controlling)
                if pair.state is not PairState.SUCCEEDED:
                    self.checklist.trigger(pair)
                return
            if pair.state is not PairState.SUCCEEDED or tx.use_candidate:
                self._pair_failed(pair)
            return
        self._note_rx(addr, now)
        mapped = msg.get(Attr.XOR_MAPPED_ADDRESS)
        if isinstance(mapped, tuple):
            self._learn_local_prflx(local_key, (normalize_host(mapped[0]), mapped[1]), tx.priority)
        if not (
            pair.state is PairState.WAITING and pair is self._nominating and not tx.use_candidate
        ):
            # The pair succeeded; a triggered check still queued for it is skipped by the
            # check list (it only sends Waiting pairs), which ends the triggered ping-pong
            # of two agents that keep cancelling each other's in-progress checks. Only a
            # queued nomination must still go out.
            pair.state = PairState.SUCCEEDED
        first_valid = not pair.valid
        pair.valid = True
        if first_valid and self._first_valid_at is None:
            self._first_valid_at = now
        self.checklist.unfreeze_foundation(pair.foundation)
        if tx.use_candidate and self.controlling:
            pair.nominated = True
            if pair is self._nominating:
                self._nominating = None
        elif not self.controlling and pair.nominate_on_success:
            pair.nominated = True
        self._select(now)

    def _learn_local_prflx(self, local_key: LocalKey, mapped: Address, priority: int) -> None:
        for cand, key in self._local:
            if key == local_key and (normalize_host(cand.host), cand.port) == mapped:
                return
        base = self._bases.get(local_key)
        if base is None:
            return
        cand = Candidate(
            foundation=compute_foundation("prflx", base.host, base.transport),
            component=1,
            transport=base.transport,
            priority=priority,
            host=mapped[0],
            port=mapped[1],
            type="prflx",
            related_address=base.host,
            related_port=base.port,
        )
        self._local.append((cand, local_key))
        self._events.append(LocalCandidateLearned(cand, local_key))

    # ------------------------------------------------------------------ nomination, selection

    def _maybe_nominate(self, now: float) -> None:
        if not self.controlling or self.aggressive_nomination or self._nominating is not None:
            return
        if self.checklist.best_nominated() is not None:
            return
        best = self.checklist.best_valid()
        if best is None:
            return
        better_pending = any(
            p.priority > best.priority
            and p.state in (PairState.FROZEN, PairState.WAITING, PairState.IN_PROGRESS)
            for p in self.checklist
        )
        waited = (
            self._first_valid_at is not None and now >= self._first_valid_at + self.nomination_delay
        )
        if better_pending and not waited:
            return
        # Regular nomination (RFC 8445 section 8.1.1): a new check with USE-CANDIDATE on
        # the chosen valid pair, sent as a triggered check.
        self._nominating = best
        self.checklist.trigger(best)

    def _select(self, now: float) -> None:
        nominated = self.checklist.best_nominated()
        if nominated is not None:
            choice: CandidatePair | None = nominated
        elif self._old_gen is not None and self._selected is not None:
            # During a restart the old pair carries data until the new one is nominated.
            choice = self._selected
        else:
            choice = self.checklist.best_valid()
        if nominated is not None and self._old_gen is not None:
            self._old_gen = None
            for tid, tx in list(self._transactions.items()):
                if tx.pair.generation != self._generation:
                    del self._transactions[tid]
        if nominated is not None:
            self._stop_checks(nominated)
        if choice is self._selected:
            self._update_state()
            return
        self._selected = choice
        if choice is not None:
            self._last_rx = max(self._last_rx, now)
            self._last_consent = max(self._last_consent, now)
            self._schedule_consent(now)
            self._events.append(
                SelectedPairChanged(
                    choice.local, choice.remote, choice.local_key, choice.remote_addr
                )
            )
        self._update_state()

    def _stop_checks(self, nominated: CandidatePair) -> None:
        """RFC 8445 section 8.1.2: ICE processing for the stream is complete.

        Frozen and Waiting pairs go; In-Progress checks on pairs of lower priority than the
        nominated one are abandoned (no more retransmissions); higher ones may finish.
        """
        self.checklist.stop_checks()
        for tx in self._transactions.values():
            pair = tx.pair
            if (
                tx.kind is _Kind.CHECK
                and pair.state is PairState.IN_PROGRESS
                and not pair.valid
                and pair.priority < nominated.priority
            ):
                tx.cancelled = True
                pair.state = PairState.FAILED

    def _after_event(self, now: float) -> None:
        self._maybe_nominate(now)
        self._update_state()
