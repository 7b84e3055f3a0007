"""Helpers for the DTLS tests: certificates, core pairs and in-memory pumping."""

from __future__ import annotations

from typing import Any

from netsim import FakeClock, LinkConfig, LossyLink, run_until
from rtcpeer.dtls import DtlsCore, RTCCertificate

_CERTS: list[RTCCertificate] = []


def certs() -> tuple[RTCCertificate, RTCCertificate]:
    """Two certificates, generated once per test process."""
    if not _CERTS:
        _CERTS.extend([RTCCertificate.generate(), RTCCertificate.generate()])
    return _CERTS[0], _CERTS[1]


def fp(cert: RTCCertificate, algorithm: str = "sha-256") -> list[tuple[str, str]]:
    return [(algorithm, cert.fingerprint(algorithm))]


def make_pair(
    srtp: bool = False,
    client_fps: list[tuple[str, str]] | None = None,
    server_fps: list[tuple[str, str]] | None = None,
    **kwargs: Any,
) -> tuple[DtlsCore, DtlsCore]:
    a, b = certs()
    client = DtlsCore(a, "client", fp(b) if client_fps is None else client_fps, srtp=srtp, **kwargs)
    server = DtlsCore(b, "server", fp(a) if server_fps is None else server_fps, srtp=srtp, **kwargs)
    return client, server


def pump(
    client: DtlsCore, server: DtlsCore, now: float = 0.0, rounds: int = 20
) -> list[list[bytes]]:
    """Exchange datagrams in memory, without loss, until both sides are quiet."""
    received: list[list[bytes]] = [[], []]
    for _ in range(rounds):
        moved = False
        for d in client.datagrams_to_send():
            received[1].extend(server.receive(d, now))
            moved = True
        for d in server.datagrams_to_send():
            received[0].extend(client.receive(d, now))
            moved = True
        if not moved:
            break
    return received


class LinkedPair:
    """Two cores over a seeded ``LossyLink`` driven by a fake clock."""

    def __init__(self, config: LinkConfig, **kwargs: Any) -> None:
        self.clock = FakeClock(0.0)
        self.link = LossyLink(self.clock, config)
        self.client, self.server = make_pair(**kwargs)
        self.cores = [self.client, self.server]
        self.received: dict[int, list[bytes]] = {0: [], 1: []}
        self.events: dict[int, list[Any]] = {0: [], 1: []}

    def _deliver(self, ep: DtlsCore, data: bytes, now: float) -> None:
        i = self.cores.index(ep)
        self.received[i].extend(ep.receive(data, now))
        self.events[i].extend(ep.events())

    def run(self, done: Any, max_time: float = 60.0) -> bool:
        def check() -> bool:
            for i, ep in enumerate(self.cores):
                self.events[i].extend(ep.events())
            return bool(done())

        return run_until(
            self.clock,
            self.link,
            self.cores,
            deliver=self._deliver,
            flush=lambda ep: ep.datagrams_to_send(),
            done=check,
            max_time=max_time,
        )

    def start(self) -> None:
        self.client.start(self.clock.now)
        self.server.start(self.clock.now)
