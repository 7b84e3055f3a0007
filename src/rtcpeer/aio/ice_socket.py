"""UDP sockets of the asyncio ICE transport (:mod:`rtcpeer.aio.ice`): kernel tuning and the
batched, non-blocking reader/sender that is the transport's hot path, plus small helpers
shared by the transport and its gathering code."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from rtcpeer.sdp.candidate import Candidate

if TYPE_CHECKING:
    from rtcpeer.aio.ice import IceTransport

# Log under the transport's name, as before the module was split.
logger = logging.getLogger("rtcpeer.aio.ice")

Address = tuple[str, int]


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host == "::1"


# Kernel socket buffers asked for (the kernel caps them at net.core.rmem_max/wmem_max).
UDP_BUFFER_SIZE = 4 << 20

# Linux <netinet/in.h> values; the socket module does not export them all.
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_IPV6_MTU_DISCOVER = getattr(socket, "IPV6_MTU_DISCOVER", 23)
_IPV6_PMTUDISC_DO = getattr(socket, "IPV6_PMTUDISC_DO", 2)


def tune_udp_socket(sock: socket.socket, family: int) -> None:
    """Set up a UDP socket for ICE: big kernel buffers (bursts of a fast data channel would
    otherwise overflow the default ~200 KiB) and the don't-fragment bit: the kernel never
    fragments a datagram, a send bigger than the path MTU fails with EMSGSIZE instead (RFC
    8899 needs that for path MTU probing). Each option falls back silently where refused."""
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, opt, UDP_BUFFER_SIZE)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            if family == 6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MTU_DISCOVER, _IPV6_PMTUDISC_DO)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
    elif family == 6 and hasattr(socket, "IPV6_DONTFRAG"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DONTFRAG, 1)


def _drop_datagram(data: bytes | bytearray | memoryview, addr: Address) -> int:
    return len(data)


def _drop_packet(data: bytes | bytearray | memoryview) -> None:
    pass


def _positive(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"consent_timeout must be a positive number of seconds, not {seconds!r}")
    return float(seconds)


def _cand_key(cand: Candidate) -> tuple[str, str, int, str]:
    return (cand.type, cand.host, cand.port, cand.transport)


def _no_clock() -> float:
    raise RuntimeError("IceTransport used before it was attached to an event loop")


# Datagrams read per readiness callback. asyncio's own datagram transport reads one per
# event-loop iteration, which caps a busy connection far below what the socket can carry.
_READ_BATCH = 64


class _Socket:
    """One non-blocking UDP socket bound to one local address; ``key`` names it to the agent.

    Reads are batched straight from the selector callback; sends go straight to the socket.
    A full send buffer drops the datagram, as a congested network would (the protocols above
    retransmit), instead of growing an unbounded queue in user space.
    """

    def __init__(self, owner: IceTransport, key: int, sock: socket.socket) -> None:
        self.owner = owner
        self.key = key
        self.sock = sock
        self.open = True
        self.candidate: Candidate | None = None
        self.local_pref = 0
        self.family = 4
        # The srflx candidate (``_cand_key``) each STUN server last mapped this socket to.
        self.srflx: dict[str, tuple[str, str, int, str]] = {}
        self._sendto: Callable[[bytes | bytearray | memoryview, Address], int] = sock.sendto

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._read_ready)
        self._loop = loop

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        if not self.open:
            return
        try:
            self._sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self.owner._datagram_too_big(len(data))
                return
            # ICMP errors from earlier sends and unreachable routes: ICE sees a timeout.
            logger.debug("ICE socket %s send to %s failed: %s", self.key, addr, exc)

    def _read_ready(self) -> None:
        owner = self.owner
        recv = self.sock.recvfrom
        key = self.key
        agent_receive = owner._agent.receive
        # One clock read per batch: the agent only needs it for activity (consent) timing.
        now = owner._time()
        for _ in range(_READ_BATCH):
            try:
                data, addr = recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("ICE socket %s error: %s", key, exc)
                continue
            if len(addr) != 2:
                addr = (addr[0], addr[1])  # IPv6 sockaddr has flowinfo and scope id
            try:
                if data and data[0] > 3:
                    # Hot path (RFC 7983: not STUN). The agent only stamps activity and
                    # checks the source is a remote that took part in ICE.
                    on_data = owner._on_data
                    if on_data is not None and agent_receive(data, key, addr, now) is not None:
                        on_data(data)
                else:
                    owner._on_stun(data, key, addr)
            except Exception:
                # A bug above us must not stop this socket from reading.
                logger.exception("ICE socket %s: error handling a datagram", key)

    def close(self) -> None:
        if self.open:
            self.open = False
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
