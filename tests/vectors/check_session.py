#!/usr/bin/python3
"""Independent recomputation of the session-message and tunnel-packet test
vectors of docs/PROTOCOL.md ("Session messages", "Tunnel packets") with
hashlib and PyNaCl only, from the byte layouts in the document, not from the
C code. Also checks that every expected value appears in the document.

Run with /usr/bin/python3 (Debian's python3-nacl)."""
import hashlib
import ipaddress
import os
import re
import struct
import sys

from nacl.bindings import (
    crypto_aead_chacha20poly1305_ietf_decrypt,
    crypto_aead_chacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
    crypto_scalarmult_base,
)

VERSION = 1


def H(label, *parts):
    """H_L(x...) = SHA-256(u8(len L) || L || x...)."""
    lab = label.encode("ascii")
    h = hashlib.sha256(bytes([len(lab)]) + lab)
    for p in parts:
        h.update(p)
    return h.digest()


def seq(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


def addr(text):
    return ipaddress.IPv6Address(text).packed


# ---- inputs (docs/PROTOCOL.md, "Test vectors: session") ----
c = seq(0x10, 32)          # client static private key
s = seq(0x40, 32)          # server static private key
e_c = seq(0x70, 32)        # client ephemeral private key
e_s = seq(0xA0, 32)        # server ephemeral private key
N_c = seq(0xD0, 16)        # client nonce
td_nonce = seq(0xE0, 24)   # teardown nonce
instance = bytes([1, 2, 3, 4, 5, 6])
psk = seq(0x80, 32)
client_id = 0x00ABCD
timestamp_ms = 1767225600000   # 2026-01-01T00:00:00Z
client_seed = addr("2001:db8:c:1:1122:3344:5566:7788")
client_tunnel = addr("2001:db8:ffff::c1")
server_seed = addr("2001:db8:5:1::5eed")
server_tunnel = addr("2001:db8:ffff::1")
rotation_ms = 3000
slot = timestamp_ms // rotation_ms
inner = b"mt6d wire vector"

# ---- expected outputs ----
EXPECT = {
    "C": "d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66",
    "S": "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a",
    "request": "010000abcd23b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c48233d94262d0442a3cb3ea8edbcaefd0b1707778599e9135a1b8a3c0cf4eed468ae0fe8f60c22d9f905b02d876a9b8218298edf440e00e2c1f0f1470c6258d72e0a1da59ee807c5bd57",
    "response": "0101605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2f805d23c0cd3cb62d7201db48770b560376e4cd902a3cf4dea83d5e923466c329c8f034e288a637b1f99413c496e4395dd462fa9a1386a24eac073718a2fae95f214d9271781f55d5fbcee1e45343f06f4362eefce9a394f",
    "k_req": "0fc7e862b8f95f14131941f5789a884851576de89b684f5a0e8db17b46c98454",
    "k_resp": "cd1d0ec51ccb5820d9c4fc12f2f71c4a3aaa3895d549003ce059bfe021eedaa4",
    "K_s": "f071c847e849074a9ddc8708337a9f00720020419b07d7d8bd257940ce8991d2",
    "c2s": "6328064e69d61300d85a31fbe8719d49bdb70b298a7188b27e0191661d6466c9",
    "s2c": "18510b3cfd45e602a795b59f21418bf0d79fa56e75dccec1fa0531425a98779d",
    "td_c2s": "b97b5c1b6ef698117fc9eff090bfb309eb0bddaf74790f37d518fe3bb23a3914",
    "td_s2c": "fd7ee40d50d161e5609f8f3c839cd01d2289c7af2d6d8c1a97d87f1fd2c24403",
    "teardown": "0102e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f773e6576d74488bdd011d206a0378240d5d",
    "packet_key": "59cc743f10fca011c3b3a0d18533f653f99d2bbafb5088f42dc3995d0be15f5d",
    "header_key": "5eff70a5b44de514bd3055aa6df6bff24b9959dda0fdaf6a9859ef4010899b42",
    "packet": "101978e7c4bd1d2035312ff4d10b6f939eb6deee5a2dff9f3070a2be1d57d7a07e608bc0d4dd40cabc8b6a5b90a6e1d0a0f0d38a9937d68c2ce29561f2b9634f9019f4c7b09cdcb5d33eed880e5a72949b9c5b995a20ace71d8d8e2243ea33c06898ebfaff936b9d",
    "packet_padded": "86a737476b53ad48e191c2b1764183de7967575d70d49b21e414485447098dbf8c9dadc413fa5b40c10d7d0beed4d17cdbaa643afdbdd83dfc474a3c2040efc49c2e2937c49d0630713caa4d4272a89175709c763614878aa75ddb12cbe248051d623682dec871ad85b1f0eaf7bbfcbb1b3d2d2567bf153f9f9905c1c16e6ac2425204be8c1535450cfcbe86d1da93afccdad80c54187c3104a47438b9ba3937",
    "psk_client_to_server": "929b64b495f556c4e479f5f8f9c5ec411345ff83ca807eac2bd4ed93f240e22c",
    "psk_server_to_client": "794d3468f287ac8a2f686655d17b63de32ae8c4dfbe4fb60b2cc810801ff9280",
}

got = {}
failures = []


def check(name, value):
    got[name] = value.hex()
    if value.hex() != EXPECT[name]:
        failures.append(name)
        print(f"MISMATCH {name}\n  computed {value.hex()}\n  expected {EXPECT[name]}")
    else:
        print(f"ok  {name}")


# Static and ephemeral public keys.
C = crypto_scalarmult_base(c)
S = crypto_scalarmult_base(s)
E_c = crypto_scalarmult_base(e_c)
E_s = crypto_scalarmult_base(e_s)
check("C", C)
check("S", S)

# ---- msg 0, request ----
es = crypto_scalarmult(e_c, S)
assert es == crypto_scalarmult(s, E_c)
ss = crypto_scalarmult(c, S)
assert ss == crypto_scalarmult(s, C)
R0 = bytes([VERSION, 0]) + client_id.to_bytes(3, "big") + E_c
k_req = H("mt6d/1 request", es, ss, C, S, R0)
payload = N_c + struct.pack(">Q", timestamp_ms) + client_seed + client_tunnel
zero12 = bytes(12)
request = R0 + crypto_aead_chacha20poly1305_ietf_encrypt(payload, R0, zero12, k_req)
assert len(request) == 109
check("k_req", k_req)
check("request", request)

# ---- msg 1, response ----
ee = crypto_scalarmult(e_c, E_s)
assert ee == crypto_scalarmult(e_s, E_c)
se = crypto_scalarmult(c, E_s)
assert se == crypto_scalarmult(e_s, C)
K_s = H("mt6d/1 session", ee, es, se, ss, C, S, R0, E_s, N_c)
k_resp = H("mt6d/1 response", K_s)
R1 = bytes([VERSION, 1]) + E_s
rpayload = (N_c + rotation_ms.to_bytes(3, "big") + b"\x00" + server_seed + server_tunnel
            + client_tunnel)
response = R1 + crypto_aead_chacha20poly1305_ietf_encrypt(rpayload, R1, zero12, k_resp)
assert len(response) == 118
check("K_s", K_s)
check("k_resp", k_resp)
check("response", response)
# The client side: the response opens and echoes N_c.
opened = crypto_aead_chacha20poly1305_ietf_decrypt(response[34:], response[:34], zero12, k_resp)
assert opened[:16] == N_c

c2s = H("mt6d/1 tunnel c2s", K_s)
s2c = H("mt6d/1 tunnel s2c", K_s)
check("c2s", c2s)
check("s2c", s2c)
td_c2s = H("mt6d/1 teardown c2s", K_s)
check("td_c2s", td_c2s)
check("td_s2c", H("mt6d/1 teardown s2c", K_s))

# ---- msg 2, teardown (client -> server, reason 0) ----
R2 = bytes([VERSION, 2]) + td_nonce
teardown = R2 + crypto_aead_xchacha20poly1305_ietf_encrypt(b"\x00", R2, td_nonce, td_c2s)
assert len(teardown) == 43
check("teardown", teardown)

# ---- tunnel packets: client -> server, instance 010203040506 ----
def rotl32(v, n):
    return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF


def chacha20_block(key, counter, nonce):
    """RFC 8439 section 2.3, written out (PyNaCl has no raw ChaCha20)."""
    const = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    st = const + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))
    x = st[:]

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl32(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl32(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl32(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl32(x[b] ^ x[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<16I", *((x[i] + st[i]) & 0xFFFFFFFF for i in range(16)))


# RFC 8439 2.3.2 test vector, so the block function above is known good.
assert chacha20_block(bytes(range(32)), 1, bytes.fromhex("000000090000004a00000000"))[:16].hex() \
    == "10f1e7e4d13b5915500fdd1fa32071c4"


def header_mask(hp_key, tag):
    """docs/PROTOCOL.md 9: ChaCha20 block, counter = le32(tag[0..3]), nonce = tag[4..15]."""
    return chacha20_block(hp_key, struct.unpack("<I", tag[:4])[0], tag[4:16])[:16]


def seal(key, hp_key, slot, counter, inner, bucket):
    plain_len = max(len(inner), 72)
    if bucket:
        plain_len = -(-plain_len // bucket) * bucket
    if plain_len > 1420:
        plain_len = max(len(inner), 1420)
    pad = plain_len - len(inner)
    header = bytes([1]) + struct.pack(">H", pad) + instance + struct.pack(">Q", counter)[1:]
    nonce = bytes(5) + header[9:16]
    ct = crypto_aead_chacha20poly1305_ietf_encrypt(inner + bytes(pad), header + struct.pack(">Q", slot),
                                                   nonce, key)
    mask = header_mask(hp_key, ct[-16:])
    return bytes(h ^ m for h, m in zip(header, mask)) + ct


def open_packet(key, hp_key, slot, dgram):
    mask = header_mask(hp_key, dgram[-16:])
    header = bytes(h ^ m for h, m in zip(dgram[:16], mask))
    assert header[0] == 1
    pad = struct.unpack(">H", header[1:3])[0]
    plain = crypto_aead_chacha20poly1305_ietf_decrypt(dgram[16:], header + struct.pack(">Q", slot),
                                                      bytes(5) + header[9:16], key)
    return header, plain[:len(plain) - pad]


packet_key = H("mt6d/1 wire packet key", c2s, instance)
check("packet_key", packet_key)
hp_key = H("mt6d/1 wire header key", c2s)
check("header_key", hp_key)
packet = seal(packet_key, hp_key, slot, 0, inner, 0)
check("packet", packet)
assert len(packet) == 72 + 32
header, opened = open_packet(packet_key, hp_key, slot, packet)
assert opened == inner and header.hex() == "01003801020304050600000000000000"
padded = seal(packet_key, hp_key, slot, 1, inner, 128)
check("packet_padded", padded)
assert len(padded) == 128 + 32 and open_packet(packet_key, hp_key, slot, padded)[1] == inner
# The same packet in the next slot must not open.
try:
    open_packet(packet_key, hp_key, slot + 1, packet)
    failures.append("packet opened in another slot")
except Exception:
    pass

# ---- direction keys from a pre-shared key (peer-to-peer mode) ----
check("psk_client_to_server", H("mt6d/1 wire direction", psk, client_seed, server_seed))
check("psk_server_to_client", H("mt6d/1 wire direction", psk, server_seed, client_seed))

# ---- the document carries the same values ----
top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
docs = [os.path.join(top, "docs", "PROTOCOL.md")]
text = ""
for d in docs:
    if os.path.exists(d):
        with open(d, encoding="utf-8") as f:
            text += f.read()
flat = re.sub(r"\s+", "", text).lower()
if not flat:
    failures.append("no docs/PROTOCOL.md")
for name, value in EXPECT.items():
    if value not in flat:
        failures.append(f"{name} missing from the protocol document")
        print(f"NOT IN DOC {name}")

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print(f"session vectors: {len(EXPECT)} values recomputed and found in the document")
