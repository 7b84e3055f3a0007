"""MDN "Introduction to WebRTC protocols" (ICE, STUN, TURN) with the ``iceServers`` and
``iceTransportPolicy`` configuration and the ``icecandidateerror`` event, ported.

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Protocols
https://developer.mozilla.org/en-US/docs/Web/API/RTCPeerConnection/RTCPeerConnection
https://developer.mozilla.org/en-US/docs/Web/API/RTCPeerConnection/icecandidateerror_event

- ``relay_only()``: both peers use a TURN server and ``iceTransportPolicy: "relay"``, so
  every candidate is a relay candidate and the data goes through the server (the
  "TURN" section of the protocols guide). MDN points at a public TURN server; this port
  starts rtcpeer's embedded one (``rtcpeer.turnserver.TurnServer``) on the machine's address.
- ``candidate_errors()``: the ``icecandidateerror`` page's handler, which sorts errors into
  STUN/TURN error responses (300-699) and "server could not be reached" (700-799), for a TURN
  server that refuses the credentials (401) and one that does not answer (701).

Run: ``python examples/mdn/ice_servers.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer import RTCPeerConnection
from rtcpeer.ice.gather import enumerate_addresses
from rtcpeer.turnserver import TurnServer


def machine_address() -> str:
    """A non-loopback IPv4 address of this machine (relay gathering does not use 127.0.0.1)."""
    for address in enumerate_addresses():
        if address.family == 4 and not address.loopback:
            return address.address
    return "127.0.0.1"


async def relay_only() -> dict[str, Any]:
    host = machine_address()
    async with TurnServer("rtcpeer.example", users={"webrtc": "s3cret"}, listen=(host, 0)) as turn:
        configuration = {
            "iceServers": [
                {"urls": f"turn:{host}:{turn.port}", "username": "webrtc", "credential": "s3cret"}
            ],
            "iceTransportPolicy": "relay",
        }
        pc1, pc2 = RTCPeerConnection(configuration), RTCPeerConnection(configuration)
        candidate_types: list[str] = []

        def forward(target: RTCPeerConnection, event: Any) -> None:
            if event.candidate:
                candidate_types.append(event.candidate.type)
                asyncio.ensure_future(target.addIceCandidate(event.candidate))

        pc1.onicecandidate = lambda event: forward(pc2, event)
        pc2.onicecandidate = lambda event: forward(pc1, event)
        channel = pc1.createDataChannel("through-turn")
        got: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        pc2.ondatachannel = lambda event: setattr(
            event.channel, "onmessage", lambda e: got.done() or got.set_result(e.data)
        )
        channel.onopen = lambda event: channel.send("relayed hello")
        await pc1.setLocalDescription()
        await pc2.setRemoteDescription(pc1.localDescription)
        await pc2.setLocalDescription()
        await pc1.setRemoteDescription(pc2.localDescription)
        message = await asyncio.wait_for(got, 10)

        stats = await pc1.getStats()
        transport = next(r for r in stats.values() if r["type"] == "transport")
        pair = stats[transport["selectedCandidatePairId"]]
        selected = (
            stats[pair["localCandidateId"]]["candidateType"],
            stats[pair["remoteCandidateId"]]["candidateType"],
        )
        for pc in (pc1, pc2):
            await pc.close()  # type: ignore[misc]
    return {"message": message, "candidate_types": candidate_types, "selected": selected}


async def candidate_errors() -> list[dict[str, Any]]:
    host = machine_address()
    reports: list[dict[str, Any]] = []

    def onicecandidateerror(event: Any) -> None:
        if 300 <= event.errorCode <= 699:
            # STUN errors are in the range 300-699. See RFC 5389, section 15.6
            # for a list of codes. TURN adds a few more error codes; see
            # RFC 5766, section 15 for details.
            kind = "server error response"
        elif 700 <= event.errorCode <= 799:
            # Server could not be reached; a specific error number is
            # provided but these are not yet specified.
            kind = "server unreachable"
        else:
            kind = "other"
        reports.append(
            {"kind": kind, "url": event.url, "errorCode": event.errorCode, "text": event.errorText}
        )

    async with TurnServer("rtcpeer.example", users={"webrtc": "s3cret"}, listen=(host, 0)) as turn:
        silent = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(host, 0)
        )  # a UDP port nobody answers on
        silent_port = silent[0].get_extra_info("sockname")[1]
        pc = RTCPeerConnection(
            {
                "iceServers": [
                    {"urls": f"turn:{host}:{turn.port}", "username": "webrtc", "credential": "x"},
                    {"urls": f"turn:{host}:{silent_port}", "username": "u", "credential": "p"},
                ]
            }
        )
        pc.onicecandidateerror = onicecandidateerror
        pc.createDataChannel("x")
        await pc.setLocalDescription()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while pc.iceGatheringState != "complete" and loop.time() < deadline:
            await asyncio.sleep(0.01)
        silent[0].close()
        await pc.close()  # type: ignore[misc]
    return reports


async def main() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return await relay_only(), await candidate_errors()


if __name__ == "__main__":
    relayed, errors = asyncio.run(main())
    print(relayed)
    for report in errors:
        print(report)
