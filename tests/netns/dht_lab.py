#!/usr/bin/python3
"""Helpers of the DHT swarm test (tests/netns/t_dht_swarm.sh) and benchmark
(bench/dht.sh): real libtorrent nodes, port-stuffed messages and their checks,
and a sender of malformed KRPC.

Run with /usr/bin/python3 (Debian's python3-libtorrent lives there).

  dht_lab.py lt-node --addr A [--port P] [--boot LIST] [--out FILE] [--max-s S]
                     [--profile lab|default|strict]
      A libtorrent DHT node for a private IPv6 swarm (docs/LAB.md): explicit
      listen address, no routers, no LSD/UPnP/NAT-PMP; the nodes of LIST
      ([addr]:port,...) are added again every 2 s for the first minute. FILE
      is rewritten every 2 s with "id HEX", "nodes N" (routing table),
      "ext S" (seconds since it learnt its external address, -1: not yet;
      its id changes then, BEP 42), and libtorrent's counters of its DHT
      storage and service: "torrents N" (info_hashes with peers stored),
      "peers N" (peers stored), "get_peers_in N" (get_peers answered),
      "mutable_data N" (BEP 44 mutable items stored).
  dht_lab.py lt-get --addr A [--port P] --boot LIST --want IH:PORTS ...
                    [--timeout-s S]
      A libtorrent node that joins through LIST only, then runs its own
      dht_get_peers for each IH until every port of PORTS came back. Prints
      "lt_get IH got/want rounds" lines and "lt_nodes N"; exits 0 when all
      were found.
  dht_lab.py lt-bench --addr A [--port P] --boot LIST --want IH:PORTS ...
                      [--lookups N] [--trials N] [--max-rounds N]
      libtorrent's own figures for bench/dht.sh: lookup latency (random
      info_hashes, one at a time) and collection trials (every IH read with
      dht_get_peers until all its ports came back, at most --max-rounds).
  dht_lab.py tr-node --addr A [--port P] --dir D [--boot LIST] [--verbose]
      A Transmission node (transmission-daemon 3.00, jech/dht 0.25): its
      config directory D (settings.json keeping it inside the lab, dht.dat
      naming the nodes of LIST), then exec'ed in the foreground (same PID).
      Its DHT needs a source address in 2000::/3 towards its probe address
      and the lab's output fence (docs/LAB.md).
  dht_lab.py rates CAPTURE --ours PFX,... --nodes ADDR,...
      From `tcpdump -n -tt` text, what the nodes ADDR received from sources
      starting with one of PFX: "busiest_pair SRC>DST max_msgs_10s N" (the
      most datagrams in any 10 s from one source to one node) and
      "busiest_node ADDR max_bytes_1s B max_bps_10s R" (UDP payload bytes).
  dht_lab.py chunks MSGHEX CHUNK IDHEX...
      Splits the message into chunks of at most CHUNK bytes; chunk j goes
      under an info_hash next to IDHEX[j] (the last 4 bytes changed), so the
      node of that id is the closest one to it. Byte i of a chunk becomes
      port (i + 1) << 8 | byte. Prints "IH:PORT,PORT,..." per chunk.
  dht_lab.py decode PORT,...   the bytes a set of ports carries, in hex, or
      an error when positions are missing or duplicated.
  dht_lab.py check --chunks FILE --out FILE --lt ADDR,... [--lt-complete]
                   [--ours-complete] [--lt-only J]
      Checks the output of `mt6d-dhtnode --collect` against the chunks FILE
      (lines of `chunks`): every chunk's union must decode to its bytes;
      --lt-complete: each chunk also complete from one libtorrent node alone;
      --lt-complete-min N: at least N chunks complete from one libtorrent node alone;
      --ours-complete: each chunk also complete from one of our nodes alone;
      --lt-only J: chunk J answered only by libtorrent nodes. Prints the
      message in hex.
  dht_lab.py ops KIND FILE      statistics of mt6d-dhtnode's KIND lines (announce,
      get_peers, collect): count, median and p95 of ms, queries.
  dht_lab.py rounds --chunks FILE --out FILE
      collection trials of `mt6d-dhtnode --collect ... --rounds N`: how many
      gave every chunk exactly, median and p95 time, messages per trial.
  dht_lab.py bad ADDR PORT
      Sends malformed datagrams and a flood of pings to our node, then checks
      it still answers a well-formed ping. Prints "sent_bad N", "answered 1".
"""
import argparse
import os
import random
import signal
import socket
import sys
import time
import warnings


