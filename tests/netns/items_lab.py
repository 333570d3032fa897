#!/usr/bin/python3
"""libtorrent's side of the BEP 44 item channel test (tests/netns/t_items.sh):
libtorrent nodes (python3-libtorrent) that put and get mt6d rendezvous items
with libtorrent's own get/put code, the blinding and sealing written here in
Python (tests/vectors/check_items.py, PyNaCl), not by our C code.

  items_lab.py lt-put-config --addr A --boot LIST --server-key FILE
                             --client-pub B64 --period N --intro-key HEX
                             --seed-address ADDR [--timeout-s S]
      Seals a config for the client (epoch 1: libtorrent's put takes seq 1
      for an empty target), blinds the server's key for the client and the
      current window, and has libtorrent put it (dht_put_mutable_item with
      the blinded scalar and nonce prefix as its 64-byte secret). Prints
      "put seq N success M" (exits 0 when a node took it at seq 1), or, when
      libtorrent has not reported within --wait-s (default 6; it waits for
      departed nodes to time out), "put sent ..." and exits 0: the caller
      then checks the storing nodes.
  items_lab.py lt-get-message --addr A --boot LIST --reader-key FILE
                              --writer-pub B64 --period N [--timeout-s S]
      libtorrent's dht_get_mutable_item of the generic message the writer
      left for the reader (`mt6d rendezvous put --channel items`); opens it
      with PyNaCl and prints "message seq N TEXT"; exits 0 when it opened.
  items_lab.py raw-get --server-pub B64 --client-key FILE --period N
                       --nodes ADDR,... [--seq N]
      A BEP 44 "get" of the client's config item sent straight to each node
      (port 6881), no lookup: prints "served N of M", the nodes whose reply
      holds the item with that seq (default 1); exits 0 when N >= 1.

Run with /usr/bin/python3 (Debian's python3-libtorrent and python3-nacl)."""
import argparse
import base64
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'vectors'))
sys.path.insert(0, HERE)

import check_items as ci  # noqa: E402
from dht_lab import lt_join, lt_session, parse_boot  # noqa: E402
from nacl.bindings import (crypto_box_beforenm, crypto_box_open_afternm,  # noqa: E402
                           crypto_scalarmult, crypto_scalarmult_base)


def read_key(path):
    with open(path) as f:
        return base64.b64decode(f.read().strip())


def ro_session(addr, port):
    """A libtorrent node that asks but never serves (BEP 43 read-only): it
    leaves no dead entry in the swarm's routing tables when it exits."""
    ses = lt_session(addr, port)
    ses.apply_settings({'dht_read_only': True})
    return ses


def window_start(period):
    t = int(time.time())
    return t - t % period


def cmd_put_config(args):
    import libtorrent as lt
    s_priv = read_key(args.server_key)
    c_pub = base64.b64decode(args.client_pub)
    T = window_start(args.period)
    shared = crypto_scalarmult(s_priv, c_pub)
    ap, prefix, pub = ci.blind_secret(s_priv, shared, T)
    seed = __import__('ipaddress').IPv6Address(args.seed_address).packed
    plain = seed + bytes.fromhex(args.intro_key) + (3000).to_bytes(3, 'big') + \
        args.period.to_bytes(3, 'big')
    sealed = ci.config_seal(s_priv, c_pub, plain, T, 1, os.urandom(8))
    ses = ro_session(args.addr, args.port)
    deadline = time.time() + args.timeout_s
    t0 = time.time()
    n = lt_join(ses, parse_boot(args.boot), 4, deadline)
    print('joined %d nodes in %.1f s' % (n, time.time() - t0), file=sys.stderr, flush=True)
    ses.dht_put_mutable_item(ci.sc_bytes(ap) + prefix, pub, sealed, b'')
    # libtorrent reports the put once every node answered or timed out,
    # which nodes that left the swarm can make long: after --wait-s the
    # puts have gone out, and the caller checks the storing nodes itself.
    end = min(deadline, time.time() + args.wait_s)
    while time.time() < end:
        time.sleep(0.2)
        for a in ses.pop_alerts():
            print('%.1f %s' % (time.time() - t0, a.message()), file=sys.stderr, flush=True)
            if isinstance(a, lt.dht_put_alert):
                print('put seq %d success %d' % (a.seq, a.num_success), flush=True)
                return 0 if a.num_success >= 1 and a.seq == 1 else 1
    print('put sent, not reported within %g s' % args.wait_s, flush=True)
    return 0


