"""A NAT lab built from network namespaces, for ICE tests (needs root and iproute2/iptables).

Topology (all addresses exist only inside the namespaces created here)::

    hA 10.0.1.2 -- 10.0.1.1 rA 198.51.100.2 --+
                                               pub 198.51.100.1 / 203.0.113.1 (STUN server)
    hB 10.0.2.2 -- 10.0.2.1 rB 203.0.113.2 ---+

``rA``/``rB`` masquerade their LAN (endpoint-independent mapping, or symmetric with
``--random-fully``), or route it untouched ("none"). One test process uses every namespace:
a socket belongs to the network namespace of the thread that created it, so the test enters
a namespace with setns(2) just while it creates that side's sockets (``inside``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

_CLONE_NEWNET = 0x40000000


def available() -> bool:
    return (
        os.geteuid() == 0
        and shutil.which("ip") is not None
        and shutil.which("iptables") is not None
    )


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=20)


class NatLab:
    def __init__(self, nat_a: str = "eim", nat_b: str = "eim", block_udp: str = "") -> None:
        """``block_udp`` lists the sides ("A", "B") whose router forwards no UDP at all."""
        tag = uuid.uuid4().hex[:6]
        self.ns = {n: f"icelab-{tag}-{n}" for n in ("pub", "rA", "hA", "rB", "hB")}
        self.tag = tag
        self.nat = {"A": nat_a, "B": nat_b}
        self.block_udp = block_udp
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._links: list[str] = []

    def _ns(self, name: str, *cmd: str) -> None:
        _run("ip", "netns", "exec", self.ns[name], *cmd)

    def _veth(self, left: str, left_ns: str, right: str, right_ns: str) -> None:
        self._links.append(left)
        _run("ip", "link", "add", left, "type", "veth", "peer", "name", right)
        _run("ip", "link", "set", left, "netns", self.ns[left_ns])
        _run("ip", "link", "set", right, "netns", self.ns[right_ns])

    def up(self) -> None:
        # Even a test run that is interrupted must not leave namespaces behind.
        atexit.register(self.down)
        for ns in self.ns.values():
            _run("ip", "netns", "add", ns)
        t = self.tag
        for side, lan, wan, pub_ip in (
            ("A", "10.0.1", "198.51.100", "198.51.100.1"),
            ("B", "10.0.2", "203.0.113", "203.0.113.1"),
        ):
            r, h = f"r{side}", f"h{side}"
            wan_r, wan_p = f"w{side}{t}r", f"w{side}{t}p"
            lan_h, lan_r = f"l{side}{t}h", f"l{side}{t}r"
            self._veth(wan_r, r, wan_p, "pub")
            self._veth(lan_h, h, lan_r, r)
            self._ns("pub", "ip", "addr", "add", f"{pub_ip}/24", "dev", wan_p)
            self._ns("pub", "ip", "link", "set", wan_p, "up")
            self._ns(r, "ip", "addr", "add", f"{wan}.2/24", "dev", wan_r)
            self._ns(r, "ip", "addr", "add", f"{lan}.1/24", "dev", lan_r)
            self._ns(r, "ip", "link", "set", wan_r, "up")
            self._ns(r, "ip", "link", "set", lan_r, "up")
            self._ns(r, "ip", "link", "set", "lo", "up")
            self._ns(r, "ip", "route", "add", "default", "via", pub_ip)
            self._ns(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            nat = self.nat[side]
            if nat != "none":
                extra = ["--random-fully"] if nat == "symmetric" else []
                self._ns(
                    r,
                    "iptables",
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    wan_r,
                    "-j",
                    "MASQUERADE",
                    *extra,
                )
                # A firewall drops unsolicited inbound packets before conntrack confirms an
                # entry for them; otherwise that entry would steal the port the next
                # outbound mapping needs and make every NAT behave symmetrically.
                self._ns(
                    r,
                    "iptables",
                    "-A",
                    "INPUT",
                    "-i",
                    wan_r,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "NEW",
                    "-j",
                    "DROP",
                )
            if side in self.block_udp:
                self._ns(r, "iptables", "-A", "FORWARD", "-p", "udp", "-j", "DROP")
            self._ns(h, "ip", "addr", "add", f"{lan}.2/24", "dev", lan_h)
            self._ns(h, "ip", "link", "set", lan_h, "up")
            self._ns(h, "ip", "link", "set", "lo", "up")
            self._ns(h, "ip", "route", "add", "default", "via", f"{lan}.1")
        self._ns("pub", "ip", "link", "set", "lo", "up")
        self._ns("pub", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Like the internet, "pub" silently loses packets for addresses it has no route to
        # (private LAN addresses in candidates). Without a default route a send would fail
        # with ENETUNREACH, and coturn closes a whole allocation on such an error.
        # (A veth pair whose far end drops everything; no ARP, so nothing ever waits.)
        self._ns("pub", "ip", "link", "add", "void0", "type", "veth", "peer", "name", "void1")
        self._ns("pub", "ip", "link", "set", "void0", "arp", "off", "up")
        self._ns("pub", "ip", "link", "set", "void1", "up")
        for chain in ("INPUT", "FORWARD"):
            self._ns("pub", "iptables", "-A", chain, "-i", "void1", "-j", "DROP")
        self._ns("pub", "ip", "route", "add", "default", "dev", "void0")
        # A LAN behind a plain router (no NAT) is routable from the public side; a NATed
        # LAN is not, as on the real internet.
        if self.nat["A"] == "none":
            self._ns("pub", "ip", "route", "add", "10.0.1.0/24", "via", "198.51.100.2")
        if self.nat["B"] == "none":
            self._ns("pub", "ip", "route", "add", "10.0.2.0/24", "via", "203.0.113.2")

    def down(self) -> None:
        """Delete everything ``up`` created, even after a partial ``up`` (errors ignored)."""
        atexit.unregister(self.down)
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        # A veth pair still in the root namespace (``up`` failed before moving it).
        for link in self._links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=20)

    @contextlib.contextmanager
    def inside(self, name: str) -> Iterator[None]:
        """Run the block with this thread in namespace ``name`` (sockets made there stay)."""
        with (
            open("/proc/self/ns/net", "rb") as home,
            open(f"/run/netns/{self.ns[name]}", "rb") as target,
        ):
            if self._libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into lab namespace failed")
            try:
                yield
            finally:
                if self._libc.setns(home.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back failed")
