"""Consent freshness (RFC 7675) and ICE restart (RFC 8445 section 9: generations)."""

from __future__ import annotations

import logging

from rtcpeer.ice.agent_base import AgentBase, _Generation, _Kind, _Transaction, random_ice_string
from rtcpeer.ice.events import IceState

# The agent's logger, whichever module of it logs.
logger = logging.getLogger("rtcpeer.ice.agent")


class ConsentAndRestart(AgentBase):
    """Consent checks on the selected pair, and restarting with new credentials."""

    def restart(self, ufrag: str | None = None, pwd: str | None = None) -> None:
        """ICE restart (RFC 8445 section 9): new credentials and a fresh check list.

        ``ufrag``/``pwd`` are the new local credentials when the caller already chose them
        (e.g. written into an offer); random ones otherwise. The selected pair (if any)
        keeps sending, with consent under the old credentials, until the new generation
        nominates a pair.
        """
        if self.state is IceState.CLOSED:
            return
        if self.state is IceState.FAILED:
            # A pair whose consent expired is dead: nothing to keep sending on.
            self._selected = None
            self._next_consent_at = None
        self._old_gen = self._gen if self._selected is not None else None
        self._gen = _Generation(ufrag or random_ice_string(8), pwd or random_ice_string(24))
        self._generation += 1
        self._remote.clear()
        self._remote_by_addr.clear()
        self._remote_done = False
        # Local candidates (and whether gathering is over) carry over: same sockets.
        self.checklist.clear()
        self._nominating = None
        self._first_valid_at = None
        for tid, tx in list(self._transactions.items()):
            if tx.kind is _Kind.CHECK:
                del self._transactions[tid]
        if self._selected is None:
            self._set_state(IceState.CHECKING if self.state is not IceState.NEW else IceState.NEW)
        elif self.state is IceState.COMPLETED:
            self._set_state(IceState.CONNECTED)
        elif self.state is IceState.FAILED:
            self._set_state(IceState.CHECKING)

    # ------------------------------------------------------------------ consent (RFC 7675)

    def _schedule_consent(self, now: float) -> None:
        # RFC 7675 section 5.1: randomised 0.8-1.2 times the interval.
        self._next_consent_at = now + self.consent_interval * self._rng.uniform(0.8, 1.2)

    def _consent(self, now: float) -> None:
        sel = self._selected
        if sel is None or self.state is IceState.FAILED:
            return
        if now >= self._last_consent + self.consent_timeout:
            logger.info("ICE consent expired on %r", sel)
            self._set_state(IceState.FAILED)
            return
        if self._next_consent_at is None or now < self._next_consent_at:
            return
        gen = self._gen if sel.generation == self._generation else self._old_gen
        if gen is None or gen.remote_pwd is None:
            self._schedule_consent(now)
            return
        tid, data, priority = self._request(sel, gen, False)
        tx = _Transaction(
            _Kind.CONSENT, sel, data, gen.remote_pwd.encode(), self.controlling, False, priority
        )
        tx.expires_at = now + self.consent_timeout
        tx.next_at = tx.expires_at
        self._transactions[tid] = tx
        self._out.append((data, sel.local_key, sel.remote_addr))
        self._consent_outstanding = True
        self._schedule_consent(now)
        # An unanswered request is probably lost: ask again soon rather than in 5 s, so a
        # brief outage is bridged before "disconnected".
        self._next_consent_at = min(self._next_consent_at, now + 1.0 + self._rng.uniform(0, 0.2))