def parse_boot(spec):
    out = []
    for item in (spec or '').split(','):
        item = item.strip()
        if not item:
            continue
        host, port = item.rsplit(':', 1)
        out.append((host.strip('[]'), int(port)))
    return out


# libtorrent settings per profile (lt-node --profile), on top of what keeps
# a node inside a private lab (explicit listen address, no routers, no
# LSD/UPnP/NAT-PMP). "lab": nodes may share a /64 (the swarms that put many
# nodes on one host). "default": libtorrent's own defaults (a /64 per node).
# "strict": real settings an operator can tighten, each stricter than the
# default (docs/LAB.md lists them with their defaults).
LT_PROFILES = {
    'lab': {'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False},
    'default': {},
    'strict': {
        'dht_enforce_node_id': True,      # queries need a BEP 42 id for their source
        'dht_block_ratelimit': 4,         # 5: a source is banned 5 min over 4/s
        'dht_upload_rate_limit': 4000,    # 8000 B/s output budget
        'dht_max_peers': 100,             # 500 peers stored per info_hash
        'dht_max_torrents': 500,          # 2000 info_hashes stored
        'dht_max_dht_items': 100,         # 700 BEP 44 items
        'dht_max_fail_count': 5,          # 20 timeouts before a node is dropped
        'dht_privacy_lookups': True,      # its own lookups hide their target
    },
}


def lt_session(addr, port, profile='lab'):
    import libtorrent as lt
    settings = {
        'listen_interfaces': '[%s]:%d' % (addr, port),
        'enable_dht': True,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'dht_bootstrap_nodes': '',
        'alert_mask': lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
    }
    settings.update(LT_PROFILES[profile])
    return lt.session(settings)


def lt_id_and_nodes(ses, seen=None, counters=None):
    """Our node id (hex) and the routing-table size; the names of the other
    alerts popped on the way are added to seen; with counters (a dict),
    libtorrent's DHT storage counters are read into it too."""
    import libtorrent as lt
    n = 0
    ses.post_dht_stats()
    if counters is not None:
        ses.post_session_stats()
    time.sleep(0.05)
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_stats_alert):
            n = sum(b['num_nodes'] for b in a.routing_table)
        elif counters is not None and isinstance(a, lt.session_stats_alert):
            for k in ('dht.dht_torrents', 'dht.dht_peers', 'dht.dht_get_peers_in',
                      'dht.dht_mutable_data'):
                counters[k.split('.', 1)[1].replace('dht_', '', 1)] = a.values.get(k, 0)
        elif seen is not None:
            seen.add(type(a).__name__)
    # Read the id after the alerts: libtorrent changes it (BEP 42) when it
    # learns its external address.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        st = ses.dht_state()
    nid = ''
    ids = st.get(b'node-id', []) if isinstance(st, dict) else []
    if ids:
        nid = bytes(ids[0][:20]).hex()
    return nid, n


stop = False


def on_term(signum, frame):
    global stop
    stop = True


def cmd_lt_node(args):
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ses = lt_session(args.addr, args.port, args.profile)
    boot = parse_boot(args.boot)
    t0 = time.time()
    last_boot = 0
    seen = set()
    ext_at = 0
    while not stop and time.time() - t0 < args.max_s:
        now = time.time()
        if now - last_boot >= 2 and now - t0 < 60:
            for b in boot:
                ses.add_dht_node(b)
            last_boot = now
        counters = {}
        nid, n = lt_id_and_nodes(ses, seen, counters)
        if 'external_ip_alert' in seen and not ext_at:
            ext_at = time.time()
        if args.out:
            tmp = args.out + '.tmp'
            with open(tmp, 'w') as f:
                # "ext": seconds since the external address was learnt.
                f.write('id %s\nnodes %d\next %d\n' %
                        (nid, n, time.time() - ext_at if ext_at else -1))
                for k in ('torrents', 'peers', 'get_peers_in', 'mutable_data'):
                    f.write('%s %d\n' % (k, counters.get(k, 0)))
            os.rename(tmp, args.out)
        for _ in range(20):
            if stop:
                break
            time.sleep(0.1)
    return 0


