"""The sans-I/O ICE agent: connectivity checks, roles, nomination, consent and restart.

Implements (full ICE, one data stream with one component, as WebRTC uses under BUNDLE and
rtcp-mux):
- RFC 8445 section 6.1 (check list formation, pacing by Ta, the triggered-check queue),
  section 7.2 (sending checks: USERNAME, PRIORITY, ICE-CONTROLLING/ICE-CONTROLLED with the
  tie-breaker, USE-CANDIDATE; processing responses: symmetric addresses, 487 role conflict
  (7.2.5.1), peer-reflexive local candidates (7.2.5.3.1), valid pairs, unfreezing
  (7.2.5.3.3), nomination (7.2.5.3.4)), section 7.3 (responding to checks: role conflict
  (7.3.1.1), peer-reflexive remote candidates (7.3.1.3), triggered checks with cancellation
  of in-progress transactions (7.3.1.4), USE-CANDIDATE for regular and aggressive
  nomination (7.3.1.5)), section 8.1 (regular nomination by the controlling agent, stopping
  checks once nominated), section 9 (ICE restart), section 12.1 (data may flow on a valid
  pair before nomination) and section 14.3 (RTO for checks);
- RFC 8838 (trickle ICE: remote candidates at any time, end-of-candidates);
- RFC 7675 (consent freshness: randomised 4-6 s binding requests on the selected pair,
  consent lost 30 s after the last response);
- RFC 8489 sections 9.1 and 6.3 (short-term credentials: 400 when USERNAME or
  MESSAGE-INTEGRITY is missing, silent drop for an unknown username or a bad integrity, the
  error codes 400 and 487);
- RFC 7983 (telling STUN from application data by the first byte).

Timing choices (documented because the RFCs leave them open):
- Ta defaults to 50 ms. Check transactions retransmit from ``check_rto`` (0.5 s, RFC 8445
  section 14.3's floor) doubling up to ``check_rto_max`` (1.6 s); a pair fails after
  ``check_max_sends`` (7, RFC 8489's Rc) unanswered sends, about 9.5 s.
- The controlling agent nominates the best valid pair as soon as no pair of higher priority
  is still pending, or ``nomination_delay`` (0.5 s) after the first valid pair.
- "disconnected" after ``disconnected_timeout`` (6 s, browsers use a similar 5-7 s) in which
  nothing arrived from the selected remote address (consent responses, the peer's own checks
  or application data); back to connected when anything arrives again. While a consent
  request is unanswered for 1 s the next one is sent early, so recovery is quick.
- "failed" when no consent response arrived for ``consent_timeout`` (30 s, RFC 7675 section
  5.1). Application data keeps the "connected" state but, per RFC 7675, never refreshes
  consent itself.
- A pair is identified by (socket key, remote address), so a server-reflexive local
  candidate pairs through its host base (RFC 8445 section 6.1.2.4) and a peer-reflexive
  local candidate learned from a response only refreshes that same pair.

Module layout: this module keeps the public facade (:class:`IceAgent`) and re-exports the
events; the agent's other parts live in ``agent_base`` (shared state, pairing, state
machine), ``consent`` (consent freshness, restart), ``checks`` (our checks, nomination,
selection) and ``responder`` (the checks we answer), see ``agent_base``'s docstring.
"""

from __future__ import annotations

import logging
import random
import secrets

from rtcpeer.ice.agent_base import _FAR_PAST, _Generation, _Transaction, random_ice_string
from rtcpeer.ice.candidate import is_ip_address, normalize_host
from rtcpeer.ice.checklist import Address, CandidatePair, CheckList, PairState
from rtcpeer.ice.events import (
    IceEvent,
    IceState,
    IceStateChanged,
    LocalCandidateLearned,
    LocalKey,
    RemoteCandidateLearned,
    RoleChanged,
    SelectedPairChanged,
)
from rtcpeer.ice.responder import Responder
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import MessageClass, Method, ParseError, parse

