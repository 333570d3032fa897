#!/usr/bin/python3
"""Independent recomputation of the BEP 44 item-channel vectors
(docs/PROTOCOL.md, "BEP 44 mutable items"): the server's ed25519 identity
from its X25519 keys, the per-client per-window blinding, the blinded
signature of a BEP 44 item holding the config message, and the item's DHT
target. Edwards arithmetic is written out here in plain Python integers (RFC
8032 section 5.1), not taken from libsodium; PyNaCl checks the signature like
any ed25519 signature. Then checks that every value is printed in
docs/PROTOCOL.md and embedded in tests/unit/test_itemkey.c, so the C code and
this script check the same numbers. `--print` shows the values."""
import hashlib
import json
import os
import struct
import sys

from nacl.bindings import (
    crypto_box_afternm,
    crypto_box_beforenm,
    crypto_scalarmult,
    crypto_scalarmult_base,

)
from nacl.signing import VerifyKey

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def H(label, *parts):
    lab = label.encode("ascii")
    h = hashlib.sha256(bytes([len(lab)]) + lab)
    for p in parts:
        h.update(p)
    return h.digest()


def u64(v):
    return struct.pack(">Q", v)


# ---- Edwards25519, extended coordinates (RFC 8032, 5.1.4) ----

def pt_add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def pt_mul(k, p):
    q = (0, 1, 1, 0)
    while k:
        if k & 1:
            q = pt_add(q, p)
        p = pt_add(p, p)
        k >>= 1
    return q


def pt_encode(p):
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def recover_x(y, sign):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    assert (x * x - x2) % P == 0, "not on the curve"
    if x & 1 != sign:
        x = P - x
    return x


def pt_decode(b):
    v = int.from_bytes(b, "little")
    y, sign = v & ((1 << 255) - 1), v >> 255
    assert y < P
    x = recover_x(y, sign)
    return (x, y, 1, x * y % P)


BY = 4 * pow(5, P - 2, P) % P
B = (recover_x(BY, 0), BY, 1, recover_x(BY, 0) * BY % P)


def scalar(b):
    return int.from_bytes(b, "little") % L


def sc_bytes(v):
    return int.to_bytes(v % L, 32, "little")


# ---- the item channel (docs/PROTOCOL.md, "BEP 44 mutable items") ----

def identity_public(x25519_pub):
    """A: the Edwards y of u, y = (u - 1) / (u + 1), sign bit 0."""
    u = int.from_bytes(x25519_pub, "little") & ((1 << 255) - 1)
    y = (u - 1) * pow(u + 1, P - 2, P) % P
    return int.to_bytes(y, 32, "little")


def identity_private(x25519_priv):
    k = bytearray(x25519_priv)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    a = int.from_bytes(bytes(k), "little") % L
    A = pt_encode(pt_mul(a, B))
    if A[31] & 0x80:
        a = (L - a) % L
        A = pt_encode(pt_mul(a, B))
    return a, A


LABELS = {"config": "mt6d/1 item blind", "message": "mt6d/1 item message blind"}


def blind_factor(A, s, T, kind="config"):
    wide = H(LABELS[kind], b"\x00", A, s, u64(T)) + H(LABELS[kind], b"\x01", A, s, u64(T))
    return int.from_bytes(wide, "little") % L


def blind_public(server_pub, s, T, kind="config"):
    A = identity_public(server_pub)
    return pt_encode(pt_mul(blind_factor(A, s, T, kind), pt_decode(A)))


def blind_secret(server_priv, s, T):
    a, A = identity_private(server_priv)
    h = blind_factor(A, s, T)
    ap = h * a % L
    prefix = H("mt6d/1 item nonce", sc_bytes(a), sc_bytes(h))
    return ap, prefix, pt_encode(pt_mul(ap, B))


def sign(ap, prefix, pub, msg):
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % L
    R = pt_encode(pt_mul(r, B))
    k = int.from_bytes(hashlib.sha512(R + pub + msg).digest(), "little") % L
    return R + sc_bytes(r + k * ap)


def bep44_signed(seq, v_benc, salt=b""):
    """What BEP 44 signs: [4:salt<len>:<salt>]3:seqi<seq>e1:v<bencoded v>."""
    pre = b"4:salt%d:" % len(salt) + salt if salt else b""
    return pre + b"3:seqi%de1:v" % seq + v_benc


def config_seal(server_priv, client_pub, plain, T, epoch, r):
    key = crypto_box_beforenm(client_pub, server_priv)
    nonce = H("mt6d/1 config-nonce", b"\x01", u64(T), bytes([epoch]), r)[:24]
    return b"\x01" + r + crypto_box_afternm(plain, nonce, key)


def compute():
    vin = json.load(open(os.path.join(HERE, "vectors.json")))["inputs"]
    s_priv = bytes.fromhex(vin["server_private_key"])
    c_priv = bytes.fromhex(vin["client_private_key"])
    s_pub, c_pub = crypto_scalarmult_base(s_priv), crypto_scalarmult_base(c_priv)
    shared = crypto_scalarmult(c_priv, s_pub)
    assert shared == crypto_scalarmult(s_priv, c_pub)
    t = vin["windows"][0]["time"]
    T = t - t % 900
    out = {"window_start": T}
    a, A = identity_private(s_priv)
    assert A == identity_public(s_pub), "identity: private and public sides differ"
    out["identity_public"] = A.hex()
    h = blind_factor(A, shared, T)
    out["blind_factor"] = sc_bytes(h).hex()
    ap, prefix, pub = blind_secret(s_priv, shared, T)
    assert pub == blind_public(s_pub, shared, T), "blinding: the two sides differ"
    out["blinded_scalar"] = sc_bytes(ap).hex()
    out["nonce_prefix"] = prefix.hex()
    out["blinded_public"] = pub.hex()
    out["item_target"] = hashlib.sha1(pub).hexdigest()
    out["next_window_blinded_public"] = blind_public(s_pub, shared, T + 900).hex()
    out["message_blinded_public"] = blind_public(s_pub, shared, T, "message").hex()
    seed = bytes.fromhex("20010db8000500010000000000005eed")
    plain = seed + bytes.fromhex(vin["intro_key"]) + (3000).to_bytes(3, "big") + \
        (900).to_bytes(3, "big")
    sealed = config_seal(s_priv, c_pub, plain, T, 0, bytes.fromhex(vin["config_random"]))
    v_benc = b"%d:" % len(sealed) + sealed
    msg = bep44_signed(0, v_benc)
    out["item_signed_message"] = msg.hex()
    sig = sign(ap, prefix, pub, msg)
    VerifyKey(pub).verify(msg, sig)
    out["item_signature"] = sig.hex()
    return out


def main():
    out = compute()
    if "--print" in sys.argv:
        for k, v in out.items():
            print(k, v)
        return 0
    doc = open(os.path.join(TOP, "docs", "PROTOCOL.md")).read().replace("\n", "")
    ctest = open(os.path.join(TOP, "tests", "unit", "test_itemkey.c")).read()
    ctest = "".join(ctest.split('"\n\t\t"')).replace('"\n\t"', "")
    bad = 0
    for k, v in out.items():
        v = str(v)
        for name, text in (("docs/PROTOCOL.md", doc), ("test_itemkey.c", ctest)):
            if v not in text.replace(" ", ""):
                print(f"{k}: {v} not found in {name}")
                bad += 1
    print(f"check_items: {len(out)} values, {bad} missing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