def parse_want(items):
    want = []
    for w in items:
        ih, ports = w.split(':', 1)
        want.append((ih, set(int(p) for p in ports.split(',') if p)))
    return want


def lt_join(ses, boot, min_nodes, deadline):
    n = 0
    while time.time() < deadline:
        for b in boot:
            ses.add_dht_node(b)
        time.sleep(1)
        _, n = lt_id_and_nodes(ses)
        if n >= min_nodes:
            break
    return n


def lt_read_back(ses, want, deadline, rounds_max=20):
    """dht_get_peers rounds until every wanted port was seen; returns
    [(ih, got, rounds)]."""
    import libtorrent as lt
    got = {ih: set() for ih, _ in want}
    rounds = {ih: 0 for ih, _ in want}
    pending = {}
    while time.time() < deadline:
        todo = [(ih, ports) for ih, ports in want
                if not ports <= got[ih] and rounds[ih] < rounds_max]
        if not todo and not pending:
            break
        for ih, _ in todo:
            if ih not in pending:
                ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(ih)))
                pending[ih] = time.time()
                rounds[ih] += 1
        time.sleep(0.2)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_get_peers_reply_alert):
                ih = str(a.info_hash)
                for p in a.peers():
                    if ih in got:
                        got[ih].add(p[1])
                pending.pop(ih, None)
        for ih in list(pending):
            if time.time() - pending[ih] > 15:
                pending.pop(ih)
    return [(ih, got[ih], rounds[ih]) for ih, _ in want]


def cmd_lt_get(args):
    ses = lt_session(args.addr, args.port)
    deadline = time.time() + args.timeout_s
    n = lt_join(ses, parse_boot(args.boot), 8, deadline)
    print('lt_nodes %d' % n, flush=True)
    want = parse_want(args.want)
    ok = True
    for ih, got, rounds in lt_read_back(ses, want, deadline):
        ports = dict(want)[ih]
        print('lt_get %s %d/%d %d %s' % (ih, len(got & ports), len(ports), rounds,
                                         ','.join(str(p) for p in sorted(got))), flush=True)
        ok &= ports <= got
    return 0 if ok else 1


def lt_messages_out(ses):
    """libtorrent's count of DHT messages sent so far."""
    import libtorrent as lt
    idx = [m.value_index for m in lt.session_stats_metrics()
           if m.name == 'dht.dht_messages_out'][0]
    ses.post_session_stats()
    deadline = time.time() + 2
    while time.time() < deadline:
        time.sleep(0.05)
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                v = a.values
                return v['dht.dht_messages_out'] if isinstance(v, dict) else v[idx]
    return -1


def lt_wait_idle(ses, deadline):
    """Waits until libtorrent has no DHT traversal running."""
    import libtorrent as lt
    while time.time() < deadline:
        ses.post_dht_stats()
        time.sleep(0.1)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_stats_alert) and not a.active_requests:
                return True
    return False


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float('nan')


