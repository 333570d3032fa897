#!/usr/bin/python3
"""Probe for the mt6d-server tests: sends datagrams to an address and port
and reports whether anything came back.

  sess_probe.py ADDR PORT COUNT WAIT_S [SRC [tunnel]]
      sends COUNT datagrams of random bytes (sizes 32..300) to [ADDR]:PORT
      (from SRC if given and not "-": any address, even another host's, with
      IPV6_FREEBIND), then listens WAIT_S seconds; exit 0 and prints
      "no reply" when nothing came back, exit 1 and "reply" otherwise.
      "tunnel": datagrams of tunnel-packet sizes (72..300 bytes, at least the
      32 of a tunnel packet's overhead), so that a receiver counts each as an
      authentication failure rather than as malformed (a tunnel packet has
      nothing in clear to imitate: docs/PROTOCOL.md section 9).
"""
import os
import random
import socket
import sys
import time


def main():
    addr, port, count, wait_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if len(sys.argv) > 5 and sys.argv[5] != "-":
        s.setsockopt(socket.IPPROTO_IPV6, 78, 1)  # IPV6_FREEBIND
        s.bind((sys.argv[5], 0))
    is_tunnel = len(sys.argv) > 6 and sys.argv[6] == "tunnel"
    rng = random.Random(1)
    for _ in range(count):
        if is_tunnel:
            s.sendto(os.urandom(rng.randint(72, 300)), (addr, port))
        else:
            s.sendto(os.urandom(rng.randint(32, 300)), (addr, port))
    s.settimeout(0.2)
    end = time.time() + wait_s
    while time.time() < end:
        try:
            data, frm = s.recvfrom(4096)
        except socket.timeout:
            continue
        except OSError as e:  # ICMP errors are answers too
            print("reply (error %s)" % e)
            return 1
        print("reply from %s: %d bytes" % (frm[0], len(data)))
        return 1
    print("no reply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