__all__ = [
    "Address",
    "CandidatePair",
    "CheckList",
    "IceAgent",
    "IceEvent",
    "IceState",
    "IceStateChanged",
    "LocalCandidateLearned",
    "LocalKey",
    "PairState",
    "RemoteCandidateLearned",
    "RoleChanged",
    "SelectedPairChanged",
    "random_ice_string",
]

logger = logging.getLogger(__name__)


class IceAgent(Responder):
    """Full ICE agent for one component, driven from outside (sans-I/O).

    The shell owns sockets and identifies each with a hashable ``local_key``; the agent tells
    it which key to send each datagram from (``datagrams_to_send``).

    The public API is this class; ``restart`` is inherited from
    :class:`rtcpeer.ice.consent.ConsentAndRestart` and the internals from the other parts
    (see :mod:`rtcpeer.ice.agent_base`).
    """

    def __init__(
        self,
        controlling: bool,
        ufrag: str | None = None,
        pwd: str | None = None,
        tie_breaker: int | None = None,
        *,
        ta: float = 0.05,
        check_rto: float = 0.5,
        check_rto_max: float = 1.6,
        check_max_sends: int = 7,
        nomination_delay: float = 0.5,
        aggressive_nomination: bool = False,
        consent_interval: float = 5.0,
        consent_timeout: float = 30.0,
        disconnected_timeout: float = 6.0,
        max_pairs: int = 100,
        max_remote_candidates: int = 100,
        rng: random.Random | None = None,
    ) -> None:
        self._rng = rng or random.Random(secrets.randbits(64))
        self.controlling = controlling
        self.tie_breaker = tie_breaker if tie_breaker is not None else self._rng.getrandbits(64)
        self._gen = _Generation(ufrag or random_ice_string(8), pwd or random_ice_string(24))
        # Previous generation while a restart is under way: its selected pair keeps
        # carrying data (and consent) until the new generation nominates a pair.
        self._old_gen: _Generation | None = None
        self._generation = 0

        self.ta = ta
        self.check_rto = check_rto
        self.check_rto_max = check_rto_max
        self.check_max_sends = check_max_sends
        self.nomination_delay = nomination_delay
        self.aggressive_nomination = aggressive_nomination
        self.consent_interval = consent_interval
        self.consent_timeout = consent_timeout
        self.disconnected_timeout = disconnected_timeout

        self._local: list[tuple[Candidate, LocalKey]] = []
        self._bases: dict[LocalKey, Candidate] = {}
        self._local_done = False
        self._remote: list[Candidate] = []
        self._remote_by_addr: dict[tuple[str, Address], Candidate] = {}
        self._remote_done = False
        self._prflx_counter = 0
        # Remote candidates kept per generation (signalled and peer-reflexive together): a
        # peer trickling thousands must not make us hold (and check) thousands.
        self.max_remote_candidates = max_remote_candidates
        self.dropped_remote_candidates = 0

        self.checklist = CheckList(max_pairs)
        self._transactions: dict[bytes, _Transaction] = {}
        self._out: list[tuple[bytes, LocalKey, Address]] = []
        self._events: list[IceEvent] = []

        self.state = IceState.NEW
        self._selected: CandidatePair | None = None
        self._nominating: CandidatePair | None = None
        self._first_valid_at: float | None = None
        self._last_check_at = _FAR_PAST
        self._now = 0.0
        # Consent and activity on the selected pair.
        self._last_rx = _FAR_PAST
        self._last_consent = _FAR_PAST
        self._next_consent_at: float | None = None
        self._consent_outstanding = False

    # ------------------------------------------------------------------ properties

    @property
    def local_ufrag(self) -> str:
        return self._gen.local_ufrag

    @property
    def local_pwd(self) -> str:
        return self._gen.local_pwd

    @property
    def remote_ufrag(self) -> str | None:
        return self._gen.remote_ufrag

    @property
    def selected_pair(self) -> CandidatePair | None:
        return self._selected

    @property
    def local_candidates(self) -> list[Candidate]:
        return [c for c, _ in self._local]

    @property
    def remote_candidates(self) -> list[Candidate]:
        return list(self._remote)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def last_received(self) -> float:
        """When anything last arrived from the selected pair's remote address."""
        return self._last_rx

    @property
    def last_consent(self) -> float:
        """When consent was last granted (RFC 7675: a binding success response)."""
        return self._last_consent

    # ------------------------------------------------------------------ configuration

    def add_local_candidate(self, candidate: Candidate, local_key: LocalKey) -> None:
        """Register a gathered local candidate that the shell sends from ``local_key``."""
        if self.state is IceState.CLOSED:
            return
        self._local.append((candidate, local_key))
        # The first host/relay candidate on a socket is its base; server-reflexive ones
        # share the host's socket and never become the base (RFC 8445 section 5.1.1.1).
        base = self._bases.get(local_key)
        if base is None or (
            base.type in ("srflx", "prflx") and candidate.type in ("host", "relay")
        ):
            self._bases[local_key] = candidate
        for remote in self._remote:
            self._pair(candidate, local_key, remote)

    def local_candidates_complete(self) -> None:
        """Local gathering finished: with no pairs left to try the agent may now fail."""
        self._local_done = True
        self._update_state()

    def set_remote_credentials(self, ufrag: str, pwd: str) -> None:
        self._gen.remote_ufrag = ufrag
        self._gen.remote_pwd = pwd
        if self.state is IceState.NEW and len(self.checklist):
            self._set_state(IceState.CHECKING)

    def add_remote_candidate(self, candidate: Candidate | None) -> bool:
        """Add a trickled remote candidate; ``None`` means end-of-candidates (RFC 8838).

        Returns False when the candidate is ignored: unusable here (another generation, an
        unresolved mDNS name, RTCP, active TCP), already known, or beyond
        ``max_remote_candidates`` (counted in ``dropped_remote_candidates``).
        """
        if self.state is IceState.CLOSED:
            return False
        if candidate is None:
            self._remote_done = True
            self._update_state()
            return True
        if candidate.ufrag and self._gen.remote_ufrag and candidate.ufrag != self._gen.remote_ufrag:
            # Trickled for another generation (RFC 8838 section 11.4): stale after a restart.
            return False
        if candidate.component != 1 or not is_ip_address(candidate.host):
            # mDNS names must be resolved by the shell first; RTCP components are unused.
            return False
        transport = candidate.transport.lower()
        if transport != "udp" and not (transport == "tcp" and candidate.tcptype == "passive"):
            return False
        if not 0 < candidate.port < 65536:
            return False
        addr = (normalize_host(candidate.host), candidate.port)
        known = self._remote_by_addr.get((transport, addr))
        if known is not None:
            if known.type == "prflx":
                # The signalled candidate describes a peer-reflexive one we already learned;
                # keep the pairs (and their progress) but report the signalled type.
                self._replace_remote(known, candidate)
                return True
            return False
        if len(self._remote) >= self.max_remote_candidates:
            if not self.dropped_remote_candidates:
                logger.info(
                    "more than %d remote candidates: ignoring the rest", self.max_remote_candidates
                )
            self.dropped_remote_candidates += 1
            return False
        self._remote.append(candidate)
        self._remote_by_addr[(transport, addr)] = candidate
        if self._selected_is_final():
            # RFC 8445 section 8.1.2: checks are over once a pair is nominated.
            return True
        for local, key in self._local:
            self._pair(local, key, candidate)
        if self.state is IceState.NEW and self._gen.remote_pwd is not None and len(self.checklist):
            self._set_state(IceState.CHECKING)
        return True

    def set_role(self, controlling: bool) -> None:
        """Set the role (controlling or not) of an agent created before its role was known,
        e.g. a W3C candidate pool gathering before setLocalDescription/setRemoteDescription.
        Meant for before checks start; later it re-prioritises the pairs the same way a role
        conflict does (RFC 8445 section 7.3.1.1)."""
        self._switch_role(controlling)

    def close(self) -> None:
        self._transactions.clear()
        self.checklist.clear()
        self._out.clear()
        self._selected = None
        self._set_state(IceState.CLOSED)

    # ------------------------------------------------------------------ I/O

    def datagrams_to_send(self) -> list[tuple[bytes, LocalKey, Address]]:
        out = self._out
        self._out = []
        return out

    def events(self) -> list[IceEvent]:
        ev = self._events
        self._events = []
        return ev

    def send(self, data: bytes) -> bool:
        """Queue application data on the selected pair; False when there is none."""
        sel = self._selected
        if sel is None or self.state in (IceState.FAILED, IceState.CLOSED):
            return False
        self._out.append((data, sel.local_key, sel.remote_addr))
        return True

    def receive(
        self,
        data: bytes | bytearray | memoryview,
        local_key: LocalKey,
        remote_addr: Address,
        now: float,
    ) -> bytes | bytearray | memoryview | None:
        """Process one datagram. Returns it back when it is application data to deliver.

        Non-STUN data (RFC 7983: first byte above 3) from a known remote address is returned
        untouched and only refreshes the activity clock; anything else returns None.
        """
        if not data:
            return None
        if data[0] > 3:
            sel = self._selected
            if sel is not None and remote_addr == sel.remote_addr:
                self._last_rx = now
                return data
            # Before selection (or from another valid pair) data is accepted only from
            # addresses that took part in ICE; anything else is an off-path injection.
            if ("udp", remote_addr) in self._remote_by_addr or (
                "tcp",
                remote_addr,
            ) in self._remote_by_addr:
                return data
            return None
        if self.state is IceState.CLOSED:
            return None
        self._now = now
        try:
            msg = parse(data)
        except ParseError:
            logger.debug("dropping malformed STUN from %s", remote_addr)
            return None
        if msg.method != Method.BINDING:
            return None
        if msg.message_class == MessageClass.REQUEST:
            self._on_request(msg, local_key, remote_addr, now)
        elif msg.message_class in (MessageClass.SUCCESS, MessageClass.ERROR):
            self._on_response(msg, local_key, remote_addr, now)
        elif msg.message_class == MessageClass.INDICATION:
            # Binding indications are keepalives (RFC 8445 section 11); they show life.
            self._note_rx(remote_addr, now)
        self._after_event(now)
        return None

    def next_timeout(self) -> float | None:
        if self.state in (IceState.CLOSED,):
            return None
        times: list[float] = []
        if self._checks_possible():
            times.append(self._last_check_at + self.ta)
        for tx in self._transactions.values():
            times.append(tx.next_at)
        if self._selected is not None and self.state is not IceState.FAILED:
            if self._next_consent_at is not None:
                times.append(self._next_consent_at)
            if self.state in (IceState.CONNECTED, IceState.COMPLETED):
                times.append(self._last_rx + self.disconnected_timeout)
            times.append(self._last_consent + self.consent_timeout)
        if (
            self.controlling
            and not self.aggressive_nomination
            and self._first_valid_at is not None
            and self._nominating is None
            and self._first_valid_at + self.nomination_delay > self._now
            and self.checklist.best_nominated() is None
        ):
            # Only a future deadline: a past one was acted on (or had no valid pair to
            # nominate) and must not make the shell's timer spin.
            times.append(self._first_valid_at + self.nomination_delay)
        return min(times) if times else None

    def timeout(self, now: float) -> None:
        if self.state is IceState.CLOSED:
            return
        self._now = now
        self._retransmit(now)
        # Nominate first: the nomination check then goes out in this same Ta slot.
        self._maybe_nominate(now)
        if self._checks_possible() and now >= self._last_check_at + self.ta:
            pair = self.checklist.next_check()
            if pair is not None:
                self._send_check(pair, now)
        self._consent(now)
        self._update_state()
