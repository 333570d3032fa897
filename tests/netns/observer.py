#!/usr/bin/python3
"""A passive observer of mt6d tunnels: tries to follow each conversation
across slot boundaries in a capture, the way an attacker on the path would.

  observer.py PCAP --rot-ms MS --server-prefix P --server-mac MAC
              --client-mac 1=MAC [--client-mac 2=MAC ...]
              [--header-bytes N] [--z Z] [--min-decisions N] [--seed S]
              [--assert-header-chance] [--random-headers] [--plant-counter] [--header-only]
              [--label TEXT]

The capture is an Ethernet capture on the router (tcpdump -w on its
bridge). The observer sees only the frames on the server's link (to or
from --server-mac) and uses nothing below IPv6: it knows the server's /64
(the only thing that tells the two directions apart) and Rot. The MAC
addresses of the clients' links serve only as ground truth: a 4-tuple seen
in a frame to or from client i's MAC belongs to client i.

A flow is one (source address, source port, destination address,
destination port) tuple: one slot of one direction of one tunnel. At every
slot boundary, each flow of slot k is matched to a flow of slot k+1 of the
same direction, by two linkers:

  header   every byte of the two IIDs and the two ports (20 bytes) and
           every byte position of the first N bytes of the UDP payload:
           byte equality between the last datagram of the old flow and the
           first of the new, and numeric continuation (0 < new - old <=
           4096) of every 2-, 4- and 8-byte field at every offset, big and
           little endian, and which candidate each field moved least to;
           each feature weighed by what it told on the other half of the
           boundaries (naive Bayes on the ground truth). Best score wins;
           ties are broken at random, so a linker that finds nothing
           scores chance.
  size     packet-length histograms, packet rate and inter-arrival timing
  timing   (the phase of a periodic sender continued after the boundary),
           of the flow and of its mirror (the other direction of the same
           slot: the observer pairs them by their swapped tuple), matched
           one-to-one by increasing distance; the best weighting over a
           small grid is reported (an optimistic attacker).

A decision counts when the old flow's client has a flow in slot k+1 of that
direction. Chance for one header decision is the share of the new flows
that belong to the right client; the header linker passes when its accuracy
is at most chance + Z standard deviations of a sum of Bernoulli trials with
those probabilities, the variance doubled because the two directions of a
slot share their outer fields (Z = 4: a false alarm about once in 30,000
runs).

Output: "key=value" lines, one result each, stable for scripts; with
--assert-header-chance the exit status is 1 when the header linker beats
chance (or there were fewer than --min-decisions decisions), else 0."""
import argparse
import collections
import ipaddress
import math
import random
import struct
import sys

