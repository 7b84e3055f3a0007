"""DTLS figures: handshake time in memory and record throughput (1,200-byte records).

.venv/bin/python tests/dtls/perf_dtls.py [--records 50000] [--handshakes 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path[:0] = [os.path.dirname(__file__), os.path.join(os.path.dirname(__file__), "..")]

from dtls_helpers import make_pair, pump  # noqa: E402

from rtcpeer.dtls import DtlsCore  # noqa: E402


def handshake_ms(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client, server = make_pair(srtp=True)
        client.start(0.0)
        server.start(0.0)
        pump(client, server)
        assert client.connected and server.connected
    return (time.perf_counter() - start) / n * 1000.0


def connected() -> tuple[DtlsCore, DtlsCore]:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    pump(client, server)
    client.events()
    server.events()
    return client, server


def throughput(records: int, size: int = 1200) -> tuple[float, float]:
    """MB/s of send (encrypt) and receive (decrypt) through the cores."""
    client, server = connected()
    payload = os.urandom(size)
    send = client.send
    t0 = time.perf_counter()
    for _ in range(records):
        send(payload)
    datagrams = client.datagrams_to_send()
    t1 = time.perf_counter()
    receive = server.receive
    total = 0
    for d in datagrams:
        for r in receive(d, 0.0):
            total += len(r)
    t2 = time.perf_counter()
    assert total == records * size
    mb = records * size / 1e6
    return mb / (t1 - t0), mb / (t2 - t1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--handshakes", type=int, default=200)
    args = parser.parse_args()
    print(
        f"handshake in memory (ECDHE-ECDSA P-256, use_srtp): {handshake_ms(args.handshakes):.2f} ms"
    )
    tx, rx = throughput(args.records)
    print(f"1200-byte records: send {tx:.0f} MB/s, receive {rx:.0f} MB/s")


if __name__ == "__main__":
    main()
