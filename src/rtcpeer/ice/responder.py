"""The checks we answer: incoming binding requests (RFC 8445 section 7.3, RFC 8489 9.1)."""

from __future__ import annotations

from rtcpeer.ice.agent_base import _Generation, _Kind
from rtcpeer.ice.checklist import Address, PairState
from rtcpeer.ice.checks import CheckSender
from rtcpeer.ice.events import LocalKey, RemoteCandidateLearned
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import Attr, MessageClass, Method, StunMessage


class Responder(CheckSender):
    """Answering the peer's checks and learning from them."""

    def _reply(
        self,
        msg: StunMessage,
        local_key: LocalKey,
        addr: Address,
        key: bytes | None,
        error: tuple[int, str] | None = None,
    ) -> None:
        if error is None:
            resp = StunMessage(Method.BINDING, MessageClass.SUCCESS, msg.transaction_id)
            resp.add(Attr.XOR_MAPPED_ADDRESS, addr)
        else:
            resp = StunMessage(Method.BINDING, MessageClass.ERROR, msg.transaction_id)
            resp.add(Attr.ERROR_CODE, error)
        self._out.append((resp.encode(integrity_key=key, fingerprint=True), local_key, addr))

    def _on_request(self, msg: StunMessage, local_key: LocalKey, addr: Address, now: float) -> None:
        if local_key not in self._bases:
            # A socket with no candidate of ours (its host candidate withheld, e.g. under
            # iceTransportPolicy "relay"): answering would reveal the address.
            return
        username = msg.get(Attr.USERNAME)
        if username is None or not msg.has(Attr.MESSAGE_INTEGRITY):
            # RFC 8489 section 9.1.3: missing credentials get 400, with no state change.
            self._reply(msg, local_key, addr, None, (400, "Bad Request"))
            return
        local_part = str(username).split(":", 1)[0]
        gen: _Generation | None = None
        if local_part == self._gen.local_ufrag:
            gen = self._gen
        elif self._old_gen is not None and local_part == self._old_gen.local_ufrag:
            gen = self._old_gen
        if gen is None:
            return  # unknown username: dropped silently, nothing learned
        key = gen.local_pwd.encode()
        if not msg.check_integrity(key):
            return  # forged or stale: dropped silently
        priority = msg.get(Attr.PRIORITY)
        remote_controlling = msg.get(Attr.ICE_CONTROLLING)
        remote_controlled = msg.get(Attr.ICE_CONTROLLED)
        if not isinstance(priority, int) or (
            remote_controlling is None and remote_controlled is None
        ):
            self._reply(msg, local_key, addr, key, (400, "Bad Request"))
            return

        # Role conflict (RFC 8445 section 7.3.1.1).
        if self.controlling and isinstance(remote_controlling, int):
            if self.tie_breaker >= remote_controlling:
                self._reply(msg, local_key, addr, key, (487, "Role Conflict"))
                return
            self._switch_role(False)
        elif not self.controlling and isinstance(remote_controlled, int):
            if self.tie_breaker >= remote_controlled:
                self._switch_role(True)
            else:
                self._reply(msg, local_key, addr, key, (487, "Role Conflict"))
                return

        self._reply(msg, local_key, addr, key)
        self._note_rx(addr, now)
        if gen is not self._gen:
            return  # a consent check on the previous generation's pair: answered, done.

        base = self._bases.get(local_key)
        if base is None:
            return
        transport = base.transport.lower()
        remote = self._remote_by_addr.get((transport, addr))
        if remote is None:
            remote = self._learn_remote_prflx(addr, transport, priority)
            if remote is None:
                return
        pair = self.checklist.get((local_key, remote.transport, addr))
        if pair is None:
            if self._selected_is_final():
                return
            pair = self._pair(base, local_key, remote, learned=True)
            if pair is None:
                return
        use_candidate = msg.has(Attr.USE_CANDIDATE)
        # Triggered checks (RFC 8445 section 7.3.1.4).
        if pair.state is PairState.SUCCEEDED:
            pass
        elif pair.state is PairState.IN_PROGRESS:
            for tx in self._transactions.values():
                if tx.pair is pair and tx.kind is _Kind.CHECK:
                    tx.cancelled = True
            self.checklist.trigger(pair)
        elif not self._selected_is_final() or pair.state is not PairState.FAILED:
            self.checklist.trigger(pair)
        # USE-CANDIDATE from the controlling agent (RFC 8445 section 7.3.1.5).
        if use_candidate and not self.controlling:
            if pair.valid:
                if not pair.nominated:
                    pair.nominated = True
                    self._select(now)
            else:
                pair.nominate_on_success = True

    def _learn_remote_prflx(self, addr: Address, transport: str, priority: int) -> Candidate | None:
        if len(self._remote) >= min(self.checklist.max_pairs, self.max_remote_candidates):
            self.dropped_remote_candidates += 1
            return None
        self._prflx_counter += 1
        cand = Candidate(
            foundation=f"prflx{self._prflx_counter}",
            component=1,
            transport=transport,
            priority=priority,
            host=addr[0],
            port=addr[1],
            type="prflx",
            # A peer that reached our passive TCP candidate connected actively.
            tcptype="active" if transport == "tcp" else None,
        )
        self._remote.append(cand)
        self._remote_by_addr[(transport, addr)] = cand
        self._events.append(RemoteCandidateLearned(cand))
        return cand
