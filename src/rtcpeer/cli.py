"""The ``rtcpeer`` command line."""

from __future__ import annotations

import argparse
import sys

from rtcpeer import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtcpeer", description="rtcpeer: WebRTC for Python")
    parser.add_argument("--version", action="version", version=f"rtcpeer {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("features", help="list what this build of rtcpeer can do")
    sub.add_parser("demo", help="run the demo (signaling server, web page and a Python peer)")
    args = parser.parse_args(argv)
    if args.command in (None, "features", "demo"):
        print(f"rtcpeer {__version__}")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
