"""Quick performance guard for the DTLS hot path (figures: tests/dtls/perf_dtls.py)."""

from __future__ import annotations

from perf_dtls import handshake_ms, throughput


def test_handshake_is_fast() -> None:
    ms = handshake_ms(20)
    print(f"handshake {ms:.2f} ms")
    assert ms < 50.0  # ~1 ms on a developer machine; generous for a loaded CI runner


def test_record_throughput() -> None:
    tx, rx = throughput(5000)
    print(f"send {tx:.0f} MB/s, receive {rx:.0f} MB/s")
    # ~500 MB/s each way (CPU time) on a developer machine; the floor only catches breakage
    assert tx > 20.0 and rx > 20.0
