"""getStats() for media: inbound-rtp, outbound-rtp and codec (W3C webrtc-stats 8.1/8.3/8.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtcpeer.media.pipeline import RtpMediaReceiver, RtpMediaSender
    from rtcpeer.pc.transceivers import RTCRtpTransceiver
    from rtcpeer.rtp.codecs import RtpCodec

__all__ = ["rtp_stats"]

TRANSPORT_ID = "T01"  # the one (bundled) transport of rtcpeer.pc.stats


def _codec_stats(cid: str, codec: RtpCodec, report: dict[str, dict[str, Any]], ts: float) -> str:
    """webrtc-stats 8.1 RTCCodecStats for ``codec`` under id ``cid`` (once per report)."""
    if cid not in report:
        entry: dict[str, Any] = {
            "id": cid,
            "type": "codec",
            "timestamp": ts,
            "transportId": TRANSPORT_ID,
            "payloadType": codec.payload_type,
            "mimeType": codec.mime_type,
            "clockRate": codec.clock_rate,
        }
        if codec.kind == "audio":
            entry["channels"] = codec.channels
        if codec.fmtp is not None:
            entry["sdpFmtpLine"] = codec.fmtp.split(" ", 1)[-1]
        report[cid] = entry
    return cid


def rtp_stats(
    t: RTCRtpTransceiver,
    sender: RtpMediaSender | None,
    receiver: RtpMediaReceiver | None,
    report: dict[str, dict[str, Any]],
    ts: float,
) -> None:
    """Add the transceiver's inbound-rtp / outbound-rtp entries to ``report``."""
    letter = t.kind[0].upper()
    if receiver is not None:
        core = receiver.core
        sid = f"IT{t.mid}{letter}"
        entry: dict[str, Any] = {
            "id": sid,
            "type": "inbound-rtp",
            "timestamp": ts,
            "kind": t.kind,
            "mid": t.mid,
            "ssrc": core.ssrc,
            "trackIdentifier": t.receiver.track.id,
            "codecId": _codec_stats(f"CI{core.codec.payload_type}", core.codec, report, ts),
            "transportId": TRANSPORT_ID,
            "packetsReceived": core.packets_received,
            "retransmittedPacketsReceived": core.rtx_received,
            "nackCount": core.jitter_buffer.nacks_sent,
            "pliCount": core.plis_sent,
        }
        received = core.stats()  # RTCReceivedRtpStreamStats: RFC 3550 loss and jitter
        for key in ("bytesReceived", "packetsLost", "jitter"):
            entry[key] = received[key]
        if t.kind == "video":
            entry["framesReceived"] = core.frames_received
            entry["framesDecoded"] = receiver.frames_decoded
            entry["framesDropped"] = core.frames_dropped
        else:
            entry["audioFramesDecoded"] = receiver.frames_decoded
        report[sid] = entry
    if sender is not None:
        score = sender.core
        sid = f"OT{t.mid}{letter}"
        out: dict[str, Any] = {
            "id": sid,
            "type": "outbound-rtp",
            "timestamp": ts,
            "kind": t.kind,
            "mid": t.mid,
            "ssrc": score.ssrc,
            "codecId": _codec_stats(f"CO{score.codec.payload_type}", score.codec, report, ts),
            "transportId": TRANSPORT_ID,
            "packetsSent": score.packets_sent,
            "bytesSent": score.octets_sent,
            "nackCount": score.nacks_received,
            "pliCount": score.keyframe_requests,
            "retransmittedPacketsSent": score.history.retransmitted,
            "targetBitrate": score.bwe.target_bitrate,
        }
        if t.kind == "video":
            out["framesEncoded"] = sender.frames_encoded
        if score.rtt is not None:
            out["roundTripTime"] = score.rtt
        report[sid] = out
