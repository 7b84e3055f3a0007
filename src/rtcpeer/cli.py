"""The ``rtcpeer`` command line.

``rtcpeer serve``   signaling server + web pages (+ embedded STUN/TURN), prints the URL
``rtcpeer demo``    serve plus a Python echo peer in room "demo": open the URL, chat with Python
``rtcpeer chat``    chat with the peers of a room from the terminal
``rtcpeer send`` / ``rtcpeer recv``   one file over a data channel, checked with SHA-256
``rtcpeer turn``    the embedded STUN/TURN server alone (development and tests; coturn otherwise)
``rtcpeer bench-signaling``  many WebSocket clients through the signaling server
``rtcpeer features``         what this installation can do
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from rtcpeer import __version__

DEFAULT_SERVER = "http://127.0.0.1:8080"


def _module_available(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:
        return False
    return True


def features() -> list[tuple[str, bool, str]]:
    """(feature, available, detail) for ``rtcpeer features``."""
    from rtcpeer.signaling.peers import peer_connection_available

    out: list[tuple[str, bool, str]] = []
    out.append(("signaling server (aiohttp)", _module_available("aiohttp"), "rtcpeer serve"))
    out.append(("redis scale-out", _module_available("redis.asyncio"), "rtcpeer serve --redis"))
    out.append(("TURN REST credentials", True, "rtcpeer serve --turn-secret"))
    out.append(("RTCPeerConnection", peer_connection_available(), "chat, send, recv, demo"))
    out.append(("embedded STUN/TURN server", _turn_server_class() is not None, "rtcpeer turn"))
    out.append(("media (PyAV)", _module_available("av"), "audio/video tracks"))
    out.append(("SRTP (pylibsrtp)", _module_available("pylibsrtp"), "media encryption"))
    return out


def _turn_server_class() -> Any:
    try:
        module = importlib.import_module("rtcpeer.turnserver")
    except Exception:
        return None
    return getattr(module, "TurnServer", None)


def _lan_address() -> str:
    """The address other machines would reach us at (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
        address: str = s.getsockname()[0]
        return address
    return "127.0.0.1"


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# -- serve ------------------------------------------------------------------------------------


async def _start_turn(args: argparse.Namespace, secret: str | None) -> tuple[Any, list[str]]:
    """Start the embedded TURN server; returns (server or None, URLs for clients)."""
    cls = _turn_server_class()
    if cls is None:
        _print("embedded STUN/TURN server not available in this build; continuing without it")
        return None, []
    wildcard = args.turn_host in ("0.0.0.0", "::")
    relay_ip = args.relay_ip or (_lan_address() if wildcard else args.turn_host)
    users = dict(u.split(":", 1) for u in getattr(args, "user", []) or [] if ":" in u)
    server = cls(
        args.realm,
        users=users or None,
        auth_secret=secret,
        listen=(args.turn_host, args.turn_port),
        relay_address=relay_ip,
    )
    await server.start()
    port = server.udp_address[1] if server.udp_address else args.turn_port
    host = args.public_host or (relay_ip if wildcard else args.turn_host)
    urls = [f"turn:{host}:{port}?transport=udp", f"turn:{host}:{port}?transport=tcp"]
    return server, urls


async def _stop(obj: Any) -> None:
    if obj is None:
        return
    result = obj.close()
    if inspect.isawaitable(result):
        await result


def _server_config(args: argparse.Namespace, turn_urls: list[str], secret: str | None) -> Any:
    from rtcpeer.signaling.server import ServerConfig

    ice_servers: list[dict[str, Any]] = [{"urls": url} for url in args.stun]
    return ServerConfig(
        max_room_size=args.max_room_size,
        auth_token=args.token,
        ice_servers=ice_servers,
        turn_secret=secret,
        turn_urls=[*args.turn_url, *turn_urls],
        redis_url=args.redis,
        require_minted_rooms=args.require_minted_rooms,
        room_secret=args.room_secret,
    )


async def _serve(args: argparse.Namespace, extra: Callable[[str], Awaitable[None]] | None) -> int:
    from rtcpeer.signaling.server import run_server

    secret = args.turn_secret
    turn = None
    turn_urls: list[str] = []
    if args.turn == "embedded":
        secret = secret or secrets.token_urlsafe(24)
        turn, turn_urls = await _start_turn(args, secret)
    elif args.turn:
        args.turn_url.append(args.turn)
    config = _server_config(args, turn_urls, secret)
    handle = await run_server(args.host, args.port, config)
    try:
        base = handle.url
        if args.host in ("0.0.0.0", "::"):
            base = f"http://{args.public_host or _lan_address()}:{handle.url.rsplit(':', 1)[1]}"
        _print(f"rtcpeer {__version__} signaling server on {base}/")
        if extra is None:  # the demo prints the one URL to open itself
            _print(f"  chat page:  {base}/static/chat.html?room=ROOM  (or {base}/new: a new room)")
            _print(f"  WebSocket:  {handle.ws_url}")
        if turn_urls:
            _print(f"  TURN:       {', '.join(turn_urls)}")
        if args.redis:
            _print(f"  rooms shared through {args.redis}")
        if extra is not None:
            await extra(handle.url)
        else:
            await asyncio.Event().wait()
    finally:
        await handle.close()
        await _stop(turn)
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from rtcpeer.signaling.peers import peer_connection_available, run_echo_peer

    async def echo(url: str) -> None:
        shown = url
        if args.host in ("0.0.0.0", "::"):
            shown = f"http://{args.public_host or _lan_address()}:{url.rsplit(':', 1)[1]}"
        _print("")
        # The one URL a newcomer needs: the page joins the room by itself (connect=1).
        _print(f"Open {shown}/static/chat.html?room={args.room}&connect=1 in a browser")
        if not peer_connection_available():
            _print("(RTCPeerConnection is not available in this build: no Python peer joins;")
            _print(" two browser tabs on that URL still chat with each other.)")
            await asyncio.Event().wait()
            return
        _print("and chat with the Python echo peer. Ctrl-C stops.")
        await run_echo_peer(url, args.room, token=args.token)

    return await _serve(args, echo)


# -- peers ------------------------------------------------------------------------------------


def _require_pc() -> None:
    from rtcpeer.signaling.peers import peer_connection_available

    if not peer_connection_available():
        raise SystemExit("rtcpeer: RTCPeerConnection is not available in this build")


async def _chat(args: argparse.Namespace) -> int:
    from rtcpeer.signaling.peers import run_chat

    _require_pc()
    await run_chat(args.server, args.room, token=args.token)
    return 0


async def _send(args: argparse.Namespace) -> int:
    from rtcpeer.signaling.peers import send_file

    _require_pc()
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"rtcpeer send: {path} is not a file")
    reply = await send_file(
        args.server,
        args.room,
        path,
        token=args.token,
        timeout=args.timeout,
        ice_transport_policy=args.ice_transport_policy,
    )
    ok = bool(reply.get("ok"))
    _print(
        f"{path.name}: receiver reports SHA-256 {reply.get('sha256')} {'OK' if ok else 'MISMATCH'}"
    )
    return 0 if ok else 1


