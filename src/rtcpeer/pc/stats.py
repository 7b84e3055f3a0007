"""getStats() for the data path, with W3C webrtc-stats field names.

Reports: peer-connection, transport, candidate-pair, local-candidate, remote-candidate,
data-channel and certificate (webrtc-stats sections 7.x). Timestamps are milliseconds since
the Unix epoch, as in browsers.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtcpeer.peerconnection import RTCPeerConnection
    from rtcpeer.sdp.candidate import Candidate

__all__ = ["collect_stats"]


def _candidate_stats(
    prefix: str, cand: Candidate, transport_id: str, ts: float, kind: str
) -> dict[str, Any]:
    return {
        "id": f"{prefix}{cand.foundation}_{cand.host}_{cand.port}_{cand.transport}",
        "type": kind,
        "timestamp": ts,
        "transportId": transport_id,
        "address": cand.host,
        "port": cand.port,
        "protocol": cand.transport,
        "candidateType": cand.type,
        "priority": cand.priority,
        "foundation": cand.foundation,
        "relatedAddress": cand.related_address,
        "relatedPort": cand.related_port,
        "tcpType": cand.tcptype,
    }


def collect_stats(pc: RTCPeerConnection) -> dict[str, dict[str, Any]]:
    ts = time.time() * 1000.0
    report: dict[str, dict[str, Any]] = {}
    channels = list(pc._chans.channels.values())
    report["P"] = {
        "id": "P",
        "type": "peer-connection",
        "timestamp": ts,
        "dataChannelsOpened": pc._chans.opened,
        "dataChannelsClosed": pc._chans.closed,
    }
    cert = pc._certificate
    fp = cert.getFingerprints()[0]
    cert_id = "CF" + fp["value"].upper()
    report[cert_id] = {
        "id": cert_id,
        "type": "certificate",
        "timestamp": ts,
        "fingerprint": fp["value"].upper(),
        "fingerprintAlgorithm": fp["algorithm"],
        "base64Certificate": base64.b64encode(cert.der).decode("ascii"),
    }
    conn = pc._conn
    ice = pc._ice
    transport_id = "T01"
    if ice is not None and conn is not None:
        agent = ice.agent
        pair = agent.selected_pair
        transport: dict[str, Any] = {
            "id": transport_id,
            "type": "transport",
            "timestamp": ts,
            "bytesSent": conn.bytes_sent,
            "bytesReceived": conn.bytes_received,
            "packetsSent": conn.packets_sent,
            "packetsReceived": conn.packets_received,
            "dtlsState": conn.dtls_state,
            "iceState": ice.state.value,
            "iceRole": ice.role,
            "iceLocalUsernameFragment": ice.local_ufrag,
            "localCertificateId": cert_id,
            "selectedCandidatePairChanges": 0,
        }
        if conn.dtls_role is not None:
            transport["dtlsRole"] = conn.dtls_role
        if conn.remote_fingerprints:
            alg, value = conn.remote_fingerprints[0]
            rid = "CF" + value
            transport["remoteCertificateId"] = rid
            report[rid] = {
                "id": rid,
                "type": "certificate",
                "timestamp": ts,
                "fingerprint": value,
                "fingerprintAlgorithm": alg,
                "base64Certificate": "",
            }
        for cand in ice.local_candidates:
            st = _candidate_stats("I", cand, transport_id, ts, "local-candidate")
            st["usernameFragment"] = ice.local_ufrag
            report[st["id"]] = st
        for cand in agent.remote_candidates:
            st = _candidate_stats("I", cand, transport_id, ts, "remote-candidate")
            report[st["id"]] = st
        if pair is not None:
            local = _candidate_stats("I", pair.local, transport_id, ts, "local-candidate")
            remote = _candidate_stats("I", pair.remote, transport_id, ts, "remote-candidate")
            report.setdefault(local["id"], local)
            report.setdefault(remote["id"], remote)
            pair_id = f"CP{local['id']}_{remote['id']}"
            transport["selectedCandidatePairId"] = pair_id
            transport["selectedCandidatePairChanges"] = 1
            report[pair_id] = {
                "id": pair_id,
                "type": "candidate-pair",
                "timestamp": ts,
                "transportId": transport_id,
                "localCandidateId": local["id"],
                "remoteCandidateId": remote["id"],
                "state": "succeeded",
                "nominated": bool(getattr(pair, "nominated", True)),
                "bytesSent": conn.bytes_sent,
                "bytesReceived": conn.bytes_received,
                "packetsSent": conn.packets_sent,
                "packetsReceived": conn.packets_received,
            }
        report[transport_id] = transport
    for channel in channels:
        sid = f"D{channel.id}"
        report[sid] = {
            "id": sid,
            "type": "data-channel",
            "timestamp": ts,
            "label": channel.label,
            "protocol": channel.protocol,
            "dataChannelIdentifier": channel.id,
            "state": channel.readyState,
            "messagesSent": channel._messages_sent,
            "bytesSent": channel._bytes_sent,
            "messagesReceived": channel._messages_received,
            "bytesReceived": channel._bytes_received,
        }
    return report
