"""The ``rtcpeer`` command line: version, features, serve (as a real process), bench-signaling."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from rtcpeer import __version__
from rtcpeer.cli import _server_config, build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"rtcpeer {__version__}"


def test_features_lists_capabilities(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"rtcpeer {__version__}"
    assert "yes  signaling server (aiohttp)" in out
    assert "redis scale-out" in out and "RTCPeerConnection" in out


def test_parser_options() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["serve", "--port", "0", "--redis", "redis://x", "--turn-secret", "s", "--turn-url",
         "turn:a:3478", "--stun", "stun:b:3478", "--turn", "embedded"]
    )  # fmt: skip
    assert (args.port, args.redis, args.turn_secret, args.turn) == (0, "redis://x", "s", "embedded")
    assert args.turn_url == ["turn:a:3478"] and args.stun == ["stun:b:3478"]
    args = parser.parse_args(["recv", "--room", "r", "-o", "/tmp/x", "--relay"])
    assert (args.room, args.output, args.ice_transport_policy) == ("r", "/tmp/x", "relay")
    args = parser.parse_args(["send", "f.bin", "--room", "r"])
    assert (args.file, args.ice_transport_policy, args.server) == (
        "f.bin",
        "all",
        "http://127.0.0.1:8080",
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["send", "f.bin"])  # --room is required
    args = parser.parse_args(["serve", "--require-minted-rooms", "--room-secret", "k"])
    config = _server_config(args, [], None)
    assert (config.require_minted_rooms, config.room_secret) == (True, "k")
    assert _server_config(parser.parse_args(["serve"]), [], None).require_minted_rooms is False
    args = parser.parse_args(["bench-signaling", "--processes", "2", "--interval", "0.5"])
    assert (args.processes, args.interval, args.clients, args.rooms) == (2, 0.5, 5000, 2500)


async def test_serve_prints_the_url_and_serves_pages_and_signaling() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtcpeer", "serve", "--port", "0", "--turn-secret", "sekrit",
         "--turn-url", "turn:turn.example.org:3478", "--stun", "stun:stun.example.org:3478"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        assert first.startswith(f"rtcpeer {__version__} signaling server on http://127.0.0.1:")
        base = first.split(" on ", 1)[1].strip().rstrip("/")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/static/chat.html") as response:
                assert response.status == 200
                assert "RTCDataChannel" in await response.text()
            ws_url = "ws" + base[4:] + "/ws"
            a = await session.ws_connect(ws_url, params={"room": "cli", "peer": "a"})
            welcome = json.loads((await a.receive()).data)
            assert welcome["type"] == "welcome" and welcome["polite"] is False
            servers = welcome["iceServers"]
            assert servers[0] == {"urls": "stun:stun.example.org:3478"}
            assert servers[1]["urls"] == ["turn:turn.example.org:3478"]
            assert int(servers[1]["username"].split(":")[0]) > time.time()
            b = await session.ws_connect(ws_url, params={"room": "cli", "peer": "b"})
            assert json.loads((await b.receive()).data)["polite"] is True
            await b.send_json({"description": {"type": "offer", "sdp": "v=0"}})
            assert json.loads((await a.receive()).data) == {"type": "joined", "peer": "b"}
            assert json.loads((await a.receive()).data) == {
                "description": {"type": "offer", "sdp": "v=0"},
                "from": "b",
            }
            await a.close()
            await b.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_bench_signaling_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-signaling", "--clients", "40", "--rooms", "20", "--messages", "3"]) == 0
    out = capsys.readouterr().out
    assert "40 clients in 20 rooms" in out
    assert "120/120 messages relayed (0 lost, 0 duplicated)" in out


async def _wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 20) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout)
        if line.startswith(prefix):
            return line
        assert line, f"process ended before printing {prefix!r}"
    raise AssertionError(f"no line starting with {prefix!r}")


def _rtcpeer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rtcpeer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


async def test_cli_send_and_recv_a_50_mib_file(tmp_path: Path) -> None:
    from rtcpeer.signaling.server import run_server

    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(50 << 20))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    async with await run_server() as server:
        recv = _rtcpeer("recv", "--room", "cli-files", "-o", str(tmp_path / "out"),
                        "--server", server.url, "--timeout", "60")  # fmt: skip
        await asyncio.sleep(0.5)
        send = _rtcpeer("send", str(source), "--room", "cli-files", "--server", server.url,
                        "--timeout", "60")  # fmt: skip
        send_out, send_err = await asyncio.to_thread(send.communicate, timeout=90)
        recv_out, recv_err = await asyncio.to_thread(recv.communicate, timeout=30)
    assert send.returncode == 0, send_err
    assert recv.returncode == 0, recv_err
    assert f"SHA-256 {digest} OK" in send_out
    assert f"payload.bin: SHA-256 {digest} OK" in recv_out
    assert "100.0%" in send_err and "100.0%" in recv_err  # the progress bars
    received = tmp_path / "out" / "payload.bin"
    assert hashlib.sha256(received.read_bytes()).hexdigest() == digest


async def test_demo_runs_an_echo_peer() -> None:
    from rtcpeer.signaling.peers import run_chat

    demo = _rtcpeer("demo", "--port", "0", "--room", "demo-test")
    try:
        line = await _wait_line(demo, "rtcpeer ")
        base = line.split(" on ", 1)[1].strip().rstrip("/")
        opened = await _wait_line(demo, "Open ")
        assert opened.startswith(f"Open {base}/static/chat.html?room=demo-test")
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        out = io.StringIO()
        chat = asyncio.create_task(run_chat(base, "demo-test", lines=lines, out=out))
        deadline = time.monotonic() + 15
        while "Hello from Python" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.02)
        await lines.put("ping")
        while "echo: ping" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.02)
        await lines.put(None)
        await asyncio.wait_for(chat, 5)
    finally:
        demo.terminate()
        demo.wait(10)


async def test_turn_command_answers_stun_binding() -> None:
    from rtcpeer.stun import parse
    from rtcpeer.stun.message import Attr, MessageClass, Method, StunMessage

    proc = _rtcpeer("turn", "--turn-host", "127.0.0.1", "--turn-port", "0", "--user", "u:p")
    try:
        line = await _wait_line(proc, "rtcpeer embedded STUN/TURN server: turn:127.0.0.1:")
        port = int(line.split("turn:127.0.0.1:", 1)[1].split("?", 1)[0])
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not answer.done():
                    answer.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
        try:
            request = StunMessage(Method.BINDING, MessageClass.REQUEST)
            transport.sendto(request.encode())
            response = parse(await asyncio.wait_for(answer, 5))
        finally:
            transport.close()
        assert response.message_class == MessageClass.SUCCESS
        assert response.transaction_id == request.transaction_id
        mapped = response.get(Attr.XOR_MAPPED_ADDRESS)
        assert mapped is not None and mapped[0] == "127.0.0.1"
    finally:
        proc.terminate()
        proc.wait(10)
