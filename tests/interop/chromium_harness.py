"""A Python peer (rtcpeer) and a Chromium page, both running MDN's perfect negotiation.

Signaling is a Python <-> page bridge: the page calls ``window.pySignal(json)`` (exposed with
``page.expose_function``) and Python calls ``window.onSignal(json)`` with ``page.evaluate``.
Each direction is a queue drained by one task, so messages keep their order; ``hold()`` stops
both directions (to force glare) until ``release()``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import BrowserContext, Page, async_playwright

from rtcpeer import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from rtcpeer.sdp.candidate import RTCIceCandidate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from perfect_negotiation import PerfectNegotiation

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
    # Plain host addresses instead of mDNS names (nothing here answers mDNS).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
PAGE = open(os.path.join(os.path.dirname(__file__), "page.html"), encoding="utf-8").read()


# Chromium's default: host candidates hidden behind mDNS names (what real users' browsers send).
MDNS_ARGS = [a for a in ARGS if "WebRtcHideLocalIpsWithMdns" not in a]


@asynccontextmanager
async def chromium(args: list[str] | None = None) -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-pc-chromium-") as profile:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=args or ARGS
            )
            try:
                yield context
            finally:
                await context.close()


def _encode(msg: dict[str, Any]) -> str:
    out: dict[str, Any] = {}
    if "description" in msg:
        d = msg["description"]
        out["description"] = {"type": d.type, "sdp": d.sdp}
    if "candidate" in msg:
        c = msg["candidate"]
        out["candidate"] = c.toJSON() if isinstance(c, RTCIceCandidate) else c
    return json.dumps(out)


def _decode(text: str) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(text)
    if msg.get("description"):
        msg["description"] = RTCSessionDescription(msg["description"])
    return msg


class Session:
    """One Python peer and one page."""

    def __init__(self, page: Page, pc: RTCPeerConnection, polite: bool) -> None:
        self.page = page
        self.pc = pc
        self.to_page: asyncio.Queue[str] = asyncio.Queue()
        self.to_py: asyncio.Queue[str] = asyncio.Queue()
        self.open = asyncio.Event()
        self.open.set()
        self.candidates_sent = 0
        self.negotiator = PerfectNegotiation(pc, polite, self._send)
        self.tasks = [
            asyncio.ensure_future(self._pump_to_page()),
            asyncio.ensure_future(self._pump_to_py()),
        ]
        self.channels: dict[str, RTCDataChannel] = {}
        pc.ondatachannel = lambda e: self.channels.__setitem__(e.channel.label, e.channel)

    def _send(self, msg: dict[str, Any]) -> None:
        if "candidate" in msg and msg["candidate"] is not None:
            self.candidates_sent += 1
        self.to_page.put_nowait(_encode(msg))

    async def _pump_to_page(self) -> None:
        while True:
            text = await self.to_page.get()
            await self.open.wait()
            await self.page.evaluate("t => window.onSignal(t)", text)

    async def _pump_to_py(self) -> None:
        while True:
            text = await self.to_py.get()
            await self.open.wait()
            await self.negotiator.on_message(_decode(text))

    def hold(self) -> None:
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def state(self) -> dict[str, Any]:
        return dict(await self.js("() => window.state()"))

    async def wait_js(self, expression: str, arg: Any = None, timeout: float = 10) -> None:
        await self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        task = self.pc.close()
        if task is not None:
            await task
        await self.page.close()


@asynccontextmanager
async def session(browser: BrowserContext, python_polite: bool) -> AsyncIterator[Session]:
    page = await browser.new_page()
    holder: dict[str, Session] = {}
    await page.expose_function("pySignal", lambda text: holder["s"].to_py.put_nowait(text))
    await page.set_content(PAGE)
    pc = RTCPeerConnection({"includeLoopback": True})
    s = Session(page, pc, python_polite)
    holder["s"] = s
    await page.evaluate("p => window.start(p)", not python_polite)
    try:
        yield s
    finally:
        await s.close()
