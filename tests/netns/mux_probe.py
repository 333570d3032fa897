#!/usr/bin/python3
"""An attacker on a client host against the server's shared slot sockets
(t_sessions_shared_sockets.sh):

  mux_probe.py PREFIX N [ADDR PORT]...

sends one UDP datagram of garbage to each of N random addresses of the
/64 PREFIX on a random port, and 5 to each ADDR PORT given (a live
endpoint of a session), then listens 1.5 s for anything that comes back:
an ICMPv6 error (port unreachable and the like, on a raw socket) or UDP (on the
sending socket). Prints "sent S answers A" (A lines of what answered
first)."""
import ipaddress
import os
import random
import select
import socket
import sys
import time


def main():
    net = ipaddress.IPv6Network(sys.argv[1])
    n = int(sys.argv[2])
    targets = [(str(net[random.randrange(1, 2 ** 64)]), random.randrange(1024, 65536)) for _ in range(n)]
    rest = sys.argv[3:]
    for i in range(0, len(rest) - 1, 2):
        targets += [(rest[i], int(rest[i + 1]))] * 5
    icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sent = 0
    for addr, port in targets:
        try:
            udp.sendto(os.urandom(random.randrange(1, 200)), (addr, port))
            sent += 1
        except OSError:
            pass
    answers = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        r, _, _ = select.select([icmp, udp], [], [], max(0.0, deadline - time.monotonic()))
        for s in r:
            data, src = s.recvfrom(2048)
            if s is icmp and data[0] not in (1, 2, 3, 4):
                continue  # neighbour discovery, a router's redirect: not an error of ours
            answers.append("%s from %s type %d" % ("icmp" if s is icmp else "udp", src[0], data[0]))
    for a in answers:
        print(a)
    print("sent %d answers %d" % (sent, len(answers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
