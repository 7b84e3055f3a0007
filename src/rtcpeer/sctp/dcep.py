"""Data Channel Establishment Protocol codec (RFC 8832) and WebRTC PPIDs (RFC 8831 section 8).

- RFC 8832 section 5.1: DATA_CHANNEL_OPEN (message type 0x03) with channel type, priority,
  reliability parameter, label and protocol;
- RFC 8832 section 5.2: DATA_CHANNEL_ACK (message type 0x02);
- RFC 8832 section 8.2.1 channel types and RFC 8831 section 8 PPIDs, including the deprecated
  partial PPIDs 52 and 54 which are still accepted on receive.

Parsing raises only :class:`rtcpeer.sctp.chunks.ParseError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from rtcpeer.sctp.chunks import ParseError

__all__ = [
    "PPID_BINARY",
    "PPID_BINARY_EMPTY",
    "PPID_BINARY_PARTIAL",
    "PPID_DCEP",
    "PPID_STRING",
    "PPID_STRING_EMPTY",
    "PPID_STRING_PARTIAL",
    "ChannelType",
    "DataChannelAck",
    "DataChannelOpen",
    "Priority",
    "parse_dcep",
]

PPID_DCEP = 50
PPID_STRING = 51
PPID_BINARY_PARTIAL = 52  # deprecated (RFC 8831 section 8)
PPID_BINARY = 53
PPID_STRING_PARTIAL = 54  # deprecated
PPID_STRING_EMPTY = 56
PPID_BINARY_EMPTY = 57

MSG_ACK = 0x02
MSG_OPEN = 0x03

_OPEN = struct.Struct("!BBHIHH")


class ChannelType(IntEnum):
    """RFC 8832 section 5.1; the 0x80 bit means unordered."""

    RELIABLE = 0x00
    RELIABLE_UNORDERED = 0x80
    PARTIAL_RELIABLE_REXMIT = 0x01
    PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81
    PARTIAL_RELIABLE_TIMED = 0x02
    PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82


class Priority(IntEnum):
    """RFC 8832 section 5.1 / W3C RTCPriorityType mapping."""

    VERY_LOW = 128
    LOW = 256
    MEDIUM = 512
    HIGH = 1024


@dataclass(frozen=True, slots=True)
class DataChannelOpen:
    channel_type: int
    priority: int
    reliability: int
    label: str
    protocol: str

    @property
    def ordered(self) -> bool:
        return not self.channel_type & 0x80

    @property
    def max_retransmits(self) -> int | None:
        return self.reliability if self.channel_type & 0x7F == 0x01 else None

    @property
    def max_packet_life_time(self) -> int | None:
        """Milliseconds, as in the W3C API."""
        return self.reliability if self.channel_type & 0x7F == 0x02 else None

    @classmethod
    def for_channel(
        cls,
        label: str,
        protocol: str = "",
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_life_time: int | None = None,
        priority: int = Priority.LOW,
    ) -> DataChannelOpen:
        if max_retransmits is not None and max_packet_life_time is not None:
            raise ValueError("max_retransmits and max_packet_life_time are mutually exclusive")
        if max_retransmits is not None:
            ctype, rel = 0x01, max_retransmits
        elif max_packet_life_time is not None:
            ctype, rel = 0x02, max_packet_life_time
        else:
            ctype, rel = 0x00, 0
        if not ordered:
            ctype |= 0x80
        return cls(ctype, priority, rel & 0xFFFFFFFF, label, protocol)

    def encode(self) -> bytes:
        label = self.label.encode("utf-8")
        protocol = self.protocol.encode("utf-8")
        if len(label) > 0xFFFF or len(protocol) > 0xFFFF:
            raise ValueError("label and protocol must each encode to at most 65535 bytes")
        return (
            _OPEN.pack(
                MSG_OPEN,
                self.channel_type,
                self.priority,
                self.reliability,
                len(label),
                len(protocol),
            )
            + label
            + protocol
        )

    @classmethod
    def decode(cls, data: bytes) -> DataChannelOpen:
        if len(data) < _OPEN.size:
            raise ParseError("DATA_CHANNEL_OPEN shorter than 12 bytes")
        mtype, ctype, prio, rel, llen, plen = _OPEN.unpack_from(data)
        if mtype != MSG_OPEN:
            raise ParseError(f"not a DATA_CHANNEL_OPEN (type {mtype})")
        if ctype not in ChannelType._value2member_map_:
            raise ParseError(f"unknown channel type 0x{ctype:02x}")
        if _OPEN.size + llen + plen != len(data):
            raise ParseError("DATA_CHANNEL_OPEN label/protocol lengths do not match the message")
        try:
            label = bytes(data[12 : 12 + llen]).decode("utf-8")
            protocol = bytes(data[12 + llen : 12 + llen + plen]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"DATA_CHANNEL_OPEN label/protocol is not UTF-8: {exc}") from exc
        return cls(ctype, prio, rel, label, protocol)


@dataclass(frozen=True, slots=True)
class DataChannelAck:
    def encode(self) -> bytes:
        return bytes([MSG_ACK])


def parse_dcep(data: bytes) -> DataChannelOpen | DataChannelAck:
    """Decode a PPID 50 message."""
    if not data:
        raise ParseError("empty DCEP message")
    if data[0] == MSG_OPEN:
        return DataChannelOpen.decode(data)
    if data[0] == MSG_ACK:
        if len(data) != 1:
            raise ParseError("DATA_CHANNEL_ACK must be 1 byte")
        return DataChannelAck()
    raise ParseError(f"unknown DCEP message type 0x{data[0]:02x}")