def cmd_get_message(args):
    import libtorrent as lt
    r_priv = read_key(args.reader_key)
    w_pub = base64.b64decode(args.writer_pub)
    T = window_start(args.period)
    shared = crypto_scalarmult(r_priv, w_pub)
    pub = ci.blind_public(w_pub, shared, T, 'message')
    ses = ro_session(args.addr, args.port)
    deadline = time.time() + args.timeout_s
    lt_join(ses, parse_boot(args.boot), 4, deadline)
    asked = 0
    while time.time() < deadline:
        if time.time() - asked > 3:
            ses.dht_get_mutable_item(pub, b'')
            asked = time.time()
        time.sleep(0.2)
        for a in ses.pop_alerts():
            if not isinstance(a, lt.dht_mutable_item_alert):
                continue
            # The bindings give the item as a dict: key, value (v decoded),
            # signature, seq, salt, authoritative.
            item = a.item if isinstance(a.item, dict) else {}
            sealed = item.get('value', b'')
            if not isinstance(sealed, bytes) or len(sealed) < 25:
                continue
            key = crypto_box_beforenm(w_pub, r_priv)
            seq = item.get('seq', -1)
            nonce = ci.H('mt6d/1 message-nonce', b'\x01', ci.u64(T), bytes([seq]),
                         w_pub, sealed[1:9])[:24]
            text = crypto_box_open_afternm(sealed[9:], nonce, key)
            assert crypto_scalarmult_base(r_priv) != w_pub
            print('message seq %d %s' % (seq, text.decode()), flush=True)
            return 0
    print('get: nothing', flush=True)
    return 1


def cmd_raw_get(args):
    import hashlib
    import socket
    c_priv = read_key(args.client_key)
    s_pub = base64.b64decode(args.server_pub)
    T = window_start(args.period)
    pub = ci.blind_public(s_pub, crypto_scalarmult(c_priv, s_pub), T)
    target = hashlib.sha1(pub).digest()
    q = b'd1:ad2:id20:' + os.urandom(20) + b'6:target20:' + target + \
        b'e1:q3:get1:t2:ig1:y1:qe'
    nodes = [a for a in args.nodes.split(',') if a]
    served = 0
    for addr in nodes:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.settimeout(1.0)
        try:
            sock.sendto(q, (addr, 6881))
            reply, _ = sock.recvfrom(2048)
        except OSError:
            continue
        finally:
            sock.close()
        # The item's fields in the reply dict: k is A', seq as asked.
        if b'1:k32:' + pub in reply and b'3:seqi%de' % args.seq in reply and b'1:v' in reply:
            served += 1
    print('served %d of %d' % (served, len(nodes)), flush=True)
    return 0 if served >= 1 else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('lt-put-config')
    p.add_argument('--server-key', required=True)
    p.add_argument('--client-pub', required=True)
    p.add_argument('--intro-key', required=True)
    p.add_argument('--seed-address', required=True)
    p.add_argument('--wait-s', type=float, default=6)
    p = sub.add_parser('lt-get-message')
    p.add_argument('--reader-key', required=True)
    p.add_argument('--writer-pub', required=True)
    for name in ('lt-put-config', 'lt-get-message'):
        p = sub.choices[name]
        p.add_argument('--addr', required=True)
        p.add_argument('--port', type=int, default=6881)
        p.add_argument('--boot', required=True)
        p.add_argument('--period', type=int, required=True)
        p.add_argument('--timeout-s', type=float, default=20)
    p = sub.add_parser('raw-get')
    p.add_argument('--server-pub', required=True)
    p.add_argument('--client-key', required=True)
    p.add_argument('--period', type=int, required=True)
    p.add_argument('--nodes', required=True)
    p.add_argument('--seq', type=int, default=1)
    args = ap.parse_args()
    return {'lt-put-config': cmd_put_config, 'lt-get-message': cmd_get_message,
            'raw-get': cmd_raw_get}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
