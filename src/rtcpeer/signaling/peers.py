"""Python peers of a signaling room: the demo echo peer, chat, and file send/receive.

The Python twin of ``RoomConnection`` in ``web/rtcpeer.js``, so Python and the web pages meet in
the same room and agree on everything without configuration:

* roles: the peer that joined first is impolite (the server says so); the newcomer creates its
  data channel at once and so makes the first offer, the older peer adds its channel while
  answering (``before_answer``), which avoids needless glare;
* channels: one *negotiated* data channel with id 0 (``"chat"`` on the chat page, ``"files"`` on
  the file page), so neither side waits for ``datachannel`` events;
* file protocol (files.html): a text header ``{"name", "size", "sha256"}``, then binary chunks of
  16 KiB; the receiver answers ``{"type": "received", "name", "size", "sha256", "ok"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.negotiation import PerfectNegotiation

logger = logging.getLogger(__name__)

CHUNK = 16 * 1024
HIGH_WATER = 4 * 1024 * 1024
Setup = Callable[[Any, str], Any]


def peer_connection_available() -> bool:
    try:
        _pc_class()
    except (ImportError, AttributeError):
        return False
    return True


def _pc_class() -> Any:
    # Looked up at run time: the CLI's other commands work without the peer connection.
    return importlib.import_module("rtcpeer.peerconnection").RTCPeerConnection


def make_peer_connection(
    ice_servers: list[dict[str, Any]],
    *,
    ice_transport_policy: str = "all",
    include_loopback: bool = True,
) -> Any:
    """An RTCPeerConnection for the servers the signaling server handed out."""
    return _pc_class()(
        {
            "iceServers": ice_servers,
            "iceTransportPolicy": ice_transport_policy,
            "includeLoopback": include_loopback,
        }
    )


def create_negotiated_channel(pc: Any, label: str, channel_id: int = 0) -> Any:
    """``pc.createDataChannel(label, {negotiated: true, id})`` as the pages do."""
    options = {"negotiated": True, "id": channel_id}
    try:
        return pc.createDataChannel(label, options)
    except TypeError:
        return pc.createDataChannel(label, **options)


class RoomPeers:
    """One RTCPeerConnection per remote peer of a room, with perfect negotiation.

    ``setup(pc, peer)`` adds the data channels (and tracks): at once when this side is the
    newcomer, while answering when the remote is. ``max_peers`` limits how many remotes get a
    connection (1 for the two-party commands); ``on_gone(peer)`` is called when a remote leaves.
    """

    def __init__(
        self,
        channel: SignalingChannel,
        setup: Setup,
        *,
        max_peers: int | None = None,
        ice_transport_policy: str = "all",
        include_loopback: bool = True,
        on_gone: Callable[[str], Any] | None = None,
    ) -> None:
        self.channel = channel
        self.setup = setup
        self.max_peers = max_peers
        self.ice_transport_policy = ice_transport_policy
        self.include_loopback = include_loopback
        self.on_gone = on_gone
        self.connections: dict[str, tuple[Any, PerfectNegotiation]] = {}
        self._closed = False
        channel.addEventListener("open", self._on_open)
        channel.addEventListener("message", self._on_message)
        if channel.connected:
            self._on_open()  # the welcome came before we were listening

    def _full(self) -> bool:
        return self.max_peers is not None and len(self.connections) >= self.max_peers

    def _on_open(self, event: Any = None) -> None:
        for peer in list(self.connections):
            if peer not in self.channel.peers:
                self._stop(peer)
        for peer in self.channel.peers:
            if peer not in self.connections and not self._full():
                self._start(peer)

    def _on_message(self, event: Any) -> None:
        data = event.data
        kind = data.get("type")
        if kind == "left" and "from" not in data:
            peer = data.get("peer")
            if isinstance(peer, str) and peer in self.connections:
                self._stop(peer)
            return
        sender = data.get("from")
        if (
            isinstance(sender, str)
            and sender not in self.connections
            and isinstance(data.get("description"), dict)
            and data["description"].get("type") == "offer"
            and not self._full()
        ):
            negotiation = self._start(sender)
            negotiation.receive(data)  # the listener was added after this message's dispatch

    def _start(self, peer: str) -> PerfectNegotiation:
        pc = make_peer_connection(
            self.channel.ice_servers,
            ice_transport_policy=self.ice_transport_policy,
            include_loopback=self.include_loopback,
        )
        polite = self.channel.polite_toward(peer)
        done = False

        def setup() -> Any:
            nonlocal done
            if done:
                return None
            done = True
            return self.setup(pc, peer)

        negotiation = PerfectNegotiation(
            pc, self.channel, peer=peer, polite=polite, before_answer=setup
        )
        self.connections[peer] = (pc, negotiation)
        logger.info("connecting to %s (%s)", peer, "polite" if polite else "impolite")
        if polite:
            setup()  # the newcomer offers first
        return negotiation

    def _stop(self, peer: str) -> None:
        pc, negotiation = self.connections.pop(peer)
        negotiation.close()
        pc.close()  # the teardown runs as a task; _stop is synchronous
        if self.on_gone is not None and not self._closed:
            self.on_gone(peer)

    async def close(self) -> None:
        self._closed = True
        self.channel.removeEventListener("open", self._on_open)
        self.channel.removeEventListener("message", self._on_message)
        for peer in list(self.connections):
            pc, negotiation = self.connections.pop(peer)
            negotiation.close()
            await pc.close()


# -- the demo's echo peer ---------------------------------------------------------------------


async def run_echo_peer(url: str, room: str, *, token: str | None = None) -> None:
    """Join ``room`` and answer every chat message with an echo, for as many peers as come."""
    from rtcpeer import __version__

    async with SignalingChannel(url, room, token=token) as channel:

        def setup(pc: Any, peer: str) -> None:
            chat = create_negotiated_channel(pc, "chat", 0)

            def on_open(event: Any) -> None:
                chat.send(f"Hello from Python (rtcpeer {__version__}). I echo what you type.")

            def on_message(event: Any) -> None:
                data = event.data
                if isinstance(data, str):
                    chat.send(f"echo: {data}")
                else:
                    chat.send(bytes(data))

            chat.addEventListener("open", on_open)
            chat.addEventListener("message", on_message)

        peers = RoomPeers(channel, setup)
        try:
            await asyncio.Event().wait()
        finally:
            await peers.close()


# -- chat -------------------------------------------------------------------------------------


async def run_chat(
    url: str,
    room: str,
    *,
    token: str | None = None,
    lines: asyncio.Queue[str | None] | None = None,
    out: IO[str] | None = None,
) -> None:
    """Chat with the peers of ``room`` over data channels; lines of stdin are sent to all."""
    out = out or sys.stdout
    lines = lines if lines is not None else _stdin_lines()
    channels: dict[str, Any] = {}

    def show(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    async with SignalingChannel(url, room, token=token) as channel:
        show(f"in room {room} as {channel.peer_id}; type messages, Ctrl-D to leave")

        def setup(pc: Any, peer: str) -> None:
            chat = create_negotiated_channel(pc, "chat", 0)

            def on_open(event: Any) -> None:
                channels[peer] = chat
                show(f"* connected to {peer}")

            chat.addEventListener("open", on_open)
            chat.addEventListener("message", lambda e: show(f"{peer}: {e.data}"))

        def gone(peer: str) -> None:
            channels.pop(peer, None)
            show(f"* {peer} left")

        peers = RoomPeers(channel, setup, on_gone=gone)
        try:
            while True:
                line = await lines.get()
                if line is None:
                    break
                for chat in list(channels.values()):
                    if chat.readyState == "open":
                        chat.send(line)
        finally:
            await peers.close()


def _stdin_lines() -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, reader)
    return queue


# -- files ------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a text stream, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, stream: IO[str] | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._drawn = 0.0
        self.done = 0

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        fraction = min(done / self.total, 1.0)
        bar = "#" * int(fraction * 30)
        rate = done / max(now - self.started, 1e-6) / 2**20
        self.stream.write(
            f"\r{self.label} [{bar:<30}] {fraction * 100:5.1f}% "
            f"{done / 2**20:.1f}/{self.total / 2**20:.1f} MiB {rate:.1f} MiB/s"
        )
        self.stream.flush()

    def finish(self) -> None:
        self.update(self.done, force=True)
        self.stream.write("\n")
        self.stream.flush()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def _wait_open(chan: Any, timeout: float) -> None:
    opened = asyncio.Event()
    chan.addEventListener("open", lambda e: opened.set())
    if chan.readyState != "open":
        await asyncio.wait_for(opened.wait(), timeout)


async def send_file(
    url: str,
    room: str,
    path: Path,
    *,
    token: str | None = None,
    timeout: float = 60.0,
    progress: IO[str] | None = None,
    ice_transport_policy: str = "all",
) -> dict[str, Any]:
    """Send ``path`` to the first peer of ``room``; returns the receiver's confirmation."""
    size = path.stat().st_size
    sha256 = await asyncio.to_thread(file_sha256, path)
    ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    confirmed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def setup(pc: Any, peer: str) -> None:
        chan = create_negotiated_channel(pc, "files", 0)
        chan.binaryType = "arraybuffer"
        chan.bufferedAmountLowThreshold = HIGH_WATER // 4

        def on_message(event: Any) -> None:
            if isinstance(event.data, str) and not confirmed.done():
                try:
                    reply = json.loads(event.data)
                except ValueError:
                    return
                if isinstance(reply, dict) and reply.get("type") == "received":
                    confirmed.set_result(reply)

        chan.addEventListener("message", on_message)
        if not ready.done():
            ready.set_result(chan)

    async with SignalingChannel(url, room, token=token) as channel:
        peers = RoomPeers(channel, setup, max_peers=1, ice_transport_policy=ice_transport_policy)
        try:
            chan = await asyncio.wait_for(ready, timeout)
            await _wait_open(chan, timeout)
            chan.send(json.dumps({"name": path.name, "size": size, "sha256": sha256}))
            bar = Progress(f"send {path.name}", size, progress)
            low = asyncio.Event()
            chan.addEventListener("bufferedamountlow", lambda e: low.set())
            sent = 0
            with path.open("rb") as f:
                while True:
                    block = f.read(CHUNK)
                    if not block:
                        break
                    while chan.bufferedAmount > HIGH_WATER:
                        low.clear()
                        await asyncio.wait_for(low.wait(), timeout)
                    chan.send(block)
                    sent += len(block)
                    bar.update(sent)
            bar.finish()
            return await asyncio.wait_for(confirmed, timeout)
        finally:
            await peers.close()


