#!/usr/bin/python3
"""Independent recomputation of the derivation and rendezvous test vectors
(tests/vectors/vectors.json, printed in docs/PROTOCOL.md, "Test vectors") with
hashlib and PyNaCl only, from the definitions in the document, not from the C
code. Then checks that:

  - every expected value of vectors.json is printed in docs/PROTOCOL.md;
  - every expected value is embedded in the C unit tests that check it
    (tests/unit/test_keys.c, test_derive.c, test_rendezvous.c), so the C
    implementation and this script check the same numbers;
  - the built CLI (`$MT6D_BUILD/mt6d derive ...`, default build/) prints the
    same descriptor, client IID, addresses and ports.

Run with /usr/bin/python3 (Debian's python3-nacl). `--write` recomputes the
expected values into vectors.json (only when the inputs or the protocol
change, and then the C tests and the document must be updated too)."""
import base64
import hashlib
import ipaddress
import json
import os
import re
import stat
import struct
import subprocess
import sys
import tempfile

from nacl.bindings import (
    crypto_box_afternm,
    crypto_box_beforenm,
    crypto_box_open_afternm,
    crypto_scalarmult,
    crypto_scalarmult_base,
)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(HERE, "vectors.json")
VERSION = 1
CHUNK_MAX_PORTS = 25


def H(label, *parts):
    """H_L(x...) = SHA-256(u8(len L) || L || x...)."""
    lab = label.encode("ascii")
    h = hashlib.sha256(bytes([len(lab)]) + lab)
    for p in parts:
        h.update(p)
    return h.digest()


def u8(v):
    return bytes([v])


def u24(v):
    return v.to_bytes(3, "big")


def u64(v):
    return struct.pack(">Q", v)


