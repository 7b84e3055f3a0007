"""Headless Firefox (Debian's firefox-esr) driven over Marionette, with no extra dependency.

Marionette speaks JSON over TCP; every message is ``<length>:<json>``. The server greets with
``{"applicationType": "gecko", "marionetteProtocol": 3}``; commands are
``[0, id, name, params]`` and replies ``[1, id, error, result]``.

``firefox()`` starts Firefox with a fresh profile whose user.js turns on fake media, loopback
ICE candidates and plain host addresses, and turns off everything that talks to the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from typing import Any

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"

PREFS: dict[str, Any] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.peerconnection.ice.link_local": False,
    "media.peerconnection.ice.proxy_only_if_behind_proxy": False,
    "media.peerconnection.use_document_iceservers": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "network.proxy.type": 0,
    "network.dns.disableIPv6": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.aboutwelcome.enabled": False,
    "browser.tabs.warnOnClose": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.region.network.url": "",
    "browser.search.update": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "app.update.auto": False,
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "services.settings.server": "",
    "toolkit.startup.max_resumed_crashes": -1,
    "dom.disable_open_during_load": False,
    "remote.prefs.recommended": True,
}


class MarionetteError(Exception):
    """A command failed in Firefox (the ``error`` member of the reply)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Marionette:
    """A minimal asyncio Marionette client: one command at a time, in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.next_id = 0
        self.lock = asyncio.Lock()

    @classmethod
    async def connect(cls, port: int, timeout: float = 30) -> Marionette:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                if loop.time() > end:
                    raise
                await asyncio.sleep(0.05)
        client = cls(reader, writer)
        hello = await client._read()
        if not isinstance(hello, dict) or hello.get("marionetteProtocol") != 3:
            raise MarionetteError(f"unexpected greeting {hello!r}")
        return client

    async def _read(self) -> Any:
        length = int((await self.reader.readuntil(b":"))[:-1])
        return json.loads(await self.reader.readexactly(length))

    async def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        async with self.lock:
            self.next_id += 1
            body = json.dumps([0, self.next_id, name, params or {}]).encode()
            self.writer.write(b"%d:%s" % (len(body), body))
            await self.writer.drain()
            while True:
                reply = await self._read()
                if reply[0] == 1 and reply[1] == self.next_id:
                    break
        if reply[2] is not None:
            raise MarionetteError(f"{name}: {reply[2]}")
        return reply[3]

    async def new_session(self) -> None:
        await self.command("WebDriver:NewSession", {"capabilities": {"acceptInsecureCerts": True}})

    async def navigate(self, url: str) -> None:
        await self.command("WebDriver:Navigate", {"url": url})

    async def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: ``return ...``, ``arguments[i]``) in the page."""
        result = await self.command("WebDriver:ExecuteScript", {"script": script, "args": args})
        return result.get("value") if isinstance(result, dict) else result

    async def execute_async(self, script: str, *args: Any) -> Any:
        """Like execute, but the page calls ``arguments[arguments.length - 1](value)``."""
        result = await self.command(
            "WebDriver:ExecuteAsyncScript", {"script": script, "args": args}
        )
        return result.get("value") if isinstance(result, dict) else result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.command("Marionette:Quit", {"flags": ["eForceQuit"]}), 5)
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def write_profile(directory: str, port: int, extra: dict[str, Any] | None = None) -> None:
    prefs = {**PREFS, **(extra or {}), "marionette.port": port}
    with open(os.path.join(directory, "user.js"), "w", encoding="utf-8") as f:
        for key, value in prefs.items():
            f.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")


@contextlib.asynccontextmanager
async def firefox(prefs: dict[str, Any] | None = None) -> AsyncIterator[Marionette]:
    """Start headless Firefox with a fresh profile (PREFS updated by ``prefs``); yield a
    Marionette session in its one tab."""
    if not os.path.exists(FIREFOX):
        raise FileNotFoundError(
            f"{FIREFOX} not found: install Debian's firefox-esr "
            "(apt-get install -y --no-install-recommends firefox-esr)"
        )
    with tempfile.TemporaryDirectory(prefix="rtcpeer-firefox-") as profile:
        port = free_port()
        write_profile(profile, port, prefs)
        env = dict(os.environ, MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1")
        env.pop("DISPLAY", None)
        proc = await asyncio.create_subprocess_exec(
            FIREFOX,
            "--headless",
            "--marionette",
            "--no-remote",
            "--profile",
            profile,
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        client: Marionette | None = None
        try:
            client = await Marionette.connect(port)
            await client.new_session()
            yield client
        finally:
            if client is not None:
                await client.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
