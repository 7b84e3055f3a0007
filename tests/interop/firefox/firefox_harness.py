"""A Python peer (rtcpeer) and a Firefox page, both running MDN's perfect negotiation.

The page (firefox_page.html, served from 127.0.0.1 by aiohttp so that getUserMedia sees a
secure context) queues outgoing signaling messages in ``window.outbox``; one task drains it
over Marionette every few milliseconds. Python delivers with ``window.onSignal(text)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from firefox_driver import Marionette, firefox

from rtcpeer import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from rtcpeer.sdp.candidate import RTCIceCandidate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples"))
from perfect_negotiation import PerfectNegotiation

HERE = os.path.dirname(__file__)
PAGE = open(os.path.join(HERE, "firefox_page.html"), encoding="utf-8").read()


class Browser:
    """One Firefox and the aiohttp server that serves the page."""

    def __init__(self, marionette: Marionette, url: str) -> None:
        self.m = marionette
        self.url = url


@contextlib.asynccontextmanager
async def browser(prefs: dict[str, Any] | None = None) -> AsyncIterator[Browser]:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with firefox(prefs) as m:
            yield Browser(m, f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()


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
    """One Python peer and one Firefox page."""

    def __init__(self, browser: Browser, pc: RTCPeerConnection, polite: bool) -> None:
        self.m = browser.m
        self.pc = pc
        self.to_page: asyncio.Queue[str] = asyncio.Queue()
        self.to_py: asyncio.Queue[str] = asyncio.Queue()
        self.open = asyncio.Event()
        self.open.set()
        self.candidates_sent = 0
        self.candidates_received = 0
        self.from_firefox: list[dict[str, Any]] = []
        self.negotiator = PerfectNegotiation(pc, polite, self._send)
        self.channels: dict[str, RTCDataChannel] = {}
        pc.ondatachannel = lambda e: self.channels.__setitem__(e.channel.label, e.channel)
        self.tasks = [
            asyncio.ensure_future(self._pump_to_page()),
            asyncio.ensure_future(self._poll_page()),
            asyncio.ensure_future(self._pump_to_py()),
        ]

    def _send(self, msg: dict[str, Any]) -> None:
        if "candidate" in msg and msg["candidate"] is not None:
            self.candidates_sent += 1
        self.to_page.put_nowait(_encode(msg))

    async def _pump_to_page(self) -> None:
        while True:
            text = await self.to_page.get()
            await self.open.wait()
            await self.m.execute("window.onSignal(arguments[0])", text)

    async def _poll_page(self) -> None:
        while True:
            for text in await self.m.execute("return window.drain()") or []:
                self.to_py.put_nowait(text)
            await asyncio.sleep(0.01)

    async def _pump_to_py(self) -> None:
        while True:
            text = await self.to_py.get()
            await self.open.wait()
            msg = _decode(text)
            if msg.get("candidate"):
                self.candidates_received += 1
            self.from_firefox.append(msg)
            await self.negotiator.on_message(msg)

    def hold(self) -> None:
        """Stop signaling both ways (messages queue up) until release(): forces glare."""
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def js(self, body: str, *args: Any) -> Any:
        """Run a function body in the page (``return ...``; ``arguments[i]``)."""
        return await self.m.execute(body, *args)

    async def js_async(self, expression: str) -> Any:
        """Await a JS expression (a promise) in the page and return its value."""
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve({expression}).then(done, (e) => done('error:' + e));"
        )
        return await self.m.execute_async(script)

    async def state(self) -> dict[str, Any]:
        return dict(await self.js("return window.state()"))

    async def wait_js(self, body: str, timeout: float = 10) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not await self.js(body):
            if loop.time() > end:
                events = await self.js("return window.events")
                raise TimeoutError(f"page condition not met: {body}; events {events}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task
        closing = self.pc.close()
        if closing is not None:
            await closing
        with contextlib.suppress(Exception):
            await self.js("window.closePc()")


@contextlib.asynccontextmanager
async def session(b: Browser, python_polite: bool) -> AsyncIterator[Session]:
    await b.m.navigate(b.url)
    pc = RTCPeerConnection({"includeLoopback": True})
    s = Session(b, pc, python_polite)
    await s.js("window.start(arguments[0])", not python_polite)
    try:
        yield s
    finally:
        await s.close()
