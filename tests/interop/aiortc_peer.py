"""The aiortc side of rtcpeer's aiortc interop tests.

Run by aiortc's own interpreter (``bench/.venv-aiortc/bin/python tests/interop/aiortc_peer.py``),
never imported by the project's tests: aiortc is not installed in the project's virtualenv.

It speaks JSON lines. Each stdin line is a command ``{"op": ..., "seq": n, "pc": name, ...}``;
after running it the script writes ``{"ev": "done", "seq": n, ...}`` (or ``{"ev": "error",
"seq": n, "error": text}``). Everything aiortc reports on its own is written as an event line
``{"ev": ..., "pc": name, ...}``. Commands run one after the other, in the order they arrive, so
a description always reaches aiortc before the candidates sent after it.

Commands: ``new`` (a peer connection; ``config`` takes iceServers and iceTransportPolicy as in
JavaScript; without iceServers there is no STUN server, so gathering is host-only and quick),
``channel`` (label, options as in JavaScript), ``offer``, ``remote`` (type, sdp; an offer is
answered at once), ``candidate`` (candidate, sdpMid, sdpMLineIndex; empty candidate = end of
candidates), ``send`` (label, text or b64), ``send_many`` (label, prefix, count), ``close_channel``
(label), ``state``, ``close``, ``quit``.

Events: ``ready``, ``description``, ``datachannel``, ``open``, ``message`` (text or b64),
``close``, ``connectionstate``, ``iceconnectionstate``. A channel whose label starts with
"echo" sends every message straight back, as it came (str stays str, bytes stay bytes), and
reports a count instead of each message.

aiortc (aioice) never gathers 127.0.0.1; it uses the machine's other interface addresses. With
``AIORTC_PEER_LOOPBACK=1`` in the environment it gathers on 127.0.0.1 only; on a machine with
no other IPv4 address 127.0.0.1 is added, so loopback-only hosts work too.
``AIORTC_PEER_DEBUG=1`` turns on aiortc's debug logging (to stderr).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import traceback
from typing import Any

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import __version__ as aiortc_version
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if os.environ.get("AIORTC_PEER_LOOPBACK") == "1":
        return ["127.0.0.1"] if use_ipv4 else []
    found = _host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and not any(":" not in a for a in found):
        found.append("127.0.0.1")
    return found


aioice.ice.get_host_addresses = _host_addresses_with_loopback


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def encode(data: str | bytes) -> dict[str, str]:
    if isinstance(data, str):
        return {"text": data}
    return {"b64": base64.b64encode(data).decode("ascii")}


def decode(msg: dict[str, Any]) -> str | bytes:
    if "text" in msg:
        return str(msg["text"])
    return base64.b64decode(msg["b64"])


class Peer:
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        servers = [
            RTCIceServer(s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in config.get("iceServers", [])
        ]
        policy = RTCIceTransportPolicy(config.get("iceTransportPolicy", "all"))
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        self.channels: dict[str, RTCDataChannel] = {}
        self.echoed: dict[str, int] = {}
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("iceconnectionstatechange", self._on_ice_state)
        self.pc.on("datachannel", self._on_datachannel)

    def _emit(self, ev: str, **fields: Any) -> None:
        emit({"ev": ev, "pc": self.name, **fields})

    def _on_connection_state(self) -> None:
        self._emit("connectionstate", state=self.pc.connectionState)

    def _on_ice_state(self) -> None:
        self._emit("iceconnectionstate", state=self.pc.iceConnectionState)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self._emit(
            "datachannel",
            label=channel.label,
            id=channel.id,
            ordered=channel.ordered,
            maxRetransmits=channel.maxRetransmits,
            maxPacketLifeTime=channel.maxPacketLifeTime,
            protocol=channel.protocol,
            negotiated=channel.negotiated,
            readyState=channel.readyState,
        )
        self.wire(channel)

    def wire(self, channel: RTCDataChannel) -> None:
        label = channel.label
        self.channels[label] = channel
        echo = label.startswith("echo")
        self.echoed[label] = 0

        def on_message(data: str | bytes) -> None:
            if echo:
                self.echoed[label] += 1
                channel.send(data)
            else:
                self._emit("message", label=label, **encode(data))

        channel.on("message", on_message)
        channel.on("open", lambda: self._emit("open", label=label, id=channel.id))
        channel.on("close", lambda: self._emit("close", label=label))

    def state(self) -> dict[str, Any]:
        return {
            "connectionState": self.pc.connectionState,
            "iceConnectionState": self.pc.iceConnectionState,
            "signalingState": self.pc.signalingState,
            "channels": {
                label: {"readyState": ch.readyState, "id": ch.id, "echoed": self.echoed[label]}
                for label, ch in self.channels.items()
            },
        }


peers: dict[str, Peer] = {}


async def run(cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "new":
        peers[cmd["pc"]] = Peer(cmd["pc"], cmd.get("config", {}))
        return {}
    peer = peers[cmd["pc"]]
    pc = peer.pc
    if op == "channel":
        opts = cmd.get("options", {})
        channel = pc.createDataChannel(
            cmd["label"],
            maxPacketLifeTime=opts.get("maxPacketLifeTime"),
            maxRetransmits=opts.get("maxRetransmits"),
            ordered=opts.get("ordered", True),
            protocol=opts.get("protocol", ""),
            negotiated=opts.get("negotiated", False),
            id=opts.get("id"),
        )
        peer.wire(channel)
        return {"id": channel.id}
    if op == "offer":
        await pc.setLocalDescription(await pc.createOffer())
        return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
    if op == "remote":
        await pc.setRemoteDescription(RTCSessionDescription(sdp=cmd["sdp"], type=cmd["type"]))
        if cmd["type"] == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        return {}
    if op == "candidate":
        text = cmd.get("candidate") or ""
        if not text:
            await pc.addIceCandidate(None)
            return {}
        cand = candidate_from_sdp(text.removeprefix("candidate:"))
        cand.sdpMid = cmd.get("sdpMid")
        cand.sdpMLineIndex = cmd.get("sdpMLineIndex")
        await pc.addIceCandidate(cand)
        return {}
    if op == "send":
        peer.channels[cmd["label"]].send(decode(cmd))
        return {}
    if op == "send_many":
        channel = peer.channels[cmd["label"]]
        prefix = cmd["prefix"]
        for i in range(cmd["count"]):
            channel.send(f"{prefix}{i:05d}")
        return {}
    if op == "close_channel":
        peer.channels[cmd["label"]].close()
        return {}
    if op == "state":
        return peer.state()
    if op == "close":
        await pc.close()
        return {}
    raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    if os.environ.get("AIORTC_PEER_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"ev": "ready", "aiortc": aiortc_version})
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            result = await run(cmd)
        except Exception as exc:  # reported to the test, which fails with the text
            emit(
                {
                    "ev": "error",
                    "seq": cmd.get("seq"),
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc(),
                }
            )
        else:
            emit({"ev": "done", "seq": cmd.get("seq"), **result})
    for peer in peers.values():
        await peer.pc.close()


if __name__ == "__main__":
    asyncio.run(main())