def seq(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


def addr(text):
    return ipaddress.IPv6Address(text).packed


def addr_text(b):
    return str(ipaddress.IPv6Address(b))


# ---- derivations (docs/PROTOCOL.md, "Derivations") ----

def iid_is_reserved(iid):
    if iid == bytes(8) or iid == b"\xff" * 8:
        return True
    if iid[:7] == bytes([0xFD]) + b"\xff" * 6 and iid[7] >= 0x80:
        return True
    return iid[:5] == bytes([0x02, 0x00, 0x5E, 0xFF, 0xFE])


def pick_iid(h):
    if not iid_is_reserved(h[:8]):
        return h[:8]
    if not iid_is_reserved(h[8:16]):
        return h[8:16]
    return bytes(7) + b"\x01"


def window_start(t_s, period_s):
    return 0 if t_s <= 0 else t_s - t_s % period_s


def descriptor(s, T):
    return H("mt6d/1 descriptor", s, u64(T))[:20]


def client_iid(s, key):
    return pick_iid(H("mt6d/1 client-iid", s, key))


def slot_endpoint(seed, key, slot):
    h = H("mt6d/1 slot", seed[8:], key, u64(slot))
    port = 1024 + int.from_bytes(h[16:18], "big") % (65536 - 1024)
    return seed[:8] + pick_iid(h), port


# ---- rendezvous (docs/PROTOCOL.md, "Config message", "Port stuffing") ----

def box_nonce(label, T, epoch, r, sender_pub=b""):
    return H(label, u8(VERSION), u64(T), u8(epoch), sender_pub, r)[:24]


def config_plain(seed, K, rot_ms, period_s):
    return seed + K + u24(rot_ms) + u24(period_s)


def config_seal(server_priv, client_pub, plain, T, epoch, r):
    key = crypto_box_beforenm(client_pub, server_priv)
    nonce = box_nonce("mt6d/1 config-nonce", T, epoch, r)
    return u8(VERSION) + r + crypto_box_afternm(plain, nonce, key)


def config_open(client_priv, server_pub, sealed, T, epoch):
    assert len(sealed) == 63 and sealed[0] == VERSION
    key = crypto_box_beforenm(server_pub, client_priv)
    nonce = box_nonce("mt6d/1 config-nonce", T, epoch, sealed[1:9])
    return crypto_box_open_afternm(sealed[9:], nonce, key)


def message_seal(sender_priv, receiver_pub, plain, T, epoch, r):
    key = crypto_box_beforenm(receiver_pub, sender_priv)
    nonce = box_nonce("mt6d/1 message-nonce", T, epoch, r, crypto_scalarmult_base(sender_priv))
    return u8(VERSION) + r + crypto_box_afternm(plain, nonce, key)


def chunk_lens(n):
    count = (n + CHUNK_MAX_PORTS - 1) // CHUNK_MAX_PORTS
    return [n // count + (1 if j < n % count else 0) for j in range(count)]


def chunk_infohash(d, epoch, j):
    return H("mt6d/1 chunk", d, u8(epoch), u8(j))[:20]


class TestRandom:
    """The vectors' random stream: H_"mt6d/1 test-random"(u64 i), i = 0, 1, ...
    concatenated (docs/PROTOCOL.md, "Test vectors")."""

    def __init__(self):
        self.buf = b""
        self.block = 0

    def take(self, n):
        while len(self.buf) < n:
            self.buf += H("mt6d/1 test-random", u64(self.block))
            self.block += 1
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def below(self, bound):
        limit = 0xFFFFFFFF - (2**32 % bound)
        while True:
            x = int.from_bytes(self.take(4), "big")
            if x <= limit:
                return x % bound


def stuff(msg, rnd):
    """The reference sampling of docs/PROTOCOL.md: a partial Fisher-Yates
    shuffle of 1..255 per chunk, then sorted."""
    chunks, off = [], 0
    for n in chunk_lens(len(msg)):
        pool = list(range(1, 256))
        for i in range(n):
            r = i + rnd.below(255 - i)
            pool[i], pool[r] = pool[r], pool[i]
        highs = sorted(pool[:n])
        chunks.append([(p << 8) | b for p, b in zip(highs, msg[off:off + n])])
        off += n
    return chunks


def unstuff(chunk_ports):
    """The reader's view, for one IP: sort by high byte, read low bytes."""
    out = b""
    for ports in chunk_ports:
        highs = [p >> 8 for p in ports]
        assert all(1 <= h <= 255 for h in highs) and len(set(highs)) == len(highs)
        out += bytes(p & 0xFF for p in sorted(ports))
    return out


# ---- computing every value from the inputs ----

def compute(inp):
    out = {}
    c_priv = bytes.fromhex(inp["client_private_key"])
    s_priv = bytes.fromhex(inp["server_private_key"])
    C = crypto_scalarmult_base(c_priv)
    S = crypto_scalarmult_base(s_priv)
    out["client_public_key"] = C.hex()
    out["server_public_key"] = S.hex()
    out["client_public_key_base64"] = base64.b64encode(C).decode()
    out["server_public_key_base64"] = base64.b64encode(S).decode()
    out["client_private_key_base64"] = base64.b64encode(c_priv).decode()
    fp = H("mt6d/1 fingerprint", C).hex()
    out["client_fingerprint"] = "SHA256:" + ":".join(fp[i:i + 4] for i in range(0, 64, 4))
    s = crypto_scalarmult(c_priv, S)
    assert s == crypto_scalarmult(s_priv, C)
    out["shared_secret"] = s.hex()

    windows = []
    for w in inp["windows"]:
        T = window_start(w["time"], w["period"])
        windows.append({"window_start": T, "descriptor": descriptor(s, T).hex()})
    out["windows"] = windows

    K = bytes.fromhex(inp["intro_key"])
    iid = client_iid(s, K)
    out["client_iid"] = iid.hex()
    client_seed = addr(inp["client_prefix"])[:8] + iid
    out["client_seed_address"] = addr_text(client_seed)

    rot = inp["rotation_ms"]
    slot0 = inp["slot_time_ms"] // rot
    out["first_slot"] = slot0
    for name, seed in (("server_slots", addr(inp["server_seed_address"])),
                       ("client_slots", client_seed)):
        rows = []
        for i in range(inp["slot_count"]):
            a, p = slot_endpoint(seed, K, slot0 + i)
            rows.append({"slot": slot0 + i, "address": addr_text(a), "port": p})
        out[name] = rows

    T = windows[0]["window_start"]
    d = bytes.fromhex(windows[0]["descriptor"])
    epoch = inp["config_epoch"]
    plain = config_plain(addr(inp["server_seed_address"]), K, rot, inp["config_period_s"])
    sealed = config_seal(s_priv, C, plain, T, epoch, bytes.fromhex(inp["config_random"]))
    assert len(sealed) == 63
    assert config_open(c_priv, S, sealed, T, epoch) == plain
    out["config_plaintext"] = plain.hex()
    out["config_sealed"] = sealed.hex()
    out["chunk_infohashes"] = [chunk_infohash(d, epoch, j).hex() for j in range(3)]
    out["next_epoch_chunk_infohashes"] = [chunk_infohash(d, epoch + 1, j).hex() for j in range(3)]
    ports = stuff(sealed, TestRandom())
    assert unstuff(ports) == sealed
    out["config_ports"] = ports

    msg = inp["message_plaintext"].encode("ascii")
    out["message_sealed"] = message_seal(s_priv, C, msg, T, epoch,
                                         bytes.fromhex(inp["message_random"])).hex()
    return out


failures = []


def compare(path, want, got):
    if isinstance(want, dict):
        for k in want:
            compare(f"{path}.{k}", want[k], got.get(k) if isinstance(got, dict) else None)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            failures.append(path)
            print(f"MISMATCH {path}: length")
            return
        for i, (w, g) in enumerate(zip(want, got)):
            compare(f"{path}[{i}]", w, g)
    elif want != got:
        failures.append(path)
        print(f"MISMATCH {path}\n  computed {got}\n  expected {want}")


def leaves(v):
    """Every scalar expected value."""
    if isinstance(v, dict):
        for x in v.values():
            yield from leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from leaves(x)
    else:
        yield str(v)


def forms(exp, where):
    """The text in which each expected value must appear in the document
    (where="doc") or in the C tests (where="c"), whitespace ignored:
    hex and base64 as they are; a slot as "ADDRESS port PORT" in the document
    and as the C initializer {UINT64_C(SLOT), "ADDRESS", PORT}; a chunk's
    ports as "p0, p1, ..." in both."""
    out = []
    for k, v in exp.items():
        if k == "windows":
            for w in v:
                out += [str(w["window_start"]), w["descriptor"]]
        elif k in ("server_slots", "client_slots"):
            for r in v:
                if where == "doc":
                    out.append(f"{r['slot']}")
                    out.append(f"{r['address']} port {r['port']}")
                else:
                    out.append(f'{{UINT64_C({r["slot"]}), "{r["address"]}", {r["port"]}}}')
        elif k == "config_ports":
            out += [", ".join(str(p) for p in chunk) for chunk in v]
        elif isinstance(v, list):
            out += v
        else:
            out.append(str(v))
    return out


def flatten_c(text):
    """C source with adjacent string literals joined and whitespace removed."""
    return re.sub(r"\s+", "", re.sub(r'"\s*"', "", text)).lower()


def check_text(name, flat, values, what):
    missing = [v for v in values if re.sub(r"\s+", "", str(v)).lower() not in flat]
    for v in missing:
        failures.append(f"{what}: {v}")
        print(f"NOT IN {name}: {v}")
    if not missing:
        print(f"ok  {len(values)} values found in {name}")


def run_cli(build, inp, exp):
    mt6d = os.path.join(build, "mt6d")
    if not os.access(mt6d, os.X_OK):
        failures.append(f"no CLI at {mt6d}")
        print(f"NO CLI {mt6d} (build it, or set MT6D_BUILD)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        keyfile = os.path.join(tmp, "client.key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as f:
            f.write(exp["client_private_key_base64"] + "\n")

        def cli(*args):
            r = subprocess.run([mt6d, "derive", *args], capture_output=True, text=True,
                               timeout=30)
            if r.returncode != 0:
                failures.append(f"cli {' '.join(args)}")
                print(f"CLI FAILED {args}: {r.stderr.strip()}")
                return {}
            fields = {}
            for line in r.stdout.splitlines():
                parts = line.split()
                fields.setdefault(parts[0], []).append(parts)
            return fields

        for w, e in zip(inp["windows"], exp["windows"]):
            f = cli("descriptor", "--key", keyfile, "--peer", exp["server_public_key_base64"],
                    "--time", str(w["time"]), "--period", str(w["period"]))
            compare(f"cli.descriptor({w['time']}).window", e["window_start"],
                    int(f["window"][0][1]) if f else None)
            compare(f"cli.descriptor({w['time']}).descriptor", e["descriptor"],
                    f["descriptor"][0][1] if f else None)
        f = cli("client-iid", "--key", keyfile, "--peer", exp["server_public_key_base64"],
                "--intro-key", inp["intro_key"])
        compare("cli.client_iid", exp["client_iid"], f["client-iid"][0][1] if f else None)
        t = inp["slot_time_ms"]
        for name, seed in (("server_slots", inp["server_seed_address"]),
                           ("client_slots", exp["client_seed_address"])):
            f = cli("address", "--seed", seed, "--rotation-key", inp["intro_key"],
                    "--time", f"{t // 1000}.{t % 1000:03d}", "--rotation",
                    f"{inp['rotation_ms']}ms", "--count", str(inp["slot_count"]))
            # "slot N WHEN address A port P"
            got = [{"slot": int(r[1]), "address": r[4], "port": int(r[6])}
                   for r in (f.get("slot", []) if f else [])]
            compare(f"cli.{name}", exp[name], got)
    print("ok  CLI checked" if not any(x.startswith("cli") for x in failures) else "CLI differs")


def main():
    with open(VECTORS, encoding="utf-8") as f:
        vec = json.load(f)
    got = compute(vec["inputs"])
    if "--write" in sys.argv[1:]:
        vec["expected"] = got
        with open(VECTORS, "w", encoding="utf-8") as f:
            json.dump(vec, f, indent=2)
            f.write("\n")
        print(f"wrote {VECTORS}")
        return 0
    exp = vec["expected"]
    compare("expected", exp, got)
    compare("computed", got, exp)  # nothing computed is missing from the file
    if not failures:
        print(f"ok  {len(list(leaves(exp)))} expected values recomputed")

    with open(os.path.join(TOP, "docs", "PROTOCOL.md"), encoding="utf-8") as f:
        doc = re.sub(r"\s+", "", f.read()).lower()
    check_text("docs/PROTOCOL.md", doc, forms(exp, "doc"), "doc")
    ctext = ""
    for n in ("test_keys.c", "test_derive.c", "test_rendezvous.c"):
        with open(os.path.join(TOP, "tests", "unit", n), encoding="utf-8") as f:
            ctext += f.read()
    check_text("tests/unit/test_{keys,derive,rendezvous}.c", flatten_c(ctext), forms(exp, "c"),
               "C")

    run_cli(os.environ.get("MT6D_BUILD", os.path.join(TOP, "build")), vec["inputs"], exp)
    if failures:
        print("FAILED:", ", ".join(failures))
        return 1
    print("derivation and rendezvous vectors: all values agree (Python, JSON, C tests, doc, CLI)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
