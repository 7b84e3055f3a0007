"""Run coturn (/usr/bin/turnserver) as an independent TURN server for ICE relay tests.

Each instance gets its own ports, user database, pid file and a fresh self-signed certificate
(for ``turns:``), so parallel test workers do not collide. ``netns`` runs it inside a network
namespace of the NAT lab (``ip netns exec``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TURNSERVER = "/usr/bin/turnserver"
USER, PASSWORD, REALM = "ice", "secret", "rtcpeer.test"


def available() -> bool:
    return shutil.which(TURNSERVER) is not None


def _free_port() -> int:
    """A port free for both UDP and TCP on loopback (the server binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def _self_signed(directory: str, ip: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "turn.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class Coturn:
    def __init__(self, ip: str = "127.0.0.1", netns: str | None = None, port: int = 3478) -> None:
        self.ip = ip
        self.netns = netns
        self.dir = tempfile.mkdtemp(prefix="coturn-")
        if netns is None:
            self.port, self.tls_port = _free_port(), _free_port()
        else:
            self.port, self.tls_port = port, 5349
        self.cert, self.key = _self_signed(self.dir, ip)
        self.proc: subprocess.Popen[bytes] | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate."""
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx

    def urls(self) -> dict[str, str]:
        return {
            "udp": f"turn:{self.ip}:{self.port}",
            "tcp": f"turn:{self.ip}:{self.port}?transport=tcp",
            "tls": f"turns:{self.ip}:{self.tls_port}",
        }

    def ice_server(self, kind: str = "udp", password: str = PASSWORD) -> dict[str, str]:
        return {"urls": self.urls()[kind], "username": USER, "credential": password}

    def start(self) -> None:
        low = 20000 + (os.getpid() * 97 + self.port) % 40000
        cmd = [
            TURNSERVER,
            "-n",
            "--no-cli",
            f"--listening-ip={self.ip}",
            f"--relay-ip={self.ip}",
            f"--listening-port={self.port}",
            f"--tls-listening-port={self.tls_port}",
            f"--min-port={low}",
            f"--max-port={low + 200}",
            "--lt-cred-mech",
            f"--user={USER}:{PASSWORD}",
            f"--realm={REALM}",
            "--no-dtls",
            "--allow-loopback-peers",
            f"--cert={self.cert}",
            f"--pkey={self.key}",
            f"--userdb={os.path.join(self.dir, 'turndb')}",
            f"--pidfile={os.path.join(self.dir, 'pid')}",
            f"--log-file={os.path.join(self.dir, 'turn.log')}",
            "--simple-log",
            "--verbose",
        ]
        if self.netns is not None:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until the TCP listener accepts (UDP and TLS listeners start with it)."""
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited with {self.proc.returncode}")
            if self.netns is None:
                try:
                    with socket.create_connection((self.ip, self.port), timeout=0.2):
                        return
                except OSError:
                    pass
            elif self._listening_in_netns():
                return
            time.sleep(0.05)
        raise RuntimeError("turnserver did not start")

    def _listening_in_netns(self) -> bool:
        """Whether the server's namespace has a TCP listener on our port (/proc/PID/net/tcp
        lists the sockets of the process's network namespace)."""
        assert self.proc is not None
        try:
            with open(f"/proc/{self.proc.pid}/net/tcp", encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            return False
        want = f":{self.port:04X}"
        return any(
            parts[1].endswith(want) and parts[3] == "0A"  # 0A: LISTEN
            for parts in (line.split() for line in lines)
            if len(parts) > 3
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not os.environ.get("KEEP_COTURN"):
            shutil.rmtree(self.dir, ignore_errors=True)