def cmd_lt_bench(args):
    """libtorrent's own figures, the baseline of bench/dht.sh: lookup
    latency (sequential dht_get_peers on random info_hashes) and collection
    trials of the ports of --want (dht_get_peers until complete)."""
    import libtorrent as lt
    ses = lt_session(args.addr, args.port)
    deadline = time.time() + args.timeout_s
    n = lt_join(ses, parse_boot(args.boot), 8, deadline)
    time.sleep(3)
    lt_wait_idle(ses, time.time() + 20)
    print('lt_nodes %d' % n, flush=True)
    # Lookups: libtorrent posts a reply alert only for replies with values,
    # so a traversal's end is seen as its disappearance from the active
    # requests (polled every 5 ms), each started with libtorrent idle.
    lat = []
    msgs = 0
    for _ in range(args.lookups):
        lt_wait_idle(ses, time.time() + 5)
        m0 = lt_messages_out(ses)
        ih = os.urandom(20)
        t = time.time()
        ses.dht_get_peers(lt.sha1_hash(ih))
        seen_busy = False
        while time.time() - t < 30:
            ses.post_dht_stats()
            time.sleep(0.005)
            busy = None
            for a in ses.pop_alerts():
                if isinstance(a, lt.dht_stats_alert):
                    busy = bool(a.active_requests)
            if busy:
                seen_busy = True
            elif busy is False and (seen_busy or time.time() - t > 0.05):
                break  # ended (or was over before the first poll)
        lat.append((time.time() - t) * 1000)
        msgs += lt_messages_out(ses) - m0
    print('lt_lookup_ms median %.0f p95 %.0f n %d msgs_per_lookup %.1f' %
          (pct(lat, 50), pct(lat, 95), len(lat), msgs / max(1, len(lat))), flush=True)
    # Publication: not measurable here. The 2.0.8 Python bindings cannot
    # call session.dht_announce (its flags type is not exported), and
    # libtorrent announces only its own address and one port per torrent;
    # bench/dht.sh measures a one-port-per-announce publication with our
    # node instead.
    want = parse_want(args.want)
    # Collection trials: all chunks at once, each repeated until complete.
    ok = 0
    times = []
    m0 = lt_messages_out(ses)
    for _ in range(args.trials):
        t = time.time()
        res = lt_read_back(ses, want, time.time() + 30, rounds_max=args.max_rounds)
        times.append((time.time() - t) * 1000)
        ok += all(dict(want)[ih] <= got for ih, got, _ in res)
    m1 = lt_messages_out(ses)
    print('lt_collect trials %d complete %d ms_median %.0f ms_p95 %.0f msgs_per_trial %.1f' %
          (args.trials, ok, pct(times, 50), pct(times, 95), (m1 - m0) / max(1, args.trials)),
          flush=True)
    return 0


def cmd_tr_node(args):
    """A Transmission node (transmission-daemon, jech/dht) for a private IPv6
    swarm: settings that keep it inside the lab, the nodes of --boot written
    into its dht.dat (it pings them at start), then exec'ed (same PID)."""
    import json
    os.makedirs(os.path.join(args.dir, 'dl'), exist_ok=True)
    settings = {
        'dht-enabled': True,
        'bind-address-ipv6': args.addr,
        'bind-address-ipv4': '127.0.0.1',
        'peer-port': args.port,
        'peer-port-random-on-start': False,
        'lpd-enabled': False,
        'utp-enabled': False,
        'pex-enabled': False,
        'port-forwarding-enabled': False,
        'rpc-enabled': False,
        'blocklist-enabled': False,
        'download-dir': os.path.join(args.dir, 'dl'),
        'incomplete-dir-enabled': False,
        'watch-dir-enabled': False,
        'message-level': 2,
    }
    with open(os.path.join(args.dir, 'settings.json'), 'w') as f:
        json.dump(settings, f, indent=1)
    nodes6 = b''.join(socket.inet_pton(socket.AF_INET6, h) + p.to_bytes(2, 'big')
                      for h, p in parse_boot(args.boot))
    with open(os.path.join(args.dir, 'dht.dat'), 'wb') as f:
        f.write(bencode({'id': os.urandom(20), 'nodes6': nodes6}))
    if args.verbose:
        os.environ['TR_DHT_VERBOSE'] = '1'
    sys.stdout.flush()
    os.execvp('transmission-daemon', ['transmission-daemon', '-f', '-g', args.dir])
    return 1


def window_max(times, span):
    """The most events of the sorted list times within any span seconds."""
    best, i = 0, 0
    for j, t in enumerate(times):
        while t - times[i] >= span:
            i += 1
        best = max(best, j - i + 1)
    return best


def window_max_sum(events, span):
    """The largest sum of sizes of (time, size) events (sorted) within any
    span seconds."""
    best, i, acc = 0, 0, 0
    for t, n in events:
        acc += n
        while t - events[i][0] >= span:
            acc -= events[i][1]
            i += 1
        best = max(best, acc)
    return best