ETH_IPV6 = 0x86DD
UDP = 17
CONTINUATION_MAX = 4096
OUTER_LEN = 20  # source IID, destination IID, source port, destination port
# The two directions of a slot carry the same IIDs and ports (swapped), so
# their decisions are not independent: the variance of the number of right
# guesses is counted twice that of independent trials (measured over 18
# runs on a format with nothing to find: about 1.4 times).
DESIGN_EFFECT = 2.0


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def frames(path):
    """(time, dst mac, src mac, IPv6 packet) for every Ethernet frame."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        endian, scale = "<", 1e-6
    elif magic == 0xA1B23C4D:
        endian, scale = "<", 1e-9
    elif magic == 0xD4C3B2A1:
        endian, scale = ">", 1e-6
    elif magic == 0x4D3CB2A1:
        endian, scale = ">", 1e-9
    else:
        raise SystemExit("%s: not a pcap file" % path)
    if struct.unpack(endian + "I", data[20:24])[0] != 1:
        raise SystemExit("%s: not an Ethernet capture" % path)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 14 + 40 or struct.unpack(">H", frame[12:14])[0] != ETH_IPV6:
            continue
        yield sec + frac * scale, frame[0:6], frame[6:12], frame[14:]


class Datagram:
    __slots__ = ("t", "length", "head")

    def __init__(self, t, length, head):
        self.t, self.length, self.head = t, length, head


def udp_of(ip6):
    """(4-tuple, UDP payload length, captured payload) or None."""
    if ip6[0] >> 4 != 6 or ip6[6] != UDP or len(ip6) < 48:
        return None
    sport, dport, ulen = struct.unpack(">HHH", ip6[40:46])
    return (ip6[8:24], sport, ip6[24:40], dport), ulen - 8, ip6[48:]


class Flow:
    def __init__(self, key, direction):
        self.key, self.direction = key, direction
        self.pkts = []
        self.client = None
        self.slot = None
        self.mirror = None

    def times(self):
        return [p.t for p in self.pkts]


def read_capture(args):
    server_mac = mac_bytes(args.server_mac)
    client_of_mac = {}
    for item in args.client_mac:
        i, mac = item.split("=", 1)
        client_of_mac[mac_bytes(mac)] = int(i)
    prefix = ipaddress.IPv6Network(args.server_prefix).network_address.packed[:8]
    flows = {}
    truth = {}
    for t, dst, src, ip6 in frames(args.pcap):
        u = udp_of(ip6)
        if u is None:
            continue
        key, plen, payload = u
        for mac in (src, dst):
            if mac in client_of_mac:
                truth[key] = client_of_mac[mac]
        if server_mac not in (src, dst):
            continue  # the observer's view is the server's link only
        direction = "s2c" if key[0][:8] == prefix else "c2s"
        fl = flows.get(key)
        if fl is None:
            fl = flows[key] = Flow(key, direction)
        # What the observer compares: the rotating parts of the outer
        # headers (both IIDs, both ports), then the payload's first bytes.
        head = (key[0][8:] + key[2][8:] + struct.pack(">HH", key[1], key[3])
                + payload[:args.header_bytes])
        if args.random_headers:
            head = args.rng_bytes(len(head))
        fl.pkts.append(Datagram(t, plen, head))
    rot = args.rot_ms / 1000.0
    for key, fl in flows.items():
        fl.client = truth.get(key)
    if args.plant_counter:
        plant_counter(flows.values())
    for key, fl in flows.items():
        ts = sorted(fl.times())
        fl.slot = int(math.floor(ts[len(ts) // 2] / rot))
        m = (key[2], key[3], key[0], key[1])
        fl.mirror = flows.get(m)
    return list(flows.values())


def plant_counter(flows):
    """Control: payload bytes 0-7 become a counter per client and direction
    that runs on across slots, as in a format that leaks one."""
    pkts = sorted((p.t, id(p), p, (fl.client, fl.direction))
                  for fl in flows if fl.client is not None for p in fl.pkts)
    count = collections.Counter()
    for _, _, p, who in pkts:
        count[who] += 1
        h = bytearray(p.head)
        h[OUTER_LEN:OUTER_LEN + 8] = struct.pack(">Q", count[who])
        p.head = bytes(h)


def boundaries(flows):
    """{(slot, direction): [flows]}"""
    by = collections.defaultdict(list)
    for fl in flows:
        by[(fl.slot, fl.direction)].append(fl)
    return by


# ---- header linker ---------------------------------------------------------

FIELDS = [(w, e) for w in (2, 4, 8) for e in (">", "<")]
FMT = {2: "H", 4: "I", 8: "Q"}


def header_features(old, new, n):
    """The features that fire between the last datagram of the old flow and
    the first of the new one: byte j equal (index j), or the field of width
    w at offset j, in one byte order, continuing (index n + n * field + j);
    and {continuing feature index: how far it moved}."""
    a, b = old.pkts[-1].head, new.pkts[0].head
    m = min(len(a), len(b), n)
    fired = [j for j in range(m) if a[j] == b[j]]
    steps = {}
    for k, (w, e) in enumerate(FIELDS):
        f = e + FMT[w]
        for j in range(0, m - w + 1):
            step = struct.unpack(f, b[j:j + w])[0] - struct.unpack(f, a[j:j + w])[0]
            if 0 < step <= CONTINUATION_MAX:
                fired.append(n + n * k + j)
                steps[n + n * k + j] = step
    return fired, steps


def header_decisions(by, n):
    """[(slot, old flow, [(new flow, fired features)])] for every decision.
    Besides the features of each pair, a continuing field fires "closest"
    (index + n * len(FIELDS)) for the candidate it moved least to: counters
    of different senders may all continue, the right one moves least."""
    out = []
    shift = n * len(FIELDS)
    for (slot, d), olds in sorted(by.items()):
        news = by.get((slot + 1, d), [])
        for o in olds:
            if o.client is None or not any(f.client == o.client for f in news):
                continue
            cands = [(f,) + header_features(o, f, n) for f in news]
            least = {}
            for i, (_, _, steps) in enumerate(cands):
                for idx, step in steps.items():
                    if idx not in least or step < least[idx][0]:
                        least[idx] = (step, i)
            for idx, (_, i) in least.items():
                cands[i][1].append(idx + shift)
            out.append((slot, o, [(f, fired) for f, fired, _ in cands]))
    return out


def train(decisions, nfeat):
    """Naive Bayes weights: what each feature firing says about a pair
    being the same client, learnt from labelled decisions (an attacker who
    ran mt6d himself knows as much)."""
    fire = [[0] * nfeat, [0] * nfeat]
    total = [0, 0]
    for _, o, cands in decisions:
        for f, fired in cands:
            same = int(f.client == o.client)
            total[same] += 1
            for i in fired:
                fire[same][i] += 1
    w = []
    for i in range(nfeat):
        pt = (fire[1][i] + 1) / (total[1] + 2)
        pf = (fire[0][i] + 1) / (total[0] + 2)
        w.append(math.log(pt / pf) - math.log((1 - pt) / (1 - pf)))
    return w


def header_linker(by, args, rng):
    """Two-fold: weights learnt on the boundaries of even slots decide the
    odd ones, and the other way round, so no decision is made by a model
    that saw it. Returns (decisions, correct, sum of p, sum of p(1-p))."""
    n = OUTER_LEN + args.header_bytes
    nfeat = n + 2 * n * len(FIELDS)
    dec = header_decisions(by, n)
    decisions = correct = 0
    p_sum = var_sum = 0.0
    for fold in (0, 1):
        w = train([x for x in dec if x[0] % 2 != fold], nfeat)
        for _, o, cands in (x for x in dec if x[0] % 2 == fold):
            scores = [(sum(w[i] for i in fired), f) for f, fired in cands]
            best = max(s for s, _ in scores)
            pick = rng.choice([f for s, f in scores if s >= best - 1e-9])
            p = sum(1 for f, _ in cands if f.client == o.client) / len(cands)
            decisions += 1
            correct += pick.client == o.client
            p_sum += p
            var_sum += p * (1 - p)
    return decisions, correct, p_sum, var_sum


# ---- size and timing linker ------------------------------------------------

def profile(fl):
    """What a flow shows of itself: length histogram, rate, period, times."""
    if fl is None:
        return None
    ts = fl.times()
    hist = collections.Counter(p.length for p in fl.pkts)
    n = len(ts)
    span = max(ts[-1] - ts[0], 1e-3)
    gaps = sorted(b - a for a, b in zip(ts, ts[1:]) if b - a > 1e-4)
    period = gaps[len(gaps) // 2] if gaps else None
    return {"hist": hist, "n": n, "rate": n / span if n > 1 else None,
            "period": period, "first": ts[0], "last": ts[-1]}


def hist_distance(a, b):
    na, nb = sum(a.values()), sum(b.values())
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in keys)


def phase_error(po, pn):
    """How far the new flow's first packet is from where the old flow's
    rhythm puts the next packet, in periods (0 = on the beat, 0.5 = worst)."""
    if po["period"] is None or po["period"] <= 0:
        return 0.5
    x = (pn["first"] - po["last"]) / po["period"]
    return abs(x - round(x)) if x > 0 else 0.5


def parts(po, pn):
    """(size, rate, phase) distances between two profiles."""
    size = hist_distance(po["hist"], pn["hist"])
    if po["rate"] and pn["rate"]:
        rate = min(abs(math.log(po["rate"] / pn["rate"])), 3.0) / 3.0
    else:
        rate = 0.5
    return size, rate, phase_error(po, pn)


def size_timing_pairs(by):
    """[(old flows, new flows, {(i, j): (parts of the flows, parts of their
    mirrors)})] for every boundary and direction: the distances the grid
    below weighs, computed once."""
    prof = {}

    def pr(fl):
        if fl is None:
            return None
        if id(fl) not in prof:
            prof[id(fl)] = profile(fl)
        return prof[id(fl)]

    out = []
    for (slot, d), olds in sorted(by.items()):
        news = by.get((slot + 1, d), [])
        table = {}
        for i, o in enumerate(olds):
            for j, f in enumerate(news):
                vec = []
                for a, b in ((o, f), (o.mirror, f.mirror)):
                    pa, pb = pr(a), pr(b)
                    vec.append(parts(pa, pb) if pa and pb else (0.5, 0.5, 0.5))
                table[(i, j)] = vec
        out.append((olds, news, table))
    return out


def size_timing_linker(pairs, weights):
    """One-to-one matching by increasing distance: (decisions, correct)."""
    decisions = correct = 0
    for olds, news, table in pairs:
        ranked = sorted((sum(w * x for v in vec for w, x in zip(weights, v)), i, j)
                        for (i, j), vec in table.items())
        used_o, used_n = set(), set()
        for _, i, j in ranked:
            if i in used_o or j in used_n:
                continue
            used_o.add(i)
            used_n.add(j)
            o = olds[i]
            if o.client is None or not any(g.client == o.client for g in news):
                continue
            decisions += 1
            correct += news[j].client == o.client
    return decisions, correct


GRID = [(s, r, p) for s in (0, 0.5, 1, 2) for r in (0, 0.5, 1) for p in (0, 0.5, 1, 2)
        if (s, r, p) != (0, 0, 0)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--rot-ms", type=int, required=True)
    ap.add_argument("--server-prefix", required=True)
    ap.add_argument("--server-mac", required=True)
    ap.add_argument("--client-mac", action="append", default=[])
    ap.add_argument("--header-bytes", type=int, default=32)
    ap.add_argument("--z", type=float, default=4.0)
    ap.add_argument("--min-decisions", type=int, default=100)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--label", default="")
    ap.add_argument("--assert-header-chance", action="store_true")
    ap.add_argument("--random-headers", action="store_true",
                    help="control: replace the payload bytes by random ones "
                    "(an ideal format), to check that the header linker "
                    "then scores chance")
    ap.add_argument("--plant-counter", action="store_true",
                    help="control: a counter per client and direction in "
                    "payload bytes 0-7 (a leaky format), which the header "
                    "linker must find")
    ap.add_argument("--header-only", action="store_true")
    args = ap.parse_args()
    args.rng_bytes = random.Random(args.seed + 1).randbytes

    flows = read_capture(args)
    by = boundaries(flows)
    rng = random.Random(args.seed)
    known = [f for f in flows if f.client is not None]
    clients = sorted({f.client for f in known})
    slots = {f.slot for f in flows}
    label = ("label=%s\n" % args.label) if args.label else ""
    sys.stdout.write(label)
    print("datagrams=%d" % sum(len(f.pkts) for f in flows))
    print("flows=%d" % len(flows))
    print("flows_with_truth=%d" % len(known))
    print("clients_seen=%d" % len(clients))
    print("slots=%d" % len(slots))

    n, c, p_sum, var_sum = header_linker(by, args, rng)
    acc = c / n if n else 0.0
    chance = p_sum / n if n else 0.0
    bound = chance + args.z * math.sqrt(DESIGN_EFFECT * var_sum) / n if n else 0.0
    print("header_decisions=%d" % n)
    print("header_correct=%d" % c)
    print("header_accuracy=%.3f" % acc)
    print("header_chance=%.3f" % chance)
    print("header_bound=%.3f" % bound)
    ok = n >= args.min_decisions and acc <= bound
    print("header_verdict=%s" % ("chance" if ok else
                                 "too-few-decisions" if n < args.min_decisions else "LINKED"))

    if args.header_only:
        return 1 if args.assert_header_chance and not ok else 0
    pairs = size_timing_pairs(by)
    best = None
    for wts in GRID:
        dn, dc = size_timing_linker(pairs, wts)
        if dn and (best is None or dc / dn > best[2]):
            best = (dn, dc, dc / dn, wts)
    if best:
        print("size_timing_decisions=%d" % best[0])
        print("size_timing_correct=%d" % best[1])
        print("size_timing_accuracy=%.3f" % best[2])
        print("size_timing_weights=size:%g,rate:%g,phase:%g" % best[3])
        for name, wts in (("size_only", (1, 0, 0)), ("timing_only", (0, 0.5, 1))):
            dn, dc = size_timing_linker(pairs, wts)
            print("%s_accuracy=%.3f" % (name, dc / dn if dn else 0.0))
    if args.assert_header_chance and not ok:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
