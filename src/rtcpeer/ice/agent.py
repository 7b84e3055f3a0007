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
"""

from __future__ import annotations

import enum
import logging
import random
import secrets
import string
from collections.abc import Hashable
from dataclasses import dataclass

from rtcpeer.ice.candidate import (
    address_family,
    compute_foundation,
    is_ip_address,
    normalize_host,
    peer_reflexive_priority,
)
from rtcpeer.ice.checklist import Address, CandidatePair, CheckList, PairState
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import (
    Attr,
    MessageClass,
    Method,
    ParseError,
    StunMessage,
    new_transaction_id,
    parse,
)

logger = logging.getLogger(__name__)

LocalKey = Hashable

# RFC 8839 section 5.4: ice-char = ALPHA / DIGIT / "+" / "/".
_ICE_CHARS = string.ascii_letters + string.digits + "+/"


def random_ice_string(length: int) -> str:
    return "".join(secrets.choice(_ICE_CHARS) for _ in range(length))


class IceState(enum.Enum):
    """RTCIceTransportState values (W3C webrtc-pc section 5.6)."""

    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class IceStateChanged:
    state: IceState


@dataclass(frozen=True, slots=True)
class SelectedPairChanged:
    """The pair application data now goes on (``send``) and is expected from."""

    local: Candidate
    remote: Candidate
    local_key: LocalKey
    remote_addr: Address


@dataclass(frozen=True, slots=True)
class RemoteCandidateLearned:
    """A peer-reflexive remote candidate learned from an incoming check (7.3.1.3)."""

    candidate: Candidate


@dataclass(frozen=True, slots=True)
class LocalCandidateLearned:
    """A peer-reflexive local candidate learned from a check response (7.2.5.3.1)."""

    candidate: Candidate
    local_key: LocalKey


@dataclass(frozen=True, slots=True)
class RoleChanged:
    """The agent switched role after a role conflict (RFC 8445 section 7.3.1.1/7.2.5.1)."""

    controlling: bool


IceEvent = (
    IceStateChanged
    | SelectedPairChanged
    | RemoteCandidateLearned
    | LocalCandidateLearned
    | RoleChanged
)


class _Kind(enum.Enum):
    CHECK = 1
    CONSENT = 2


class _Transaction:
    __slots__ = (
        "kind",
        "pair",
        "data",
        "key",
        "controlling",
        "use_candidate",
        "priority",
        "next_at",
        "rto",
        "sends",
        "expires_at",
        "cancelled",
    )

    def __init__(
        self,
        kind: _Kind,
        pair: CandidatePair,
        data: bytes,
        key: bytes,
        controlling: bool,
        use_candidate: bool,
        priority: int,
    ) -> None:
        self.kind = kind
        self.pair = pair
        self.data = data
        self.key = key
        self.controlling = controlling
        self.use_candidate = use_candidate
        self.priority = priority
        self.next_at = 0.0
        self.rto = 0.0
        self.sends = 1
        self.expires_at = 0.0
        # Cancelled by a triggered check (RFC 8445 section 7.3.1.4): no more retransmissions
        # and no failure on timeout, but a late response is still processed.
        self.cancelled = False


class _Generation:
    """Credentials of one ICE generation (changed by restart)."""

    __slots__ = ("local_ufrag", "local_pwd", "remote_ufrag", "remote_pwd")

    def __init__(self, local_ufrag: str, local_pwd: str) -> None:
        self.local_ufrag = local_ufrag
        self.local_pwd = local_pwd
        self.remote_ufrag: str | None = None
        self.remote_pwd: str | None = None


_FAR_PAST = -1e18


class IceAgent:
    """Full ICE agent for one component, driven from outside (sans-I/O).

    The shell owns sockets and identifies each with a hashable ``local_key``; the agent tells
    it which key to send each datagram from (``datagrams_to_send``).
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

    # ------------------------------------------------------------------ pairing

    def _pair(
        self, local: Candidate, key: LocalKey, remote: Candidate, learned: bool = False
    ) -> CandidatePair | None:
        transport = local.transport.lower()
        if transport != remote.transport.lower():
            return None
        if transport == "tcp":
            # RFC 6544 section 6.2: an active local candidate is paired with a passive
            # remote one (we connect); a passive local candidate only gets the pair the
            # peer's connection created (``learned``: checked back over that connection).
            if local.tcptype == "active":
                if remote.tcptype != "passive":
                    return None
            elif not (local.tcptype == "passive" and learned):
                return None
        try:
            if address_family(local.host) != address_family(remote.host):
                return None
        except ValueError:
            return None
        base = self._bases.get(key, local)
        # Server-reflexive candidates send from their base (RFC 8445 section 6.1.2.4), and
        # peer-reflexive local candidates are never paired themselves (section 6.1.2.2).
        pairing_local = base if local.type in ("srflx", "prflx") else local
        pair = CandidatePair(
            pairing_local,
            remote,
            key,
            (normalize_host(remote.host), remote.port),
            self.controlling,
            self._generation,
        )
        return self.checklist.add(pair)

    def _replace_remote(self, old: Candidate, new: Candidate) -> None:
        self._remote = [new if c is old else c for c in self._remote]
        transport = new.transport.lower()
        self._remote_by_addr[(transport, (normalize_host(new.host), new.port))] = new
        for pair in self.checklist:
            if pair.remote is old:
                pair.remote = new
                pair.foundation = f"{pair.local.foundation}:{new.foundation}"
                pair.update_priority(self.controlling)
        self.checklist.sort()

    def _checks_possible(self) -> bool:
        return (
            self._gen.remote_pwd is not None
            and self.state not in (IceState.FAILED, IceState.CLOSED)
            and (self.checklist.has_triggered() or self._has_unchecked())
        )

    def _has_unchecked(self) -> bool:
        return any(p.state in (PairState.FROZEN, PairState.WAITING) for p in self.checklist)

    def _selected_is_final(self) -> bool:
        sel = self._selected
        return sel is not None and sel.nominated and sel.generation == self._generation

    # ------------------------------------------------------------------ sending checks

    def _request(
        self,
        pair: CandidatePair,
        gen: _Generation,
        use_candidate: bool,
    ) -> tuple[bytes, bytes, int]:
        assert gen.remote_pwd is not None and gen.remote_ufrag is not None
        priority = peer_reflexive_priority(pair.local.priority)
        msg = StunMessage(Method.BINDING, MessageClass.REQUEST, new_transaction_id())
        msg.add(Attr.USERNAME, f"{gen.remote_ufrag}:{gen.local_ufrag}")
        msg.add(Attr.PRIORITY, priority)
        if self.controlling:
            msg.add(Attr.ICE_CONTROLLING, self.tie_breaker)
        else:
            msg.add(Attr.ICE_CONTROLLED, self.tie_breaker)
        if use_candidate:
            msg.add(Attr.USE_CANDIDATE, True)
        key = gen.remote_pwd.encode()
        data = msg.encode(integrity_key=key, fingerprint=True)
        return bytes(msg.transaction_id), data, priority

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

    # ------------------------------------------------------------------ incoming requests

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

    def _switch_role(self, controlling: bool) -> None:
        if self.controlling == controlling:
            return
        self.controlling = controlling
        self.checklist.recompute_priorities(controlling)
        self._nominating = None
        self._events.append(RoleChanged(controlling))

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

    def _note_rx(self, addr: Address, now: float) -> None:
        sel = self._selected
        if sel is not None and addr == sel.remote_addr:
            self._last_rx = now

    # ------------------------------------------------------------------ state

    def _after_event(self, now: float) -> None:
        self._maybe_nominate(now)
        self._update_state()

    def _set_state(self, state: IceState) -> None:
        if state is not self.state:
            self.state = state
            self._events.append(IceStateChanged(state))

    def _update_state(self) -> None:
        st = self.state
        if st in (IceState.CLOSED,):
            return
        if st is IceState.FAILED and (self._selected is not None or not self._can_still_succeed()):
            return
        sel = self._selected
        if sel is not None:
            if self._now >= self._last_consent + self.consent_timeout:
                self._set_state(IceState.FAILED)
                return
            if self._now >= self._last_rx + self.disconnected_timeout:
                self._set_state(IceState.DISCONNECTED)
                return
            if (
                sel.nominated
                and sel.generation == self._generation
                and not self.checklist.has_pending()
            ):
                self._set_state(IceState.COMPLETED)
            else:
                self._set_state(IceState.CONNECTED)
            return
        if not self._can_still_succeed():
            self._set_state(IceState.FAILED)
        elif st is not IceState.NEW or (self._gen.remote_pwd is not None and len(self.checklist)):
            self._set_state(IceState.CHECKING)

    def _can_still_succeed(self) -> bool:
        if not (self._remote_done and self._local_done):
            return True
        return self.checklist.has_pending() or self.checklist.has_triggered()
