#!/usr/bin/python3
"""Checks the DHT traffic of the mt6d daemons in a capture taken on the lab
router (t_dht_anon.sh).

  dht_anon_check.py PCAP PERIOD_S LINGER_S NAME=STABLE_ADDR[,LANES] ...

For each daemon host NAME (its /64 is that of STABLE_ADDR), every KRPC
message (a UDP payload that decodes as a bencoded dict with "y" and "t")
sent from that /64 is attributed to the identity (source address, port) it
came from. Independently of the C code, it checks that:
  - no KRPC message leaves from a stable address;
  - each identity keeps one node id, BEP 42-valid for its source address
    (CRC32-C recomputed here), and no id, address or port is used by two
    identities;
  - each identity sends for at most one window plus the linger (and a
    little slack), and at least WINDOWS identities per host were seen
    (the address changes at every boundary);
  - at most LANES identities of a host (default 1: a server's DHTNodes)
    begin in each window, at least 150 ms apart (staggered by 250 ms), and
    at least WINDOWS x LANES were seen;
  - every query from a daemon host (the server s* and the clients c*, whose
    DHT identities live one window each) carries "ro": 1 (BEP 43).
Prints a summary; exit status 0 when every check holds."""
import collections
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_capture import packets  # noqa: E402


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        j = b.index(b":", i)
        n = int(b[i:j])
        if j + 1 + n > len(b):
            raise ValueError("short string")
        return b[j + 1:j + 1 + n], j + 1 + n
    raise ValueError("not bencode")


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def bep42_ok(node_id, addr):
    """BEP 42 for IPv6: the first 8 bytes masked, r = id[19] & 7 in the top
    3 bits of the first byte; the id's first 21 bits are the CRC's."""
    mask = [0x01, 0x03, 0x07, 0x0F, 0x1F, 0x3F, 0x7F, 0xFF]
    ip = bytearray(a & m for a, m in zip(addr[:8], mask))
    ip[0] |= (node_id[19] & 7) << 5
    crc = crc32c(bytes(ip))
    return (node_id[0] == (crc >> 24) & 0xFF and node_id[1] == (crc >> 16) & 0xFF
            and (node_id[2] & 0xF8) == ((crc >> 8) & 0xF8))


STAGGER_S = 0.25       # DHT_LANE_STAGGER_MS (mt6d/engine/server_rdv.c)
STAGGER_MIN_S = 0.15   # what is checked, with room for the loop's timing


