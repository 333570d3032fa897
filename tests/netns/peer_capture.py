#!/usr/bin/python3
"""Checks a capture taken on the router between two mt6d-peer hosts.

  peer_capture.py PCAP ROT_MS PSK_FILE SEED_A SEED_B TUN_A TUN_B MARKER

Independently of the C code, recomputes every MT6D endpoint (formula 5
as docs/PROTOCOL.md fixes it: h = SHA-256(u8(len L) || L || IID ||
K || u64be(slot)), L = "mt6d/1 slot", IID' = h[0..7] (h[8..15] if reserved, docs/PROTOCOL.md),
port = 1024 + be16(h[16..17]) % 64512) and checks that:
  - the marker string and the tunnel addresses appear nowhere in the capture;
  - every packet between the hosts is UDP (no TCP or ICMPv6 echo in clear);
  - every UDP packet goes from the sender's endpoint of a slot to the
    receiver's endpoint of the same slot, that slot being the capture time's
    (or a neighbour within 50 ms of a boundary);
  - away from boundaries, each host uses one address per slot;
  - addresses and ports rotate (as many as there were slots);
  - nothing in the first 16 bytes of the datagrams (the protected header,
    docs/PROTOCOL.md section 9) is constant or counts: per sender and byte
    position, no value is much more frequent than chance allows, and
    consecutive datagrams do not hold consecutive numbers (as the
    counter in clear of the old format did).
Exit status 0 when every check holds; prints a summary either way."""
import base64
import collections
import hashlib
import ipaddress
import struct
import sys

LABEL = b"mt6d/1 slot"


def reserved(iid):
    # docs/PROTOCOL.md: all zeros, all ones, reserved subnet anycast
    # (RFC 2526), 0200:5eff:fe00::/40 (RFC 5453)
    return (iid == bytes(8) or iid == b"\xff" * 8
            or (iid[:7] == b"\xfd\xff\xff\xff\xff\xff\xff" and iid[7] >= 0x80)
            or iid[:5] == b"\x02\x00\x5e\xff\xfe")


def endpoint(seed, key, slot):
    h = hashlib.sha256(bytes([len(LABEL)]) + LABEL + seed[8:] + key + struct.pack(">Q", slot)).digest()
    iid = h[0:8]
    if reserved(iid):
        iid = h[8:16] if not reserved(h[8:16]) else bytes(7) + b"\x01"
    return seed[:8] + iid, 1024 + struct.unpack(">H", h[16:18])[0] % 64512


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), "not a little-endian pcap"
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack("<I", data[20:24])[0]
    assert linktype == 1, "expected Ethernet"
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        yield sec + frac / (1e9 if nano else 1e6), frame
    return


def header_fails(headers):
    """Byte values per position: the most frequent within 6 standard
    deviations of a uniform byte's count (a constant or a version byte is
    n); no sliding run of consecutive integers in any 2..8-byte field."""
    fails = []
    for host, hs in sorted(headers.items()):
        n = len(hs)
        if n < 256:
            continue
        mean = n / 256.0
        for pos in range(16):
            top = collections.Counter(h[pos] for h in hs).most_common(1)[0][1]
            if top > mean + 6 * mean ** 0.5 + 5:
                fails.append("host %s: header byte %d takes one value in %d of %d datagrams"
                             % (host, pos, top, n))
        for start in range(0, 15):
            for width in range(2, min(8, 16 - start) + 1):
                vals = [int.from_bytes(h[start:start + width], "big") for h in hs]
                steps = sum(1 for a, b in zip(vals, vals[1:]) if 0 < b - a <= 4)
                if steps > 0.05 * n + 5:
                    fails.append("host %s: bytes %d..%d count up in %d of %d datagrams"
                                 % (host, start, start + width - 1, steps, n))
    return fails


