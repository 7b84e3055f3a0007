"""Shared state of the ICE agent: credentials, transactions, pairing, the state machine.

The agent is split into rooms (DESIGN.md) that build on each other, each a class adding one
job to the one below it, all operating on the same instance:

- ``agent_base.AgentBase``: the attributes (declared here, set in ``IceAgent.__init__``),
  pairing, building binding requests, role switches and the RTCIceTransportState machine;
- ``consent.ConsentAndRestart``: consent freshness (RFC 7675) and ICE restart (generations);
- ``checks.CheckSender``: our outgoing checks, their transactions and responses, nomination
  and selection;
- ``responder.Responder``: the checks we answer (RFC 8445 section 7.3);
- ``agent.IceAgent``: the public facade (configuration, ``receive``/``send``/``timeout``).
"""

from __future__ import annotations

import enum
import random
import secrets
import string

from rtcpeer.ice.candidate import address_family, normalize_host, peer_reflexive_priority
from rtcpeer.ice.checklist import Address, CandidatePair, CheckList, PairState
from rtcpeer.ice.events import IceEvent, IceState, IceStateChanged, LocalKey, RoleChanged
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, new_transaction_id

# RFC 8839 section 5.4: ice-char = ALPHA / DIGIT / "+" / "/".
_ICE_CHARS = string.ascii_letters + string.digits + "+/"


def random_ice_string(length: int) -> str:
    return "".join(secrets.choice(_ICE_CHARS) for _ in range(length))


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


class AgentBase:
    """State shared by every part of :class:`rtcpeer.ice.agent.IceAgent`."""

    # Set in IceAgent.__init__ (see there for what each one means).
    _rng: random.Random
    controlling: bool
    tie_breaker: int
    _gen: _Generation
    _old_gen: _Generation | None
    _generation: int
    ta: float
    check_rto: float
    check_rto_max: float
    check_max_sends: int
    nomination_delay: float
    aggressive_nomination: bool
    consent_interval: float
    consent_timeout: float
    disconnected_timeout: float
    _local: list[tuple[Candidate, LocalKey]]
    _bases: dict[LocalKey, Candidate]
    _local_done: bool
    _remote: list[Candidate]
    _remote_by_addr: dict[tuple[str, Address], Candidate]
    _remote_done: bool
    _prflx_counter: int
    max_remote_candidates: int
    dropped_remote_candidates: int
    checklist: CheckList
    _transactions: dict[bytes, _Transaction]
    _out: list[tuple[bytes, LocalKey, Address]]
    _events: list[IceEvent]
    state: IceState
    _selected: CandidatePair | None
    _nominating: CandidatePair | None
    _first_valid_at: float | None
    _last_check_at: float
    _now: float
    _last_rx: float
    _last_consent: float
    _next_consent_at: float | None
    _consent_outstanding: bool

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

    # ------------------------------------------------------------------ binding requests

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

    # ------------------------------------------------------------------ roles

    def _switch_role(self, controlling: bool) -> None:
        if self.controlling == controlling:
            return
        self.controlling = controlling
        self.checklist.recompute_priorities(controlling)
        self._nominating = None
        self._events.append(RoleChanged(controlling))

    # ------------------------------------------------------------------ state

    def _note_rx(self, addr: Address, now: float) -> None:
        sel = self._selected
        if sel is not None and addr == sel.remote_addr:
            self._last_rx = now

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
