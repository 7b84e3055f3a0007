"""Interop with an independent DTLS 1.2 peer: the ``openssl s_server`` / ``s_client`` CLI.

Our core runs over a real loopback UDP socket with the real monotonic clock. The OpenSSL CLI
negotiates use_srtp and prints its RFC 5764 exporter output, which must equal ours.
"""

from __future__ import annotations

import queue
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rtcpeer.dtls import DtlsConnected, DtlsCore, DtlsState, RTCCertificate

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
SRTP_ARGS = [
    "-use_srtp",
    "SRTP_AES128_CM_SHA1_80",
    "-keymatexport",
    "EXTRACTOR-dtls_srtp",
    "-keymatexportlen",
    "60",
]


class Reader:
    """Collects a subprocess's output lines on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=self._run, args=(stdout,), daemon=True).start()

    def _run(self, stdout: object) -> None:
        for line in stdout:  # type: ignore[attr-defined]
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pred: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError(
            "openssl did not print the expected line; got:\n" + "\n".join(self.seen)
        )


def drive(
    core: DtlsCore,
    sock: socket.socket,
    addr: list[tuple[str, int]],
    done: Callable[[], bool],
    received: list[bytes],
    timeout: float = 10.0,
) -> None:
    """Run ``core`` over ``sock`` with the real clock until ``done()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in core.datagrams_to_send():
            assert addr, "nothing to send to yet"
            sock.sendto(d, addr[0])
        if done():
            return
        now = time.monotonic()
        nt = core.next_timeout()
        wait = 0.05 if nt is None else max(0.0, min(0.05, nt - now))
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            data, src = sock.recvfrom(65536)
            if not addr:
                addr.append(src)
            received.extend(core.receive(data, time.monotonic()))
        nt = core.next_timeout()
        if nt is not None and time.monotonic() >= nt:
            core.timeout(time.monotonic())
    raise AssertionError(f"timed out in state {core.state}")


def write_cert(tmp: Path, cert: RTCCertificate, name: str) -> tuple[str, str]:
    c, k = tmp / f"{name}.pem", tmp / f"{name}.key"
    c.write_bytes(cert.certificate_pem())
    k.write_bytes(cert.private_key_pem())
    return str(c), str(k)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keying_material(reader: Reader) -> bytes:
    line = reader.wait_for(lambda s: "Keying material:" in s)
    return bytes.fromhex(line.split("Keying material:")[1].strip())


def _exchange(
    core: DtlsCore,
    sock: socket.socket,
    addr: list[tuple[str, int]],
    proc: subprocess.Popen[str],
    reader: Reader,
) -> None:
    received: list[bytes] = []
    events = core.events()
    (ev,) = [e for e in events if isinstance(e, DtlsConnected)]
    assert ev.srtp_profile == "SRTP_AES128_CM_SHA1_80"
    assert ev.keying_material == _keying_material(reader)
    # rtcpeer -> openssl
    assert core.send(b"hello from rtcpeer\n")
    drive(core, sock, addr, lambda: True, received)
    reader.wait_for(lambda s: "hello from rtcpeer" in s)
    # openssl -> rtcpeer
    assert proc.stdin is not None
    proc.stdin.write("hello from openssl\n")
    proc.stdin.flush()
    drive(core, sock, addr, lambda: any(b"hello from openssl" in r for r in received), received)


def test_client_against_openssl_s_server(tmp_path: Path) -> None:
    ours, theirs = RTCCertificate.generate(), RTCCertificate.generate()
    cert, key = write_cert(tmp_path, theirs, "server")
    port = free_udp_port()
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}", "-cert", cert,
         "-key", key, "-Verify", "1", *SRTP_ARGS],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = Reader(proc)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        reader.wait_for(lambda s: "ACCEPT" in s)
        sock.bind(("127.0.0.1", 0))
        addr = [("127.0.0.1", port)]
        core = DtlsCore(ours, "client", [("sha-256", theirs.fingerprint())], srtp=True)
        core.start(time.monotonic())
        drive(core, sock, addr, lambda: core.state is not DtlsState.CONNECTING, [])
        assert core.state is DtlsState.CONNECTED
        assert core.remote_certificate == theirs.der
        _exchange(core, sock, addr, proc, reader)
        core.close()
        drive(core, sock, addr, lambda: True, [])
    finally:
        sock.close()
        proc.kill()
        proc.wait(5)