def main():
    pcap, rot_ms = sys.argv[1], int(sys.argv[2])
    key = base64.b64decode(open(sys.argv[3]).read().strip())
    seed = {"A": ipaddress.IPv6Address(sys.argv[4]).packed, "B": ipaddress.IPv6Address(sys.argv[5]).packed}
    tun = [ipaddress.IPv6Address(a).packed for a in sys.argv[6:8]]
    marker = sys.argv[8].encode()
    raw = open(pcap, "rb").read()
    fails = []
    if marker in raw:
        fails.append("the marker string is in the capture")
    for t in tun:
        if t in raw:
            fails.append("a tunnel address is in the capture")
    cache = {}

    def ep(host, slot):
        if (host, slot) not in cache:
            cache[(host, slot)] = endpoint(seed[host], key, slot)
        return cache[(host, slot)]

    n_udp = 0
    per_slot = collections.defaultdict(set)
    addrs = collections.defaultdict(set)
    ports = collections.defaultdict(set)
    bad = collections.Counter()
    headers = collections.defaultdict(list)
    seen = set()
    for ts, f in packets(pcap):
        if len(f) < 54 or f[12:14] != b"\x86\xdd":
            continue
        ip = f[14:]
        nh, src, dst = ip[6], ip[8:24], ip[24:40]
        hosts = {}
        for name in ("A", "B"):
            if src[:8] == seed[name][:8]:
                hosts["src"] = name
            if dst[:8] == seed[name][:8]:
                hosts["dst"] = name
        if "src" not in hosts or "dst" not in hosts or hosts["src"] == hosts["dst"]:
            continue  # neighbour discovery with the router, other traffic
        if nh != 17:
            bad["not UDP (next header %d)" % nh] += 1
            continue
        n_udp += 1
        sport, dport = struct.unpack(">HH", ip[40:44])
        ms = ts * 1000.0
        slot = int(ms // rot_ms)
        near = min(ms - slot * rot_ms, (slot + 1) * rot_ms - ms) < 50
        cands = [slot - 1, slot, slot + 1] if near else [slot]
        ok = False
        for s in cands:
            if ep(hosts["src"], s) == (src, sport) and ep(hosts["dst"], s) == (dst, dport):
                ok = True
                break
        if not ok:
            bad["endpoints not those of the slot"] += 1
        payload = ip[48:40 + struct.unpack(">H", ip[4:6])[0]]
        # The router forwards on the bridge it is captured on, so most
        # datagrams are seen twice (in, then out): a header statistic
        # counts each datagram once, or every value counts double and the
        # uniform-byte bound no longer holds.
        if len(payload) >= 32 and payload not in seen:
            seen.add(payload)
            headers[hosts["src"]].append(payload[:16])
        if not near:
            per_slot[(hosts["src"], slot)].add(src)
        addrs[hosts["src"]].add(src)
        ports[hosts["src"]].add(sport)
    for what, n in bad.items():
        fails.append("%d packets: %s" % (n, what))
    multi = [k for k, v in per_slot.items() if len(v) != 1]
    if multi:
        fails.append("%d (host, slot) pairs with more than one source address" % len(multi))
    slots = {s for (_, s) in per_slot}
    for h in ("A", "B"):
        if len(addrs[h]) < 0.9 * len(slots):
            fails.append("host %s: %d addresses over %d slots" % (h, len(addrs[h]), len(slots)))
        if len(ports[h]) < 0.5 * len(slots):
            fails.append("host %s: %d ports over %d slots" % (h, len(ports[h]), len(slots)))
    if n_udp == 0:
        fails.append("no tunnel packet captured")
    fails += header_fails(headers)
    print("capture: %d tunnel datagrams (%d distinct), %d slots, addresses A %d B %d, ports A %d B %d"
          % (n_udp, len(seen), len(slots), len(addrs["A"]), len(addrs["B"]), len(ports["A"]), len(ports["B"])))
    for f in fails:
        print("capture: FAIL", f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
