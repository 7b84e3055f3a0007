"""MDN ``RTCPeerConnection.getStats()`` and "Using the WebRTC Statistics API", ported.

https://developer.mozilla.org/en-US/docs/Web/API/RTCPeerConnection/getStats
https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Using_the_WebRTC_Statistics_API

- ``stats_box(pc)``: the getStats page's example, which walks every report and writes its
  type, id, timestamp and other fields into a "stats box" (here a list of lines).
- ``selected_pair(pc)``: the pattern of MDN's RTCIceCandidatePairStats / transport stats
  pages: find the "transport" report, then ``stats.get(report.selectedCandidatePairId)``,
  then its local and remote candidates.

What differs: ``getStats()`` resolves to an ``RTCStatsReport`` (a JavaScript Map); rtcpeer
returns a ``dict`` of id -> dict, so ``stats.forEach((report) => ...)`` becomes
``for report in stats.values()`` and ``report.type`` becomes ``report["type"]``.

Run: ``python examples/mdn/get_stats.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer import RTCPeerConnection

config = {"includeLoopback": True}


async def stats_box(pc: RTCPeerConnection) -> list[str]:
    stats = await pc.getStats(None)
    stats_output: list[str] = []
    for report in stats.values():
        stats_output.append(f"Report: {report['type']}")
        stats_output.append(f"ID: {report['id']}")
        stats_output.append(f"Timestamp: {report['timestamp']}")
        # Now the statistics for this report; we intentionally drop the ones we
        # sorted to the top above
        for stat_name in report:
            if stat_name not in ("id", "timestamp", "type"):
                stats_output.append(f"{stat_name}: {report[stat_name]}")
    return stats_output


async def selected_pair(pc: RTCPeerConnection) -> dict[str, Any] | None:
    stats = await pc.getStats()
    candidate_pair = None
    for report in stats.values():
        if report["type"] == "transport":
            candidate_pair = stats.get(report.get("selectedCandidatePairId", ""))
    if candidate_pair is None:
        return None
    local = stats[candidate_pair["localCandidateId"]]
    remote = stats[candidate_pair["remoteCandidateId"]]
    return {"pair": candidate_pair, "local": local, "remote": remote}


async def main() -> dict[str, Any]:
    pc1, pc2 = RTCPeerConnection(config), RTCPeerConnection(config)
    pc1.onicecandidate = lambda e: asyncio.ensure_future(pc2.addIceCandidate(e.candidate))
    pc2.onicecandidate = lambda e: asyncio.ensure_future(pc1.addIceCandidate(e.candidate))
    channel = pc1.createDataChannel("stats")
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    pc2.ondatachannel = lambda e: setattr(
        e.channel, "onmessage", lambda m: got.done() or got.set_result(m.data)
    )
    channel.onopen = lambda e: channel.send("ping")
    await pc1.setLocalDescription(await pc1.createOffer())
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    await pc1.setRemoteDescription(pc2.localDescription)
    await asyncio.wait_for(got, 10)
    result = {
        "box": await stats_box(pc1),
        "stats": await pc1.getStats(),
        "selected": await selected_pair(pc1),
    }
    for pc in (pc1, pc2):
        await pc.close()  # type: ignore[misc]
    return result


if __name__ == "__main__":
    out = asyncio.run(main())
    print("\n".join(out["box"]))
    sel = out["selected"]
    if sel:
        print("selected pair:", sel["local"]["address"], "->", sel["remote"]["address"])
