"""rtcpeer in this process, aiortc in a child process (tests/interop/aiortc_peer.py).

aiortc is not installed in the project's virtualenv (its pins differ); it lives in
bench/.venv-aiortc, made by bench/setup.sh. The child speaks JSON lines on stdin/stdout (see
aiortc_peer.py); :class:`AiortcProcess` sends commands and collects events, :class:`Link` is one
rtcpeer RTCPeerConnection wired to one aiortc RTCPeerConnection with the signaling in between.

How the two connect on this machine: aiortc does not trickle (its descriptions carry every
candidate) and never gathers 127.0.0.1, only the machine's interface addresses; our side gathers
its host candidates on every interface plus loopback (``includeLoopback``), so the pair on the
machine's own interface address (e.g. 192.0.2.2 <-> 192.0.2.2) connects. aiortc is started with
no STUN server (its default is Google's, which would stall gathering offline).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtcpeer import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

ROOT = Path(__file__).resolve().parents[2]
AIORTC_PYTHON = ROOT / "bench" / ".venv-aiortc" / "bin" / "python"
PEER_SCRIPT = Path(__file__).with_name("aiortc_peer.py")

Event = dict[str, Any]


class AiortcError(AssertionError):
    """aiortc refused a command (the message carries aiortc's exception and traceback)."""


def wire(data: str | bytes) -> dict[str, str]:
    if isinstance(data, str):
        return {"text": data}
    return {"b64": base64.b64encode(data).decode("ascii")}


def unwire(event: Event) -> str | bytes:
    if "text" in event:
        return str(event["text"])
    return base64.b64decode(event["b64"])


class AiortcProcess:
    """One aiortc interpreter; it can hold several peer connections, named by the tests."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[Event] = []
        self.errors: list[str] = []
        self.stderr: list[str] = []
        self.version = ""
        self._seq = 0
        self._replies: dict[int, asyncio.Future[Event]] = {}
        self._waiters: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = []
        self._tasks = [
            asyncio.ensure_future(self._read_stdout()),
            asyncio.ensure_future(self._read_stderr()),
        ]

    @classmethod
    async def start(cls, env: dict[str, str] | None = None) -> AiortcProcess:
        if not AIORTC_PYTHON.exists():
            raise AssertionError(
                f"{AIORTC_PYTHON} is missing: create the aiortc virtualenv with "
                "`bash bench/setup.sh` (or `python3 -m venv bench/.venv-aiortc && "
                "bench/.venv-aiortc/bin/pip install aiortc`)"
            )
        proc = await asyncio.create_subprocess_exec(
            str(AIORTC_PYTHON),
            str(PEER_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 24,
            env={**os.environ, **(env or {})},
        )
        self = cls(proc)
        ready = await self.wait_event(lambda e: e["ev"] == "ready", timeout=30)
        self.version = str(ready["aiortc"])
        return self

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            event: Event = json.loads(line)
            seq = event.get("seq")
            if event["ev"] in ("done", "error") and seq is not None:
                fut = self._replies.pop(seq, None)
                if fut is not None and not fut.done():
                    fut.set_result(event)
                continue
            if event["ev"] == "error":
                self.errors.append(event["error"])
            self.events.append(event)
            for waiter in list(self._waiters):
                pred, fut = waiter
                if not fut.done() and pred(event):
                    fut.set_result(event)
                    self._waiters.remove(waiter)
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(AiortcError(f"aiortc exited: {self.stderr_tail()}"))
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(AiortcError(f"aiortc exited: {self.stderr_tail()}"))

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                break
            self.stderr.append(line.decode(errors="replace").rstrip())
            del self.stderr[:-200]

    def stderr_tail(self) -> str:
        return "\n".join(self.stderr[-30:])

    def post(self, op: str, **fields: Any) -> asyncio.Future[Event]:
        """Send a command now (commands run in the order posted); the future gets the reply."""
        assert self.proc.stdin is not None
        self._seq += 1
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._replies[self._seq] = fut
        line = json.dumps({"op": op, "seq": self._seq, **fields}) + "\n"
        self.proc.stdin.write(line.encode())
        return fut

    async def command(self, op: str, timeout: float = 10, **fields: Any) -> Event:
        reply = await asyncio.wait_for(self.post(op, **fields), timeout)
        if reply["ev"] == "error":
            raise AiortcError(f"aiortc {op}: {reply['error']}\n{reply.get('trace', '')}")
        return reply

    async def wait_event(self, pred: Callable[[Event], bool], timeout: float = 10) -> Event:
        for event in self.events:
            if pred(event):
                return event
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no matching aiortc event in {timeout} s; last events: {self.events[-8:]}"
            ) from None

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"op": "quit"}\n')
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            task.cancel()


class Link:
    """rtcpeer's RTCPeerConnection ``pc`` and aiortc's peer connection ``name``."""

    _count = 0

    def __init__(
        self,
        aio: AiortcProcess,
        config: dict[str, Any] | None = None,
        aiortc_config: dict[str, Any] | None = None,
    ) -> None:
        Link._count += 1
        self.aio = aio
        self.name = f"pc{Link._count}"
        self.aiortc_config = aiortc_config or {}
        self.pc = RTCPeerConnection(config if config is not None else {"includeLoopback": True})
        self.channels: dict[str, RTCDataChannel] = {}  # opened by aiortc, by label
        self.candidates_sent = 0
        self._signalled = False  # our description reached aiortc: candidates may follow
        self._held: list[Any] = []
        self._posted: list[asyncio.Future[Event]] = []
        # Hooks for tests that put something between the two (aiortc_relay.py): rewrite the
        # SDP going to / coming from aiortc; with ``trickle`` False our candidates are not
        # forwarded (only the end-of-candidates).
        self.to_aiortc: Callable[[str], str] = lambda sdp: sdp
        self.from_aiortc: Callable[[str], str] = lambda sdp: sdp
        self.trickle = True
        self.pc.addEventListener("icecandidate", self._on_candidate)
        self.pc.addEventListener(
            "datachannel", lambda e: self.channels.__setitem__(e.channel.label, e.channel)
        )

    async def setup(self) -> Link:
        await self.aio.command("new", pc=self.name, config=self.aiortc_config)
        return self

    # -- signaling -------------------------------------------------------------------------------

    def _on_candidate(self, event: Any) -> None:
        if self._signalled:
            self._forward(event.candidate)
        else:
            self._held.append(event.candidate)

    def _forward(self, cand: Any) -> None:
        if cand is None:
            fields: dict[str, Any] = {"candidate": ""}
        elif not self.trickle:
            return
        else:
            self.candidates_sent += 1
            fields = {
                "candidate": cand.candidate,
                "sdpMid": cand.sdpMid,
                "sdpMLineIndex": cand.sdpMLineIndex,
            }
        self._posted.append(self.aio.post("candidate", pc=self.name, **fields))

    def _release_candidates(self) -> None:
        self._signalled = True
        held, self._held = self._held, []
        for cand in held:
            self._forward(cand)

    async def negotiate(self, offerer: str) -> None:
        """One offer/answer exchange; ``offerer`` is "rtcpeer" or "aiortc"."""
        if offerer == "rtcpeer":
            await self.pc.setLocalDescription(await self.pc.createOffer())
            local = self.pc.localDescription
            assert local is not None
            reply = self.aio.post(
                "remote", pc=self.name, type=local.type, sdp=self.to_aiortc(local.sdp)
            )
            self._release_candidates()
            answer = await asyncio.wait_for(reply, 15)
            if answer["ev"] == "error":
                raise AiortcError(f"aiortc answering: {answer['error']}\n{answer.get('trace')}")
            assert answer["type"] == "answer"
            await self.pc.setRemoteDescription(
                RTCSessionDescription({"type": "answer", "sdp": self.from_aiortc(answer["sdp"])})
            )
        else:
            offer = await self.aio.command("offer", pc=self.name, timeout=15)
            assert offer["type"] == "offer"
            await self.pc.setRemoteDescription(
                RTCSessionDescription({"type": "offer", "sdp": self.from_aiortc(offer["sdp"])})
            )
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            local = self.pc.localDescription
            assert local is not None
            reply = self.aio.post(
                "remote", pc=self.name, type=local.type, sdp=self.to_aiortc(local.sdp)
            )
            self._release_candidates()
            done = await asyncio.wait_for(reply, 15)
            if done["ev"] == "error":
                raise AiortcError(f"aiortc answer: {done['error']}\n{done.get('trace')}")

    async def check_candidates(self) -> None:
        """Every trickled candidate was accepted by aiortc."""
        for fut in self._posted:
            reply = await asyncio.wait_for(fut, 10)
            if reply["ev"] == "error":
                raise AiortcError(f"aiortc addIceCandidate: {reply['error']}")

    # -- aiortc side -----------------------------------------------------------------------------

    async def aio_channel(self, label: str, options: dict[str, Any] | None = None) -> None:
        await self.aio.command("channel", pc=self.name, label=label, options=options or {})

    async def aio_send(self, label: str, data: str | bytes) -> None:
        await self.aio.command("send", pc=self.name, label=label, **wire(data))

    async def aio_state(self) -> Event:
        return await self.aio.command("state", pc=self.name)

    async def aio_event(self, ev: str, timeout: float = 10, **match: Any) -> Event:
        def pred(e: Event) -> bool:
            return (
                e["ev"] == ev
                and e.get("pc") == self.name
                and all(e.get(k) == v for k, v in match.items())
            )

        return await self.aio.wait_event(pred, timeout)

    def aio_events(self, ev: str, **match: Any) -> list[Event]:
        return [
            e
            for e in self.aio.events
            if e["ev"] == ev
            and e.get("pc") == self.name
            and all(e.get(k) == v for k, v in match.items())
        ]

    async def aio_messages(self, label: str, count: int, timeout: float = 10) -> list[str | bytes]:
        """The first ``count`` messages aiortc received on ``label``, in arrival order."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            got = self.aio_events("message", label=label)
            if len(got) >= count:
                return [unwire(e) for e in got[:count]]
            if loop.time() > end:
                raise TimeoutError(f"aiortc got {len(got)} of {count} messages on {label!r}")
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        task = self.pc.close()
        if task is not None:
            await task
        if self.aio.proc.returncode is None:
            await self.aio.command("close", pc=self.name)


async def wait_until(predicate: Callable[[], bool], timeout: float = 10, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError(f"condition not met in {timeout} s: {what}")
        await asyncio.sleep(0.005)


async def opened(channel: RTCDataChannel, timeout: float = 10) -> None:
    await wait_until(lambda: channel.readyState == "open", timeout, f"{channel.label!r} opens")


async def echo_round_trip(
    channel: RTCDataChannel, payloads: list[Any], timeout: float = 15
) -> list[Any]:
    """Send every payload on an aiortc "echo*" channel and return what came back, in order."""
    got: list[Any] = []
    done = asyncio.get_running_loop().create_future()

    def on_message(event: Any) -> None:
        got.append(event.data)
        if len(got) == len(payloads) and not done.done():
            done.set_result(None)

    channel.addEventListener("message", on_message)
    try:
        for p in payloads:
            channel.send(p)
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise TimeoutError(f"echo on {channel.label!r}: {len(got)} of {len(payloads)}") from None
    finally:
        channel.removeEventListener("message", on_message)
    return got
