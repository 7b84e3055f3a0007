"""RFC 5769 test vectors and RFC 8489 Appendix B.1 (with errata 6268), byte for byte."""

from __future__ import annotations

from rtcpeer.stun import (
    Attr,
    MessageClass,
    Method,
    PasswordAlgorithm,
    StunMessage,
    long_term_key,
    parse,
    saslprep,
    userhash,
)


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


TID = h("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SHORT_TERM = b"VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 section 2.1 (padding after SOFTWARE-less USERNAME is 0x20 in the RFC on purpose).
REQUEST = h("""
00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
00 24 00 04 6e 00 01 ff
80 29 00 08 93 2f f9 b1 51 26 3b 36
00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
80 28 00 04 e5 7a 3b cf
""")

# Section 2.2.
IPV4_RESPONSE = h("""
01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 08 00 01 a1 47 e1 12 a6 43
00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
80 28 00 04 c0 7d 4c 96
""")

# Section 2.3.
IPV6_RESPONSE = h("""
01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
80 28 00 04 c8 fb 0b 4c
""")

# Section 2.4: long-term credentials.
LONG_TERM = h("""
00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
""")

# RFC 8489 Appendix B.1 as corrected by errata 6268: USERHASH, MESSAGE-INTEGRITY-SHA256.
SHA256_REQUEST = h("""
00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f
            24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04
00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f
            34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39
            46 53 54 76 79 36 34 73 41 00 00 00
00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
00 1d 00 04 00 02 00 00
00 1c 00 20 b5 c7 bf 00 5b 6c 52 a2 1c 51 c5 e8 92 f8 19 24
            13 62 96 cb 92 7c 43 14 93 09 27 8c c6 51 8e 65
""")

USERNAME = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"  # "matrix" in katakana


def test_sample_request() -> None:
    msg = parse(REQUEST)
    assert msg.method is Method.BINDING
    assert msg.message_class is MessageClass.REQUEST
    assert msg.transaction_id == TID
    assert msg.get(Attr.SOFTWARE) == "STUN test client"
    assert msg.get(Attr.PRIORITY) == 0x6E0001FF
    assert msg.get(Attr.ICE_CONTROLLED) == 0x932FF9B151263B36
    assert msg.get(Attr.USERNAME) == "evtj:h6vY"
    assert msg.get(Attr.FINGERPRINT) == 0xE57A3BCF
    assert msg.attribute_types == [
        Attr.SOFTWARE,
        Attr.PRIORITY,
        Attr.ICE_CONTROLLED,
        Attr.USERNAME,
        Attr.MESSAGE_INTEGRITY,
        Attr.FINGERPRINT,
    ]
    assert msg.check_integrity(SHORT_TERM)
    assert not msg.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBT")
    # Re-encoding keeps the sender's padding, so MI and FINGERPRINT come out identical.
    assert msg.encode(integrity_key=SHORT_TERM, fingerprint=True) == REQUEST


def test_sample_request_built_from_scratch() -> None:
    msg = StunMessage(Method.BINDING, MessageClass.REQUEST, TID)
    msg.add(Attr.SOFTWARE, "STUN test client")
    msg.add(Attr.PRIORITY, 0x6E0001FF)
    msg.add(Attr.ICE_CONTROLLED, 0x932FF9B151263B36)
    msg.add(Attr.USERNAME, "evtj:h6vY")
    data = msg.encode(integrity_key=SHORT_TERM, fingerprint=True)
    # Identical except for the USERNAME padding (zeros from us, spaces in the RFC), which
    # changes MI and FINGERPRINT; the values up to the padding match exactly.
    assert data[:73] == REQUEST[:73]
    assert data[73:76] == b"\x00\x00\x00"
    assert parse(data).check_integrity(SHORT_TERM)


def test_ipv4_response() -> None:
    msg = parse(IPV4_RESPONSE)
    assert msg.method is Method.BINDING
    assert msg.message_class is MessageClass.SUCCESS
    assert msg.get(Attr.SOFTWARE) == "test vector"
    assert msg.get(Attr.XOR_MAPPED_ADDRESS) == ("192.0.2.1", 32853)
    assert msg.check_integrity(SHORT_TERM)
    assert msg.encode(integrity_key=SHORT_TERM, fingerprint=True) == IPV4_RESPONSE
    built = StunMessage(Method.BINDING, MessageClass.SUCCESS, TID)
    built.add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853))
    assert built.encode()[20:] == IPV4_RESPONSE[36:48]


def test_ipv6_response() -> None:
    msg = parse(IPV6_RESPONSE)
    assert msg.get(Attr.XOR_MAPPED_ADDRESS) == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)
    assert msg.check_integrity(SHORT_TERM)
    assert msg.encode(integrity_key=SHORT_TERM, fingerprint=True) == IPV6_RESPONSE
    built = StunMessage(Method.BINDING, MessageClass.SUCCESS, TID)
    built.add(Attr.XOR_MAPPED_ADDRESS, ("2001:db8:1234:5678:11:2233:4455:6677", 32853))
    assert built.encode()[20:] == IPV6_RESPONSE[36:60]


def test_long_term_request() -> None:
    msg = parse(LONG_TERM)
    assert msg.get(Attr.USERNAME) == USERNAME
    assert msg.get(Attr.NONCE) == "f//499k954d6OL34oL9FSTvy64sA"
    assert msg.get(Attr.REALM) == "example.org"
    assert not msg.has(Attr.FINGERPRINT)
    key = long_term_key(USERNAME, "example.org", "TheMatrIX")
    # The RFC gives the password before SASLprep as "TheM\u00aatr\u2168".
    assert saslprep("TheM\u00aatr\u2168") == "TheMatrIX"
    assert long_term_key(USERNAME, "example.org", "TheM\u00aatr\u2168") == key
    assert msg.check_integrity(key)
    assert not msg.check_integrity(long_term_key(USERNAME, "example.org", "thematrix"))
    built = StunMessage(Method.BINDING, MessageClass.REQUEST, msg.transaction_id)
    built.add(Attr.USERNAME, USERNAME)
    built.add(Attr.NONCE, "f//499k954d6OL34oL9FSTvy64sA")
    built.add(Attr.REALM, "example.org")
    assert built.encode(integrity_key=key) == LONG_TERM


def test_rfc8489_sha256_userhash_request() -> None:
    msg = parse(SHA256_REQUEST)
    assert msg.get(Attr.USERHASH) == userhash(USERNAME, "example.org")
    assert msg.get(Attr.NONCE) == "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"
    assert msg.get(Attr.REALM) == "example.org"
    assert msg.get(Attr.PASSWORD_ALGORITHM) == (PasswordAlgorithm.SHA256, b"")
    key = long_term_key(USERNAME, "example.org", "TheMatrIX", PasswordAlgorithm.SHA256)
    assert msg.check_integrity(key)
    assert not msg.check_integrity(long_term_key(USERNAME, "example.org", "TheMatrIX"))
    built = StunMessage(Method.BINDING, MessageClass.REQUEST, msg.transaction_id)
    built.add(Attr.USERHASH, userhash(USERNAME, "example.org"))
    built.add(Attr.NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
    built.add(Attr.REALM, "example.org")
    built.add(Attr.PASSWORD_ALGORITHM, (PasswordAlgorithm.SHA256, b""))
    assert built.encode(integrity_key=key, integrity="sha256") == SHA256_REQUEST
