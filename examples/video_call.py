"""A video call from Python: the Python side of the "video call" page (web/call.html).

MDN's pattern: ``pc.addTrack(track, stream)`` for each local track, the ``track`` event for
the remote ones, perfect negotiation over the signaling server (rtcpeer.signaling). Python
sends a moving test pattern and a 440 Hz tone and counts (or records) what it receives.

    # a signaling server and a Python peer in one process; open the printed URL in a browser
    python examples/video_call.py --serve 8080
    # or join a room of a running server (``rtcpeer serve``)
    python examples/video_call.py --url ws://127.0.0.1:8080/ws --room myroom --record call.webm

Two Python peers in the same room call each other too.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from typing import Any

from rtcpeer import MediaStream
from rtcpeer.media import MediaRecorder, MediaStreamTrack, NullSink
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack
from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.peers import RoomPeers


class Call:
    """Sends a test pattern and a tone to every peer of the room; sinks what comes back."""

    def __init__(self, record: str | None = None, width: int = 320, height: int = 240) -> None:
        self.stream = MediaStream()
        self.video = VideoTestTrack(width, height)
        self.audio = AudioToneTrack()
        self.sink: NullSink | MediaRecorder = MediaRecorder(record) if record else NullSink()
        self._seen: set[str] = set()
        self._kinds: set[str] = set()
        self._started = False
        self._readers: list[asyncio.Task[None]] = []

    def setup(self, pc: Any, peer: str) -> None:
        """RoomPeers' setup: add our tracks, listen for the remote ones."""
        print(f"calling {peer}", file=sys.stderr)
        pc.addTrack(self.video, self.stream)
        pc.addTrack(self.audio, self.stream)
        pc.addEventListener("track", lambda event: self._receive(event.track))
        # When the remote offered first, its track events fired before setup ran (setup runs
        # just before answering): the receivers' tracks are already there.
        for receiver in pc.getReceivers():
            self._receive(receiver.track)

    def _receive(self, track: MediaStreamTrack) -> None:
        if track.id in self._seen:
            return
        self._seen.add(track.id)
        self._kinds.add(track.kind or "")
        self.sink.addTrack(track)
        # A recorder needs to know its streams before it starts: wait for audio and video.
        if not self._started and (isinstance(self.sink, NullSink) or len(self._kinds) == 2):
            self._started = True
            self._readers.append(asyncio.ensure_future(self.sink.start()))

    @property
    def frames(self) -> dict[str, int]:
        return self.sink.frames

    async def close(self) -> None:
        await self.sink.stop()
        self.video.stop()
        self.audio.stop()


async def run(
    url: str, room: str, duration: float | None, record: str | None, call: Call | None = None
) -> dict[str, int]:
    """Join ``room`` on the signaling server at ``url``; call whoever is there."""
    call = call or Call(record)
    async with SignalingChannel(url, room) as channel:
        peers = RoomPeers(channel, call.setup, max_peers=1)
        try:
            if duration is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration)
        finally:
            await peers.close()
            await call.close()
    print(f"frames received: {call.frames}", file=sys.stderr)
    return call.frames


async def serve_and_run(port: int, duration: float | None, record: str | None) -> None:
    from rtcpeer.signaling.server import run_server

    server = await run_server("127.0.0.1", port)
    room = secrets.token_hex(4)
    print(f"open {server.url}/static/call.html?room={room} and press Start", file=sys.stderr)
    try:
        await run(server.ws_url, room, duration, record)
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080/ws", help="signaling server")
    parser.add_argument("--room", default="video-call")
    parser.add_argument("--serve", type=int, metavar="PORT", help="run a signaling server too")
    parser.add_argument("--duration", type=float, help="hang up after this many seconds")
    parser.add_argument("--record", help="record the remote tracks (webm, mkv, mp4, ...)")
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(serve_and_run(args.serve, args.duration, args.record))
    else:
        asyncio.run(run(args.url, args.room, args.duration, args.record))


if __name__ == "__main__":
    main()
