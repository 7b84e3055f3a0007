"""End-to-end data channel performance between two processes (not collected by pytest).

Two RTCPeerConnections, each in its own process, connected over UDP loopback through the real
stack (ICE -> DTLS -> SCTP -> RTCDataChannel). Signaling (one offer, one answer, full
candidates after gathering) goes through a multiprocessing pipe; all measured traffic goes
through the data channel.

Measures, from the sender's side:

- bulk: ``--mib`` MiB of 64 KiB messages (back-pressure with bufferedAmountLowThreshold, as an
  application following MDN would), until the receiver confirms it got every byte;
- small: ``--small`` 64-byte messages, same back-pressure, until confirmed;
- ping-pong: ``--pings`` 32-byte messages, each sent when the echo of the previous one
  arrives: median and p99 round-trip time.

CPU seconds of each process during bulk are reported too (a low figure with low throughput
means something waits). Run:

    .venv/bin/python tests/pc/perf_pc.py [--mib 64] [--small 200000] [--pings 2000]
                                         [--profile sender|receiver] [--small-packets]

``--small-packets`` hides our a=x-rtcpeer-max-packet from the peer, so SCTP keeps 1200-byte
packets as it must with a browser (and on any path other than the same host).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import pstats
import statistics
import sys
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

BULK_SIZE = 64 * 1024
SMALL_SIZE = 64
PING_SIZE = 32
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
SMALL_PACKETS = False


async def _pipe_recv(pipe: Pipe) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


async def _setup(pipe: Pipe, offerer: bool, on_message: Any) -> tuple[Any, Any]:
    from rtcpeer import RTCPeerConnection

    pc = RTCPeerConnection({"includeLoopback": True})
    if SMALL_PACKETS:
        from rtcpeer.aio.connection import MAX_PACKET_ATTRIBUTE

        write = pc._write
        pc._write = lambda *a, **k: "".join(  # type: ignore[method-assign]
            x for x in write(*a, **k).splitlines(True) if MAX_PACKET_ATTRIBUTE not in x
        )
    loop = asyncio.get_running_loop()
    gathered = loop.create_future()
    opened = loop.create_future()

    def on_gathering(_: Any) -> None:
        if pc.iceGatheringState == "complete" and not gathered.done():
            gathered.set_result(None)

    pc.addEventListener("icegatheringstatechange", on_gathering)
    dc = pc.createDataChannel("perf", {"negotiated": True, "id": 0})
    dc.addEventListener("open", lambda _: opened.done() or opened.set_result(None))
    # Before "open": the peer may send as soon as its side is open.
    dc.addEventListener("message", on_message)
    if offerer:
        await pc.setLocalDescription(await pc.createOffer())
        await asyncio.wait_for(gathered, 10)
        pipe.send(pc.localDescription.sdp)
        answer = await _pipe_recv(pipe)
        await pc.setRemoteDescription({"type": "answer", "sdp": answer})
    else:
        offer = await _pipe_recv(pipe)
        await pc.setRemoteDescription({"type": "offer", "sdp": offer})
        await pc.setLocalDescription(await pc.createAnswer())
        await asyncio.wait_for(gathered, 10)
        pipe.send(pc.localDescription.sdp)
    await asyncio.wait_for(opened, 10)
    return pc, dc


async def _receiver(pipe: Pipe) -> None:
    dc: Any = None
    state: dict[str, Any] = {"mode": "idle", "expect": 0, "got": 0, "cpu": 0.0}
    done = asyncio.get_running_loop().create_future()

    def on_message(ev: Any) -> None:
        data = ev.data
        if isinstance(data, str):
            cmd, _, arg = data.partition(":")
            if cmd == "count":
                state.update(mode="count", expect=int(arg), got=0, cpu=time.process_time())
            elif cmd == "echo":
                state["mode"] = "echo"
            elif cmd == "quit":
                done.set_result(None)
            return
        if state["mode"] == "echo":
            dc.send(data)
            return
        state["got"] += len(data)
        if state["got"] >= state["expect"]:
            cpu = time.process_time() - state["cpu"]
            state["mode"] = "idle"
            dc.send(f"done:{cpu:.3f}")

    pc, dc = await _setup(pipe, False, on_message)
    await done
    await asyncio.sleep(0.05)
    await pc.close()


async def _pump(dc: Any, replies: asyncio.Queue[Any], size: int, total: int) -> tuple[float, float]:
    """Send ``total`` bytes in ``size``-byte messages; return (seconds, receiver CPU s)."""
    loop = asyncio.get_running_loop()
    low = asyncio.Event()
    dc.bufferedAmountLowThreshold = LOW_WATER
    dc.onbufferedamountlow = lambda _: low.set()
    dc.send(f"count:{total}")
    msg = bytes(size)
    count = total // size
    start = loop.time()
    sent = 0
    while sent < count:
        while sent < count and dc.bufferedAmount < HIGH_WATER:
            dc.send(msg)
            sent += 1
        if sent < count:
            low.clear()
            await low.wait()
    reply = await asyncio.wait_for(replies.get(), 120)
    elapsed = loop.time() - start
    return elapsed, float(reply.split(":")[1])


async def _sender(pipe: Pipe, mib: int, small: int, pings: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[Any] = asyncio.Queue()
    pc, dc = await _setup(pipe, True, lambda ev: replies.put_nowait(ev.data))
    results: dict[str, float] = {}

    if mib:
        total = mib * 1024 * 1024
        cpu0 = time.process_time()
        elapsed, rcpu = await _pump(dc, replies, BULK_SIZE, total)
        results["bulk_mb_s"] = total / elapsed / 1e6
        results["bulk_s"] = elapsed
        results["bulk_sender_cpu_s"] = time.process_time() - cpu0
        results["bulk_receiver_cpu_s"] = rcpu
    if small:
        elapsed, _ = await _pump(dc, replies, SMALL_SIZE, small * SMALL_SIZE)
        results["small_msgs_s"] = small / elapsed
    if pings:
        dc.send("echo")
        ping = bytes(PING_SIZE)
        rtts: list[float] = []
        for _ in range(pings):
            t0 = loop.time()
            dc.send(ping)
            await replies.get()
            rtts.append(loop.time() - t0)
        rtts.sort()
        results["rtt_median_ms"] = statistics.median(rtts) * 1000
        results["rtt_p99_ms"] = rtts[int(len(rtts) * 0.99) - 1] * 1000
    dc.send("quit")
    await asyncio.sleep(0.1)
    await pc.close()
    return results


def _run(role: str, pipe: Pipe, out: Pipe | None, args: dict[str, Any]) -> None:
    global SMALL_PACKETS
    SMALL_PACKETS = args.pop("small_packets")
    profile = args.pop("profile") == role
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    if role == "receiver":
        asyncio.run(_receiver(pipe))
    else:
        res = asyncio.run(_sender(pipe, **args))
        assert out is not None
        out.send(res)
    if prof is not None:
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)


def run(
    mib: int = 64,
    small: int = 200_000,
    pings: int = 2000,
    profile: str = "",
    small_packets: bool = False,
) -> dict[str, float]:
    """Spawn sender and receiver processes; return the sender's figures."""
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    res_r, res_w = ctx.Pipe(duplex=False)
    opts = {
        "mib": mib,
        "small": small,
        "pings": pings,
        "profile": profile,
        "small_packets": small_packets,
    }
    recv = ctx.Process(target=_run, args=("receiver", b, None, dict(opts)))
    send = ctx.Process(target=_run, args=("sender", a, res_w, dict(opts)))
    recv.start()
    send.start()
    try:
        if not res_r.poll(300):
            raise TimeoutError("sender did not report in 300 s")
        results: dict[str, float] = res_r.recv()
    finally:
        send.join(10)
        recv.join(10)
        for p in (send, recv):
            if p.is_alive():
                p.kill()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--profile", choices=["sender", "receiver", ""], default="")
    parser.add_argument("--small-packets", action="store_true")
    ns = parser.parse_args()
    results = run(ns.mib, ns.small, ns.pings, ns.profile, ns.small_packets)
    if "bulk_mb_s" in results:
        print(
            f"bulk 64 KiB: {results['bulk_mb_s']:.1f} MB/s ({ns.mib} MiB in "
            f"{results['bulk_s']:.2f} s; CPU sender {results['bulk_sender_cpu_s']:.2f} s, "
            f"receiver {results['bulk_receiver_cpu_s']:.2f} s)"
        )
    if "small_msgs_s" in results:
        print(f"small 64 B: {results['small_msgs_s']:.0f} msgs/s")
    if "rtt_median_ms" in results:
        print(
            f"ping-pong 32 B: RTT median {results['rtt_median_ms']:.3f} ms, "
            f"p99 {results['rtt_p99_ms']:.3f} ms"
        )


if __name__ == "__main__":
    main()
