#!/usr/bin/python3
"""Helper of tests/netns/t_rendezvous.sh: the chunk infohashes of a
descriptor (docs/PROTOCOL.md 6.1, recomputed independently of the C code) and
junk ports for an attacker who announces under them.

  rdv_chunks.py junk DESCRIPTOR_HEX EPOCH N_CHUNKS PORTS_PER_CHUNK
      prints "IH:PORT,PORT,..." per chunk, with random distinct high bytes
      (a well-formed but meaningless stuffed message).
"""
import hashlib
import random
import sys


def h(label, *parts):
    m = hashlib.sha256()
    m.update(bytes([len(label)]) + label.encode())
    for p in parts:
        m.update(p)
    return m.digest()


def chunk_infohash(d, epoch, j):
    return h('mt6d/1 chunk', d, bytes([epoch]), bytes([j]))[:20]


def main():
    if len(sys.argv) != 6 or sys.argv[1] != 'junk':
        print(__doc__, file=sys.stderr)
        return 2
    d = bytes.fromhex(sys.argv[2])
    epoch, n_chunks, per = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rnd = random.SystemRandom()
    for j in range(n_chunks):
        highs = sorted(rnd.sample(range(1, 256), per))
        ports = [(hb << 8) | rnd.randrange(256) for hb in highs]
        print('%s:%s' % (chunk_infohash(d, epoch, j).hex(), ','.join(map(str, ports))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