def test_server_against_openssl_s_client(tmp_path: Path) -> None:
    ours, theirs = RTCCertificate.generate(), RTCCertificate.generate()
    cert, key = write_cert(tmp_path, theirs, "client")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [OPENSSL, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-cert", cert,
         "-key", key, *SRTP_ARGS],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = Reader(proc)
    try:
        addr: list[tuple[str, int]] = []
        core = DtlsCore(ours, "server", [("sha-256", theirs.fingerprint())], srtp=True)
        core.start(time.monotonic())
        drive(core, sock, addr, lambda: core.state is not DtlsState.CONNECTING, [])
        assert core.state is DtlsState.CONNECTED
        assert core.remote_certificate == theirs.der
        _exchange(core, sock, addr, proc, reader)
    finally:
        sock.close()
        proc.kill()
        proc.wait(5)


def test_openssl_s_client_with_wrong_certificate_is_refused(tmp_path: Path) -> None:
    ours, theirs, other = (RTCCertificate.generate() for _ in range(3))
    cert, key = write_cert(tmp_path, theirs, "client")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [OPENSSL, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-cert", cert,
         "-key", key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = Reader(proc)
    try:
        addr: list[tuple[str, int]] = []
        core = DtlsCore(ours, "server", [("sha-256", other.fingerprint())])
        core.start(time.monotonic())
        drive(core, sock, addr, lambda: core.state is not DtlsState.CONNECTING, [])
        assert core.state is DtlsState.FAILED
        drive(core, sock, addr, lambda: True, [])  # flush our alert
        reader.wait_for(lambda s: "alert" in s.lower() or "error" in s.lower())
    finally:
        sock.close()
        proc.kill()
        proc.wait(5)


def test_real_clock_lost_client_hello_is_retransmitted() -> None:
    """On the real clock a lost first flight is re-sent by the core's own timer."""
    a, b = RTCCertificate.generate(), RTCCertificate.generate()
    client = DtlsCore(a, "client", [("sha-256", b.fingerprint())], initial_timeout=0.2)
    server = DtlsCore(b, "server", [("sha-256", a.fingerprint())])
    client.start(time.monotonic())
    server.start(time.monotonic())
    first = client.datagrams_to_send()
    assert first  # ... and lost
    deadline = time.monotonic() + 5.0
    while not (client.connected and server.connected) and time.monotonic() < deadline:
        nt = client.next_timeout()
        if nt is not None and time.monotonic() >= nt:
            client.timeout(time.monotonic())
        for d in client.datagrams_to_send():
            server.receive(d, time.monotonic())
        for d in server.datagrams_to_send():
            client.receive(d, time.monotonic())
        time.sleep(0.01)
    assert client.connected and server.connected


def test_real_clock_uses_openssl_retransmission() -> None:
    """Live timers line up with OpenSSL's: the retransmission carries a fresh record number."""
    a, b = RTCCertificate.generate(), RTCCertificate.generate()
    client = DtlsCore(a, "client", [("sha-256", b.fingerprint())])
    client.start(time.monotonic())
    (first,) = client.datagrams_to_send()
    resent: list[bytes] = []
    deadline = time.monotonic() + 3.0
    while not resent and time.monotonic() < deadline:
        nt = client.next_timeout()
        assert nt is not None
        time.sleep(max(0.0, nt - time.monotonic()))
        client.timeout(time.monotonic())
        resent = client.datagrams_to_send()
    assert len(resent) == 1
    assert resent[0] != first and resent[0][:3] == first[:3]
    assert resent[0][11:] == first[11:]  # same ClientHello, new record sequence number