async def _recv(args: argparse.Namespace) -> int:
    from rtcpeer.signaling.peers import recv_file

    _require_pc()
    path, ok, digest = await recv_file(
        args.server,
        args.room,
        Path(args.output),
        token=args.token,
        timeout=args.timeout,
        ice_transport_policy=args.ice_transport_policy,
    )
    _print(f"{path}: SHA-256 {digest} {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


async def _turn(args: argparse.Namespace) -> int:
    secret = args.turn_secret or (None if args.user else secrets.token_urlsafe(24))
    server, urls = await _start_turn(args, secret)
    if server is None:
        return 1
    _print(f"rtcpeer embedded STUN/TURN server: {', '.join(urls)} (realm {args.realm})")
    if secret and not args.turn_secret:
        _print(f"  TURN REST secret: {secret}")
    try:
        await asyncio.Event().wait()
    finally:
        await _stop(server)
    return 0


async def _bench_signaling(args: argparse.Namespace) -> int:
    from rtcpeer.signaling.loadtest import run_load, run_local_load, run_process_load

    options = {"clients": args.clients, "rooms": args.rooms, "messages": args.messages}
    if args.processes:
        report, abuse = await run_process_load(
            client_processes=args.processes,
            interval=args.interval,
            abuse=not args.no_abuse,
            **options,
        )
        _print(report.summary())
        if abuse is not None:
            _print(
                f"abusive clients closed with: garbage {abuse.garbage_close}, flood "
                f"{abuse.flood_close}, never-reading peer dropped {abuse.pending_close}"
            )
        return 0 if report.lost == 0 and report.duplicates == 0 else 1
    if args.url:
        report = await run_load(args.url, token=args.token, **options)
    else:
        report = await run_local_load(**options)
    _print(report.summary())
    return 0 if report.lost == 0 and report.duplicates == 0 else 1


# -- argument parsing -------------------------------------------------------------------------


def _add_server_options(p: argparse.ArgumentParser, port: int = 8080) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    p.add_argument("--port", type=int, default=port, help="HTTP/WebSocket port (0: any free)")
    p.add_argument("--public-host", help="host name to print in URLs and TURN URLs")
    p.add_argument("--redis", metavar="URL", help="share rooms with other servers via Redis")
    p.add_argument("--token", help="require this token from clients (?token= or Bearer)")
    p.add_argument("--max-room-size", type=int, default=8)
    p.add_argument("--require-minted-rooms", action="store_true",
                   help="refuse rooms not created by POST /rooms or GET /new (close 4404)")  # fmt: skip
    p.add_argument("--room-secret", help="key signing minted room tokens (same on every server)")
    p.add_argument(
        "--stun", action="append", default=[], metavar="URL", help="STUN URL for clients"
    )
    p.add_argument(
        "--turn",
        metavar="URL|embedded",
        help="'embedded' starts the built-in STUN/TURN server; a turn: URL is handed out",
    )
    p.add_argument("--turn-url", action="append", default=[], metavar="URL")
    p.add_argument("--turn-secret", help="coturn static-auth-secret: mint TURN REST credentials")
    _add_turn_listen(p)


def _add_turn_listen(p: argparse.ArgumentParser) -> None:
    p.add_argument("--turn-host", default="0.0.0.0")
    p.add_argument("--turn-port", type=int, default=3478)
    p.add_argument("--realm", default="rtcpeer")
    p.add_argument("--relay-ip", help="address relayed traffic leaves from (default: the host's)")


def _add_peer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=DEFAULT_SERVER, help=f"signaling server ({DEFAULT_SERVER})")
    p.add_argument("--token", help="the server's access token, if it wants one")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    p.add_argument("--relay", dest="ice_transport_policy", action="store_const", const="relay",
                   default="all", help="iceTransportPolicy 'relay' (TURN only)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtcpeer", description="rtcpeer: WebRTC for Python")
    parser.add_argument("--version", action="version", version=f"rtcpeer {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("features", help="list what this build of rtcpeer can do")
    p = sub.add_parser("serve", help="signaling server, web pages, optional STUN/TURN")
    _add_server_options(p)
    p = sub.add_parser("demo", help="serve plus a Python echo peer in a demo room")
    _add_server_options(p)
    p.add_argument("--room", default="demo")
    p = sub.add_parser("chat", help="chat with the peers of a room")
    p.add_argument("room")
    _add_peer_options(p)
    p = sub.add_parser("send", help="send a file to the other peer of a room")
    p.add_argument("file")
    p.add_argument("--room", required=True)
    _add_peer_options(p)
    p = sub.add_parser("recv", help="receive a file from the other peer of a room")
    p.add_argument("--room", required=True)
    p.add_argument("-o", "--output", default=".", help="directory to write to")
    _add_peer_options(p)
    p = sub.add_parser("turn", help="the embedded STUN/TURN server (development and tests)")
    _add_turn_listen(p)
    p.add_argument("--turn-secret", help="TURN REST (use-auth-secret) shared secret")
    p.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                   help="long-term credential (repeatable)")  # fmt: skip
    p.add_argument("--public-host")
    p = sub.add_parser("bench-signaling", help="many WebSocket clients through the server")
    p.add_argument("--clients", type=int, default=5000)
    p.add_argument("--rooms", type=int, default=2500)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--url", help="ws://.../ws of a running server (default: start one here)")
    p.add_argument("--interval", type=float, default=0.02,
                   help="seconds between a client's messages (--processes only)")  # fmt: skip
    p.add_argument("--no-abuse", action="store_true",
                   help="without the garbage/flood/stuck clients (--processes only)")  # fmt: skip
    p.add_argument("--processes", type=int, default=0, metavar="N",
                   help="server in its own process, clients in N processes, plus abusers")  # fmt: skip
    p.add_argument("--token")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "serve": lambda a: _serve(a, None),
    "demo": _demo,
    "chat": _chat,
    "send": _send,
    "recv": _recv,
    "turn": _turn,
    "bench-signaling": _bench_signaling,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "features"):
        _print(f"rtcpeer {__version__}")
        if args.command == "features":
            for name, available, detail in features():
                _print(f"  {'yes' if available else 'no ':<4} {name:<28} {detail}")
        else:
            parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        return asyncio.run(_run(COMMANDS[args.command](args)))
    except KeyboardInterrupt:
        return 130


async def _run(command: Coroutine[Any, Any, int]) -> int:
    """Run a command; SIGTERM ends it cleanly (servers close their sockets with 1001)."""
    task = asyncio.ensure_future(command)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