def main():
    pcap, period, linger = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    windows_min = int(os.environ.get("WINDOWS_MIN", "3"))
    hosts, lanes = {}, {}
    for arg in sys.argv[4:]:
        name, addr = arg.split("=", 1)
        addr, _, n = addr.partition(",")
        hosts[name] = ipaddress.IPv6Address(addr).packed
        lanes[name] = int(n or "1")
    fails = []
    idents = {}   # (host, src, port) -> {first, last, ids, n, queries, ro}
    from_stable = collections.Counter()
    for ts, f in packets(pcap):
        if len(f) < 62 or f[12:14] != b"\x86\xdd" or f[14 + 6] != 17:
            continue
        ip = f[14:]
        src = ip[8:24]
        sport = struct.unpack(">H", ip[40:42])[0]
        payload = ip[48:]
        host = next((h for h, a in hosts.items() if a[:8] == src[:8]), None)
        if host is None or not payload.startswith(b"d"):
            continue
        try:
            msg, _ = bdecode(payload)
        except (ValueError, IndexError):
            continue
        if not isinstance(msg, dict) or b"y" not in msg or b"t" not in msg:
            continue
        if src == hosts[host]:
            from_stable[host] += 1
            continue
        key = (host, src, sport)
        d = idents.setdefault(key, {"first": ts, "last": ts, "ids": set(), "n": 0,
                                    "queries": 0, "ro": 0})
        d["last"] = ts
        d["n"] += 1
        body = msg.get(b"a") if msg[b"y"] == b"q" else msg.get(b"r")
        if isinstance(body, dict) and isinstance(body.get(b"id"), bytes):
            d["ids"].add(body[b"id"])
        if msg[b"y"] == b"q":
            d["queries"] += 1
            d["ro"] += msg.get(b"ro") == 1
    for h, n in from_stable.items():
        fails.append("%s: %d KRPC messages from its stable address" % (h, n))
    seen_addr, seen_port, seen_id = collections.Counter(), collections.Counter(), collections.Counter()
    for (h, src, port), d in sorted(idents.items(), key=lambda kv: kv[1]["first"]):
        a = ipaddress.IPv6Address(src)
        life = d["last"] - d["first"]
        print("%-3s [%s]:%-5u %4d messages over %5.1f s, %d queries (%d ro), id %s" % (
            h, a, port, d["n"], life, d["queries"], d["ro"],
            ",".join(i.hex()[:10] for i in d["ids"]) or "-"))
        seen_addr[src] += 1
        seen_port[(h, port)] += 1
        for i in d["ids"]:
            seen_id[i] += 1
        if len(d["ids"]) != 1:
            fails.append("%s [%s]:%u: %d node ids" % (h, a, port, len(d["ids"])))
        for i in d["ids"]:
            if len(i) != 20 or not bep42_ok(i, src):
                fails.append("%s [%s]:%u: id %s is not BEP 42-valid for it" % (h, a, port, i.hex()))
        if life > period + linger + 3:
            fails.append("%s [%s]:%u: used for %.1f s (> a window and the linger)" % (h, a, port, life))
        if h.startswith(("c", "s")) and d["ro"] != d["queries"]:
            fails.append("%s [%s]:%u: %d of %d queries without ro=1" % (h, a, port,
                                                                         d["queries"] - d["ro"], d["queries"]))
    for src, n in seen_addr.items():
        if n > 1:
            fails.append("address %s used by %d identities" % (ipaddress.IPv6Address(src), n))
    for (h, port), n in seen_port.items():
        if n > 1:
            fails.append("%s: port %u used by %d identities" % (h, port, n))
    for i, n in seen_id.items():
        if n > 1:
            fails.append("node id %s used by %d identities" % (i.hex(), n))
    # One new identity per window and lane: more that begin in the same
    # window (a change that fired twice) would put more addresses of the
    # host side by side in the DHT than it runs.
    # The first identities of a host, made at start-up a moment before a
    # boundary, may send their first message after it: they count for the
    # window they were made in.
    firsts = {}
    for k, d in sorted(idents.items(), key=lambda kv: kv[1]["first"]):
        firsts.setdefault(k[0], [])
        if len(firsts[k[0]]) < lanes[k[0]]:
            firsts[k[0]].append(k)
    # (Identity i of a host's lanes sends its first message i x 250 ms
    # after the first one's.)
    def window_began(k, d):
        slack = 0.2 + STAGGER_S * (lanes[k[0]] - 1) if k in firsts[k[0]] else 0.0
        return int((d["first"] - slack) // period)
    starts = collections.Counter((k[0], window_began(k, d)) for k, d in idents.items())
    for (h, w), n in starts.items():
        if n > lanes[h]:
            fails.append("%s: %d identities began in the window starting at %d" % (h, n, w * period))
    # The lanes are staggered (DHT_LANE_STAGGER_MS): identities of a host
    # that begin in one window begin apart, so that K fresh nodes of one
    # /64 never burst into the same foreign nodes together.
    begins = collections.defaultdict(list)
    for k, d in idents.items():
        begins[(k[0], window_began(k, d))].append(d["first"])
    for (h, w), ts in sorted(begins.items()):
        ts.sort()
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        if gaps:
            print("%s: window %d: identities began %s s apart" % (h, w * period,
                                                                 ", ".join("%.2f" % g for g in gaps)))
            if min(gaps) < STAGGER_MIN_S:
                fails.append("%s: two identities began %.3f s apart in the window starting at %d "
                             "(staggered: >= %.2f s)" % (h, min(gaps), w * period, STAGGER_MIN_S))
    for h in hosts:
        n = sum(1 for k in idents if k[0] == h)
        print("%s: %d identities" % (h, n))
        if n < windows_min * lanes[h]:
            fails.append("%s: %d identities (< %d)" % (h, n, windows_min * lanes[h]))
    for f in fails:
        print("FAIL", f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
