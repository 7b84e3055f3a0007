"""STUN codec and TURN framing throughput: 100k Binding requests parsed + integrity-checked,
100k encoded (with MESSAGE-INTEGRITY and FINGERPRINT), ChannelData wrap/unwrap.

    .venv/bin/python -m bench.stun_bench [-n 100000]
    .venv/bin/python bench/stun_bench.py

The request is what an ICE agent sends (USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
MESSAGE-INTEGRITY, FINGERPRINT), 92 bytes on the wire. When aiortc/aioice is installed its
codec is timed on the same bytes for comparison (e.g. ``PYTHONPATH=/path/to/aioice``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, parse  # noqa: E402
from rtcpeer.stun.channeldata import encode_channel_data, parse_channel_data  # noqa: E402

KEY = b"0123456789abcdefghijkl"


def request_bytes(i: int = 0) -> bytes:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST, i.to_bytes(12, "big"))
    msg.add(Attr.USERNAME, "abcd:efgh")
    msg.add(Attr.PRIORITY, 1853817087)
    msg.add(Attr.ICE_CONTROLLING, 0x1234567890ABCDEF)
    msg.add(Attr.USE_CANDIDATE, True)
    return msg.encode(integrity_key=KEY, fingerprint=True)


def run(label: str, fn: Callable[[], object], n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<52} {best * 1e3:9.1f} ms  {best / n * 1e6:7.2f} us/op  {n / best:11,.0f} /s")
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000)
    args = ap.parse_args(argv)
    n: int = args.n
    packets = [request_bytes(i) for i in range(n)]
    print(f"{n:,} Binding requests of {len(packets[0])} bytes")

    def parse_only() -> None:
        for p in packets:
            parse(p)

    def parse_check() -> None:
        for p in packets:
            msg = parse(p)
            if not msg.check_integrity(KEY) or msg.get(Attr.USERNAME) is None:
                raise AssertionError

    def encode() -> None:
        for i in range(n):
            request_bytes(i)

    payload = b"x" * 1200

    def channel_wrap_unwrap() -> None:
        for _ in range(n):
            parse_channel_data(encode_channel_data(0x4001, payload))

    run("parse", parse_only, n)
    run("parse + check_integrity + get(USERNAME)", parse_check, n)
    run("build + encode (MI + FINGERPRINT)", encode, n)
    run("ChannelData encode + parse (1200 B)", channel_wrap_unwrap, n)

    try:
        from aioice import stun as aioice_stun  # type: ignore[import-not-found]
    except ImportError:
        print("(aioice not installed: no comparison)")
        return

    def aioice_parse_check() -> None:
        for p in packets:
            msg = aioice_stun.parse_message(p)
            msg.check_message_integrity(KEY)
            msg.attributes["USERNAME"]

    def aioice_encode() -> None:
        for i in range(n):
            msg = aioice_stun.Message(
                message_method=aioice_stun.Method.BINDING,
                message_class=aioice_stun.Class.REQUEST,
                transaction_id=i.to_bytes(12, "big"),
            )
            msg.attributes["USERNAME"] = "abcd:efgh"
            msg.attributes["PRIORITY"] = 1853817087
            msg.attributes["ICE-CONTROLLING"] = 0x1234567890ABCDEF
            msg.attributes["USE-CANDIDATE"] = None
            msg.add_message_integrity(KEY)
            msg.add_fingerprint()
            bytes(msg)

    run("aioice parse + check_message_integrity + USERNAME", aioice_parse_check, n)
    run("aioice build + encode (MI + FINGERPRINT)", aioice_encode, n)


if __name__ == "__main__":
    main()
