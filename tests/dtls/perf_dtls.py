"""DTLS figures: handshake time in memory and record throughput (1,200-byte records).

.venv/bin/python tests/dtls/perf_dtls.py [--records 50000] [--handshakes 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path[:0] = [os.path.dirname(__file__), os.path.join(os.path.dirname(__file__), "..")]

from dtls_helpers import make_pair, pump  # noqa: E402

from rtcpeer.dtls import DtlsCore  # noqa: E402


def handshake_ms(n: int, clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    for _ in range(n):
        client, server = make_pair(srtp=True)
        client.start(0.0)
        server.start(0.0)
        pump(client, server)
        assert client.connected and server.connected
    return (clock() - start) / n * 1000.0


def connected() -> tuple[DtlsCore, DtlsCore]:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    pump(client, server)
    client.events()
    server.events()
    return client, server


def throughput(
    records: int, size: int = 1200, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float]:
    """MB/s of send (encrypt) and receive (decrypt) through the cores."""
    client, server = connected()
    payload = os.urandom(size)
    send = client.send
    t0 = clock()
    for _ in range(records):
        send(payload)
    datagrams = client.datagrams_to_send()
    t1 = clock()
    receive = server.receive
    total = 0
    for d in datagrams:
        for r in receive(d, 0.0):
            total += len(r)
    t2 = clock()
    assert total == records * size
    mb = records * size / 1e6
    return mb / (t1 - t0), mb / (t2 - t1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--handshakes", type=int, default=200)
    args = parser.parse_args()
    for name, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
        ms = handshake_ms(args.handshakes, clock)
        tx, rx = throughput(args.records, clock=clock)
        print(
            f"[{name} time] handshake in memory (ECDHE-ECDSA P-256, use_srtp): {ms:.2f} ms; "
            f"1200-byte records: send {tx:.0f} MB/s, receive {rx:.0f} MB/s"
        )


if __name__ == "__main__":
    main()
