"""Mixed traffic over a lossy, duplicating, reordering link, many seeds: reliable ordered streams
deliver every message exactly once and in order, reliable unordered ones every message exactly
once, partially reliable ones a subset without duplicates; both directions at once."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sctp_helpers import Pair

from netsim import LinkConfig


@pytest.mark.parametrize("interleaving", [False, True], ids=["DATA", "I-DATA"])
@pytest.mark.parametrize("seed", range(8))
def test_mixed_streams_at_10_percent_loss(seed: int, interleaving: bool) -> None:
    cfg = LinkConfig(loss=0.1, duplicate=0.1, reorder=0.3, jitter=0.03, seed=seed)
    p = Pair(cfg, seed=seed, interleaving=interleaving)
    assert p.connect()
    assert p.a._idata is p.b._idata is interleaving
    rng = random.Random(seed)
    kinds = {
        0: dict(ordered=True),
        1: dict(ordered=False),
        2: dict(ordered=True, max_retransmits=1),
        3: dict(ordered=False, max_lifetime=0.05),
    }
    sent: dict[int, dict[int, list[bytes]]] = {0: {}, 1: {}}
    for i in range(400):
        side = rng.random() < 0.3
        sid = rng.randrange(4) * 2 + (1 if side else 0)
        size = rng.choice([1, 10, 100, 1000, 1199, 1200, 3000, 20_000])
        msg = i.to_bytes(4, "big") + rng.randbytes(size)
        ep = p.b if side else p.a
        ep.send(sid, 53, msg, **kinds[sid // 2])  # type: ignore[arg-type]
        sent[1 if side else 0].setdefault(sid, []).append(msg)
        if rng.random() < 0.1:
            p.run(max_time=rng.random() * 0.05)
    reliable = {0, 1, 2, 3}  # stream ids of kinds 0 and 1, both directions

    def reliable_done() -> bool:
        for frm, streams in sent.items():
            got = Counter(e.stream_id for e in p.received(1 - frm))
            for sid, msgs in streams.items():
                if sid in reliable and got[sid] < len(msgs):
                    return False
        return True

    assert p.run(reliable_done, max_time=300)
    # Let abandoned messages settle: everything sent is acknowledged or forwarded past.
    assert p.run(lambda: p.a._buffered_empty() and p.b._buffered_empty(), 600)
    for frm, streams in sent.items():
        rx = p.received(1 - frm)
        for sid, msgs in streams.items():
            got = [e.data for e in rx if e.stream_id == sid]
            assert len(got) == len(set(got)), f"duplicate delivery on stream {sid}"
            kind = sid // 2
            if kind == 0:
                assert got == msgs
            elif kind == 1:
                assert sorted(got) == sorted(msgs)
            else:
                assert set(got) <= set(msgs)
                if kind == 2:  # ordered partial reliability keeps the order of what arrives
                    order = {m: k for k, m in enumerate(msgs)}
                    assert [order[m] for m in got] == sorted(order[m] for m in got)
    for ep in (p.a, p.b):
        assert ep._held == 0
        assert not ep._stash or not any(ep._stash.values())