async def recv_file(
    url: str,
    room: str,
    directory: Path,
    *,
    token: str | None = None,
    timeout: float | None = None,
    progress: IO[str] | None = None,
    ice_transport_policy: str = "all",
) -> tuple[Path, bool, str]:
    """Receive one file from a peer of ``room`` into ``directory``: (path, sha256 ok, digest)."""
    directory.mkdir(parents=True, exist_ok=True)
    result: asyncio.Future[tuple[Path, bool, str]] = asyncio.get_running_loop().create_future()

    def setup(pc: Any, peer: str) -> None:
        chan = create_negotiated_channel(pc, "files", 0)
        chan.binaryType = "arraybuffer"
        state: dict[str, Any] = {}

        def finish() -> None:
            state["file"].close()
            digest = state["hash"].hexdigest()
            ok = digest == state["sha256"] and state["received"] == state["size"]
            state["bar"].finish()
            chan.send(
                json.dumps(
                    {
                        "type": "received",
                        "name": state["name"],
                        "size": state["received"],
                        "sha256": digest,
                        "ok": ok,
                    }
                )
            )
            if not result.done():
                result.set_result((state["path"], ok, digest))
            state.clear()

        def on_message(event: Any) -> None:
            data = event.data
            if isinstance(data, str):
                try:
                    header = json.loads(data)
                    name = os.path.basename(str(header["name"])) or "received.bin"
                    size, sha256 = int(header["size"]), str(header["sha256"]).lower()
                except (ValueError, KeyError, TypeError):
                    return
                if header.get("type") == "received" or size < 0:
                    return
                target = directory / name
                state.update(
                    name=name,
                    size=size,
                    sha256=sha256,
                    path=target,
                    file=target.open("wb"),
                    hash=hashlib.sha256(),
                    received=0,
                    bar=Progress(f"recv {name}", size, progress),
                )
                if size == 0:
                    finish()
                return
            if not state:
                return
            state["file"].write(data)
            state["hash"].update(data)
            state["received"] += len(data)
            state["bar"].update(state["received"])
            if state["received"] >= state["size"]:
                finish()

        chan.addEventListener("message", on_message)

    async with SignalingChannel(url, room, token=token) as channel:
        peers = RoomPeers(channel, setup, max_peers=1, ice_transport_policy=ice_transport_policy)
        try:
            outcome = await asyncio.wait_for(result, timeout)
            await asyncio.sleep(0.2)  # let the confirmation leave before tearing down
            return outcome
        finally:
            await peers.close()
