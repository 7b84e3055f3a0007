"""Capture Firefox's real offers and answers into tests/data/sdp/firefox_real_*.sdp.

    .venv/bin/python tests/interop/firefox/firefox_capture.py

Each scenario runs a real call between rtcpeer and headless firefox-esr (see firefox_harness):
data channel only and audio+video+data, Firefox offering and Firefox answering. Two files per
description: ``*.sdp`` is the description exactly as Firefox signaled it (before trickled
candidates) and ``*_candidates.sdp`` is its localDescription after gathering completed.
Written byte-for-byte as Firefox produced them (CRLF line endings).
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from firefox_harness import Browser, Session, browser, session

from rtcpeer import MediaStream
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

DATA = pathlib.Path(__file__).parents[2] / "data" / "sdp"


async def wait_until(predicate: Any, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


def first_description(s: Session) -> str:
    for msg in s.from_firefox:
        if msg.get("description"):
            return str(msg["description"].sdp)
    raise AssertionError("Firefox sent no description")


async def capture(b: Browser, media: bool, firefox_offers: bool) -> dict[str, str]:
    async with session(b, python_polite=firefox_offers) as s:
        if media:
            if firefox_offers:
                await s.js_async("window.addMedia()")
            else:
                stream = MediaStream()
                s.pc.addTrack(VideoTestTrack(320, 240), stream)
                s.pc.addTrack(AudioToneTrack(), stream)
        if firefox_offers:
            await s.js("window.createChannel('chat')")
            await wait_until(lambda: "chat" in s.channels)
            channel = s.channels["chat"]
        else:
            channel = s.pc.createDataChannel("chat")
        await wait_until(lambda: channel.readyState == "open")
        gathered = await s.js_async("window.gathered()")
        kind = "audio_video" if media else "datachannel"
        role = "offer" if firefox_offers else "answer"
        assert gathered["type"] == role
        return {
            f"firefox_real_{kind}_{role}.sdp": first_description(s),
            f"firefox_real_{kind}_{role}_candidates.sdp": str(gathered["sdp"]),
        }


async def main() -> None:
    async with browser() as b:
        for media in (False, True):
            for firefox_offers in (True, False):
                for name, sdp in (await capture(b, media, firefox_offers)).items():
                    (DATA / name).write_bytes(sdp.encode())
                    print("wrote", DATA / name)


if __name__ == "__main__":
    asyncio.run(main())