def cmd_rates(args):
    """What each node received from us, from `tcpdump -n -tt` text (UDP
    lines): per (source address, node) the most datagrams in any 10 s
    (libtorrent bans a source at its 50th message in 10 s), per node the
    most UDP payload bytes from all our sources in any 1 s and on average
    over any 10 s (libtorrent's 8,000 B/s budget)."""
    ours = [p for p in args.ours.split(',') if p]
    nodes = set(a for a in args.nodes.split(',') if a)
    pair, node = {}, {}
    with open(args.capture) as f:
        for line in f:
            w = line.split()
            if len(w) < 7 or w[1] != 'IP6' or w[5] != 'UDP,':
                continue
            src = w[2].rsplit('.', 1)[0]
            dst = w[4].rstrip(':').rsplit('.', 1)[0]
            if dst not in nodes or not any(src.startswith(p) for p in ours):
                continue
            t, n = float(w[0]), int(w[-1])
            pair.setdefault((src, dst), []).append(t)
            node.setdefault(dst, []).append((t, n))
    msgs = sum(len(v) for v in pair.values())
    total = sum(n for v in node.values() for _, n in v)
    best_pair, best_n = ('-', '-'), 0
    for k, v in pair.items():
        n = window_max(sorted(v), 10.0)
        if n > best_n:
            best_pair, best_n = k, n
    best_node, best_1s, best_10s = '-', 0, 0
    for k, v in node.items():
        v.sort()
        b1 = window_max_sum(v, 1.0)
        b10 = window_max_sum(v, 10.0) / 10.0
        if b1 > best_1s:
            best_node, best_1s = k, b1
        best_10s = max(best_10s, b10)
    print('datagrams %d bytes %d pairs %d nodes %d' % (msgs, total, len(pair), len(node)))
    print('busiest_pair %s>%s max_msgs_10s %d' % (best_pair[0], best_pair[1], best_n))
    print('busiest_node %s max_bytes_1s %d max_bps_10s %.0f' % (best_node, best_1s, best_10s))
    return 0


