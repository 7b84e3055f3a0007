"""Load with the server in its own process and the clients in two others (issue 9 item 6).

500 clients in 250 rooms in CI (``rtcpeer bench-signaling --processes 2`` runs 5,000 in 2,500):
every message relayed once, p99 reported; meanwhile a garbage sender, a flooder and a peer that
never reads are disconnected (1008) without costing the load a single message.
"""

from __future__ import annotations

import pytest

from rtcpeer.signaling.loadtest import run_process_load

pytestmark = pytest.mark.slow


async def test_500_clients_in_two_processes_against_a_server_process() -> None:
    report, abuse = await run_process_load(clients=500, rooms=250, messages=5, client_processes=2)
    print(report.summary())
    print(abuse)
    assert report.clients == 500
    assert report.expected == 500 * 5
    assert report.lost == 0 and report.duplicates == 0
    assert report.received == report.expected
    assert 0 < report.p50_ms <= report.p99_ms <= report.max_ms
    assert abuse is not None
    assert abuse.garbage_close == 1008
    assert abuse.flood_close in (1006, 1008)  # closed at once, without waiting for its ack
    assert abuse.pending_close == 1008
