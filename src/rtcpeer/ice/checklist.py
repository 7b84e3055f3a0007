"""The ICE check list: candidate pairs, their states, ordering, freezing and the triggered queue.

Implements for a single data stream with one component (WebRTC always bundles and
rtcp-muxes, so one check list is all an agent needs):
- RFC 8445 section 6.1.2 (forming pairs, ordering by pair priority, pruning pairs that share
  a base and remote candidate, the limit on the number of pairs, initial frozen/waiting states
  per foundation);
- RFC 8445 section 6.1.4 (the triggered-check queue and choosing the next ordinary check,
  unfreezing the best frozen pair when nothing is waiting);
- RFC 8445 section 7.2.5.3.3 (unfreezing pairs with the same foundation after a success);
- RFC 8838 section 10 (pairs formed from trickled candidates after checks started).

A pair is identified by the shell's socket key and the remote transport address, not by the
local candidate: a server-reflexive candidate sends from its host base (section 6.1.2.4
replaces it by its base), so it would duplicate the host pair and is pruned.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable, Iterator

from rtcpeer.ice.candidate import pair_priority
from rtcpeer.sdp.candidate import Candidate

Address = tuple[str, int]
LocalKey = Hashable
PairKey = tuple[LocalKey, str, Address]

# RFC 8445 section 6.1.2.5: agents SHOULD limit the number of pairs; 100 is the suggestion.
DEFAULT_MAX_PAIRS = 100


class PairState(enum.Enum):
    FROZEN = "frozen"
    WAITING = "waiting"
    IN_PROGRESS = "in-progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CandidatePair:
    """A local candidate (sent from the socket ``local_key``) paired with a remote candidate."""

    __slots__ = (
        "local",
        "remote",
        "local_key",
        "remote_addr",
        "state",
        "priority",
        "foundation",
        "valid",
        "nominated",
        "nominate_on_success",
        "use_candidate_sent",
        "generation",
    )

    def __init__(
        self,
        local: Candidate,
        remote: Candidate,
        local_key: LocalKey,
        remote_addr: Address,
        controlling: bool,
        generation: int = 0,
    ) -> None:
        self.local = local
        self.remote = remote
        self.local_key = local_key
        self.remote_addr = remote_addr
        self.state = PairState.FROZEN
        self.foundation = f"{local.foundation}:{remote.foundation}"
        self.priority = 0
        self.valid = False
        self.nominated = False
        # Set by the controlled agent when USE-CANDIDATE arrived before the pair was valid
        # (RFC 8445 section 7.3.1.5): the pair is nominated when its own check succeeds.
        self.nominate_on_success = False
        # The controlling agent's outstanding check on this pair carries USE-CANDIDATE.
        self.use_candidate_sent = False
        self.generation = generation
        self.update_priority(controlling)

    @property
    def key(self) -> PairKey:
        return (self.local_key, self.remote.transport, self.remote_addr)

    def update_priority(self, controlling: bool) -> None:
        if controlling:
            self.priority = pair_priority(self.local.priority, self.remote.priority)
        else:
            self.priority = pair_priority(self.remote.priority, self.local.priority)

    def __repr__(self) -> str:
        return (
            f"CandidatePair({self.local.type} {self.local.host}:{self.local.port} -> "
            f"{self.remote.type} {self.remote_addr[0]}:{self.remote_addr[1]} "
            f"{self.state.value}{' valid' if self.valid else ''}"
            f"{' nominated' if self.nominated else ''})"
        )


class CheckList:
    """Ordered pairs of one data stream plus the triggered-check FIFO."""

    def __init__(self, max_pairs: int = DEFAULT_MAX_PAIRS) -> None:
        self.max_pairs = max_pairs
        self._pairs: dict[PairKey, CandidatePair] = {}
        self._ordered: list[CandidatePair] = []
        self._triggered: deque[CandidatePair] = deque()

    def __iter__(self) -> Iterator[CandidatePair]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def get(self, key: PairKey) -> CandidatePair | None:
        return self._pairs.get(key)

    def add(self, pair: CandidatePair) -> CandidatePair | None:
        """Insert ``pair`` in priority order; returns the pair kept, or None if it was pruned.

        If a pair with the same key exists, the one with the higher priority keeps the slot
        (a host base beats the server-reflexive candidate sharing it), but its state is kept
        so a running check is not restarted.
        """
        existing = self._pairs.get(pair.key)
        if existing is not None:
            if pair.priority > existing.priority and existing.state in (
                PairState.FROZEN,
                PairState.WAITING,
            ):
                existing.local = pair.local
                existing.remote = pair.remote
                existing.foundation = pair.foundation
                existing.priority = pair.priority
                self.sort()
            return None
        # Initial state (RFC 8445 section 6.1.2.6, and RFC 8838 section 10 for pairs added
        # while checks run): Waiting unless another pair of the same foundation is already
        # Waiting or In-Progress, in which case this one waits Frozen for its outcome.
        if any(
            p.foundation == pair.foundation
            and p.state in (PairState.WAITING, PairState.IN_PROGRESS)
            for p in self._ordered
        ):
            pair.state = PairState.FROZEN
        else:
            pair.state = PairState.WAITING
        self._pairs[pair.key] = pair
        self._ordered.append(pair)
        self.sort()
        if len(self._ordered) > self.max_pairs:
            # Drop the lowest-priority pair that has not been checked yet.
            for victim in reversed(self._ordered):
                if victim.state in (PairState.FROZEN, PairState.WAITING):
                    self.remove(victim)
                    if victim is pair:
                        return None
                    break
        return pair

    def remove(self, pair: CandidatePair) -> None:
        if self._pairs.get(pair.key) is pair:
            del self._pairs[pair.key]
            self._ordered.remove(pair)
        try:
            self._triggered.remove(pair)
        except ValueError:
            pass

    def clear(self) -> None:
        self._pairs.clear()
        self._ordered.clear()
        self._triggered.clear()

    def sort(self) -> None:
        self._ordered.sort(key=lambda p: p.priority, reverse=True)

    def recompute_priorities(self, controlling: bool) -> None:
        """After a role switch every pair priority changes (RFC 8445 section 7.3.1.1)."""
        for pair in self._ordered:
            pair.update_priority(controlling)
        self.sort()

    def trigger(self, pair: CandidatePair) -> None:
        """Queue a triggered check (RFC 8445 section 7.3.1.4); no duplicates in the FIFO."""
        pair.state = PairState.WAITING
        if pair not in self._triggered:
            self._triggered.append(pair)

    def has_triggered(self) -> bool:
        return bool(self._triggered)

    def next_check(self) -> CandidatePair | None:
        """The pair to check at this Ta tick (RFC 8445 section 6.1.4.2), or None."""
        while self._triggered:
            pair = self._triggered.popleft()
            if pair.state is PairState.WAITING and self._pairs.get(pair.key) is pair:
                return pair
        for pair in self._ordered:
            if pair.state is PairState.WAITING:
                return pair
        for pair in self._ordered:
            if pair.state is PairState.FROZEN:
                pair.state = PairState.WAITING
                return pair
        return None

    def unfreeze_foundation(self, foundation: str) -> None:
        """RFC 8445 section 7.2.5.3.3: a success unfreezes pairs of the same foundation."""
        for pair in self._ordered:
            if pair.state is PairState.FROZEN and pair.foundation == foundation:
                pair.state = PairState.WAITING

    def has_pending(self) -> bool:
        """True while some pair may still be checked (frozen, waiting or in progress)."""
        return any(
            p.state in (PairState.FROZEN, PairState.WAITING, PairState.IN_PROGRESS)
            for p in self._ordered
        )

    def all_failed(self) -> bool:
        return bool(self._ordered) and all(p.state is PairState.FAILED for p in self._ordered)

    def best_valid(self) -> CandidatePair | None:
        for pair in self._ordered:
            if pair.valid:
                return pair
        return None

    def best_nominated(self) -> CandidatePair | None:
        for pair in self._ordered:
            if pair.nominated and pair.valid:
                return pair
        return None

    def stop_checks(self) -> None:
        """RFC 8445 section 8.1.2: once nominated, Frozen and Waiting pairs are removed."""
        for pair in list(self._ordered):
            if pair.state in (PairState.FROZEN, PairState.WAITING) and not pair.valid:
                self.remove(pair)
        self._triggered.clear()