def cmd_chunks(args):
    msg = bytes.fromhex(args.msg)
    ids = [bytes.fromhex(x) for x in args.ids]
    rnd = random.Random(msg)
    for j in range(0, (len(msg) + args.chunk - 1) // args.chunk):
        part = msg[j * args.chunk:(j + 1) * args.chunk]
        base = ids[j % len(ids)]
        ih = base[:16] + bytes(rnd.randrange(256) for _ in range(4))
        ports = [(i + 1) << 8 | b for i, b in enumerate(part)]
        print('%s:%s' % (ih.hex(), ','.join(str(p) for p in ports)))
    return 0


def cmd_decode(args):
    ports = [int(p) for p in args.ports.split(',') if p]
    pos = sorted(p >> 8 for p in ports)
    if pos != list(range(1, len(ports) + 1)):
        print('decode: positions %s are not 1..%d' % (pos, len(ports)), file=sys.stderr)
        return 1
    print(bytes(p & 0xff for p in sorted(ports)).hex())
    return 0


def parse_collect(path):
    """{ih: (union ports, {node addr: ports})} from mt6d-dhtnode output."""
    res = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 4 and w[0] == 'node':
                ports = set(int(p) for p in w[4].split(',')) if len(w) > 4 else set()
                res.setdefault(w[1], (set(), {}))[1][w[2].rsplit(':', 1)[0].strip('[]')] = ports
            elif len(w) >= 12 and w[0] == 'collect':
                ports = set(int(p) for p in w[12].split(',')) if len(w) > 12 else set()
                res.setdefault(w[1], (set(), {}))[0].update(ports)
    return res


def cmd_check(args):
    chunks = []
    with open(args.chunks) as f:
        for line in f:
            ih, ports = line.strip().split(':')
            chunks.append((ih, set(int(p) for p in ports.split(','))))
    lts = [a for a in args.lt.split(',') if a]
    got = parse_collect(args.out)
    ok = True
    msg = b''
    lt_complete_chunks = 0
    for j, (ih, want) in enumerate(chunks):
        union, per_node = got.get(ih, (set(), {}))
        if union != want:
            print('check: chunk %d: union has %d of %d ports (%d extra)' %
                  (j, len(union & want), len(want), len(union - want)))
            ok = False
        msg += bytes(p & 0xff for p in sorted(union & want, key=lambda p: p >> 8))
        from_lt = [a for a, p in per_node.items() if a in lts and p == want]
        from_ours = [a for a, p in per_node.items() if a not in lts and p == want]
        print('check: chunk %d: %d nodes answered, complete from %d libtorrent and %d of ours' %
              (j, len(per_node), len(from_lt), len(from_ours)))
        lt_complete_chunks += 1 if from_lt else 0
        if args.lt_complete and not from_lt:
            print('check: chunk %d: no libtorrent node gave it complete' % j)
            ok = False
        if args.ours_complete and not from_ours:
            print('check: chunk %d: none of our nodes gave it complete' % j)
            ok = False
        if args.lt_only is not None and j == args.lt_only:
            others = [a for a in per_node if a not in lts]
            if others or not from_lt:
                print('check: chunk %d: answered by our nodes %s, complete from lt %s' %
                      (j, others, from_lt))
                ok = False
    if lt_complete_chunks < args.lt_complete_min:
        print('check: only %d chunks complete from a libtorrent node alone (want >= %d)' %
              (lt_complete_chunks, args.lt_complete_min))
        ok = False
    print('message %s' % msg.hex())
    return 0 if ok else 1


def cmd_ops(args):
    """Statistics over mt6d-dhtnode client lines of one kind."""
    ms, q, ok = [], [], 0
    with open(args.out) as f:
        for line in f:
            w = line.split()
            if not w or w[0] != args.kind:
                continue
            d = dict(zip(w[2::2], w[3::2]))
            ms.append(int(d['ms']))
            q.append(int(d['queries']))
            ok += d['status'] == '0'
    print('%s n %d ok %d ms_median %.0f ms_p95 %.0f queries_mean %.1f queries_sum %d' %
          (args.kind, len(ms), ok, pct(ms, 50), pct(ms, 95),
           sum(q) / max(1, len(q)), sum(q)))
    return 0


def cmd_rounds(args):
    """Collection trials: mt6d-dhtnode --rounds output, one collect line per
    chunk per round, in order; a trial succeeds when every chunk's union is
    exactly its ports."""
    chunks = []
    with open(args.chunks) as f:
        for line in f:
            ih, ports = line.strip().split(':')
            chunks.append((ih, set(int(p) for p in ports.split(','))))
    want = dict(chunks)
    rounds, cur = [], []
    with open(args.out) as f:
        for line in f:
            w = line.split()
            if len(w) < 12 or w[0] != 'collect':
                continue
            ports = set(int(p) for p in w[12].split(',')) if len(w) > 12 else set()
            cur.append((w[1], ports, int(w[11]), int(w[9])))
            if len(cur) == len(chunks):
                rounds.append(cur)
                cur = []
    ok = sum(all(want.get(ih) == ports for ih, ports, _, _ in r) for r in rounds)
    ms = [max(x[2] for x in r) for r in rounds]
    msgs = [sum(x[3] for x in r) for r in rounds]
    print('trials %d complete %d ms_median %.0f ms_p95 %.0f msgs_per_trial %.1f' %
          (len(rounds), ok, pct(ms, 50), pct(ms, 95), sum(msgs) / max(1, len(msgs))))
    return 0


def bencode(v):
    if isinstance(v, int):
        return b'i%de' % v
    if isinstance(v, bytes):
        return b'%d:%s' % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, list):
        return b'l' + b''.join(bencode(x) for x in v) + b'e'
    if isinstance(v, dict):
        return b'd' + b''.join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b'e'
    raise TypeError(v)


