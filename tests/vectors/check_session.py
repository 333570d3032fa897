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
    "packet": "010101020304050600000000000000009eb6deee5a2dff9f3070a2be1d57d7a0be149bfbe510cc9d61d5b59a7c03c3db",
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

# ---- tunnel packet: client -> server, first packet of instance 010203040506 ----
packet_key = H("mt6d/1 wire packet key", c2s, instance)
check("packet_key", packet_key)
counter = 0
header = bytes([VERSION, 1]) + instance + struct.pack(">Q", counter)
nonce = bytes(4) + struct.pack(">Q", counter)
ad = header + struct.pack(">Q", slot)
packet = header + crypto_aead_chacha20poly1305_ietf_encrypt(inner, ad, nonce, packet_key)
check("packet", packet)
# The same packet in the next slot must not open.
try:
    crypto_aead_chacha20poly1305_ietf_decrypt(packet[16:], header + struct.pack(">Q", slot + 1),
                                              nonce, packet_key)
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