def cmd_bad(args):
    to = (args.addr, args.port)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if args.src:
        s.bind((args.src, 0))
    s.settimeout(1.0)
    nid = os.urandom(20)
    bad = [
        b'',
        b'garbage that is not bencode',
        b'd1:ad2:id20:' + nid + b'e1:q4:ping1:t2:aa1:y1:q',          # truncated
        b'l' * 200 + b'e' * 200,                                       # too deep
        b'd1:ad2:id99999999999:xe1:q4:ping1:t2:aa1:y1:qe',             # huge length
        bencode({'a': {'id': nid}, 'q': 'ping', 't': 'aa', 'y': 'q'}) + b'trailing',
        bencode({'a': {'id': nid[:5]}, 'q': 'ping', 't': 'ab', 'y': 'q'}),  # short id
        bencode({'a': {'id': nid, 'info_hash': b'x' * 3}, 'q': 'get_peers',
                 't': 'ac', 'y': 'q'}),                                # short info_hash
        b'i-0e',
        b'd1:y1:r1:t2:zz1:rd2:id20:' + nid + b'5:nodes7:1234567ee',    # bad nodes length
    ]
    for b in bad:
        s.sendto(b, to)
    print('sent_bad %d' % len(bad), flush=True)
    # An announce with a token we never got: refused (error 203).
    s.sendto(bencode({'a': {'id': nid, 'info_hash': os.urandom(20), 'port': 1000,
                            'token': b'12345678'},
                      'q': 'announce_peer', 't': 'tk', 'y': 'q'}), to)
    # A flood of well-formed pings: the per-source limiter answers the
    # burst and drops the rest.
    for i in range(args.flood):
        s.sendto(bencode({'a': {'id': nid}, 'q': 'ping', 't': b'f%03d' % i,
                          'y': 'q'}), to)
    replies = 0
    errors = 0
    s.settimeout(0.5)
    while True:
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        if b'1:y1:e' in data:
            errors += 1
        else:
            replies += 1
    print('flood_replies %d errors %d' % (replies, errors), flush=True)
    # After the limiter refills, a normal ping is answered.
    time.sleep(args.pause_s)
    s.settimeout(2.0)
    s.sendto(bencode({'a': {'id': nid}, 'q': 'ping', 't': 'ok', 'y': 'q'}), to)
    answered = 0
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        if b'2:ok' in data and b'1:y1:r' in data:
            answered = 1
            break
    print('answered %d' % answered, flush=True)
    return 0 if answered else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('lt-node')
    p.add_argument('--addr', required=True)
    p.add_argument('--port', type=int, default=6881)
    p.add_argument('--boot', default='')
    p.add_argument('--out')
    p.add_argument('--max-s', type=float, default=900)
    p.add_argument('--profile', choices=sorted(LT_PROFILES), default='lab')
    for name in ('lt-get', 'lt-bench'):
        p = sub.add_parser(name)
        p.add_argument('--addr', required=True)
        p.add_argument('--port', type=int, default=6881)
        p.add_argument('--boot', required=True)
        p.add_argument('--want', action='append', required=True)
        p.add_argument('--timeout-s', type=float, default=60)
        p.add_argument('--lookups', type=int, default=100)
        p.add_argument('--trials', type=int, default=100)
        p.add_argument('--max-rounds', type=int, default=10)
    p = sub.add_parser('tr-node')
    p.add_argument('--addr', required=True)
    p.add_argument('--port', type=int, default=6881)
    p.add_argument('--boot', default='')
    p.add_argument('--dir', required=True)
    p.add_argument('--verbose', action='store_true')
    p = sub.add_parser('rates')
    p.add_argument('capture')
    p.add_argument('--ours', required=True)
    p.add_argument('--nodes', required=True)
    p = sub.add_parser('chunks')
    p.add_argument('msg')
    p.add_argument('chunk', type=int)
    p.add_argument('ids', nargs='+')
    p = sub.add_parser('decode')
    p.add_argument('ports')
    p = sub.add_parser('ops')
    p.add_argument('kind')
    p.add_argument('out')
    p = sub.add_parser('rounds')
    p.add_argument('--chunks', required=True)
    p.add_argument('--out', required=True)
    p = sub.add_parser('check')
    p.add_argument('--chunks', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--lt', default='')
    p.add_argument('--lt-complete', action='store_true')
    p.add_argument('--lt-complete-min', type=int, default=0)
    p.add_argument('--ours-complete', action='store_true')
    p.add_argument('--lt-only', type=int)
    p = sub.add_parser('bad')
    p.add_argument('addr')
    p.add_argument('port', type=int)
    p.add_argument('--src')
    p.add_argument('--flood', type=int, default=100)
    p.add_argument('--pause-s', type=float, default=2.0)
    args = ap.parse_args()
    return {'lt-node': cmd_lt_node, 'lt-get': cmd_lt_get, 'lt-bench': cmd_lt_bench,
            'tr-node': cmd_tr_node, 'rates': cmd_rates,
            'chunks': cmd_chunks, 'decode': cmd_decode, 'check': cmd_check,
            'ops': cmd_ops, 'rounds': cmd_rounds,
            'bad': cmd_bad}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
