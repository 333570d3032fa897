#!/usr/bin/python3
"""Probes addresses as an outsider would (the silence tests, t_guard_*.sh):

  guard_probe.py SRC ADDR...
      from SRC (an address of this namespace), sends to each ADDR one ICMPv6
      echo request, UDP datagrams to 3 random ports and a TCP SYN to 2 ports
      (22 and a random one), then waits 1.5 s. Prints one line per ADDR with
      what answered ("echo", "unreach", "rst", "synack", "udp") and a last
      line "answers N". The authoritative count is the capture on the
      router; this one says which probe got the answer.

  guard_probe.py ping DST SECONDS
      an ICMPv6 echo request to DST every 0.1 s for SECONDS, whatever the
      send errors (ping(8) stops sending after "No route to host"): one
      line "<unix time> reply <seq>" per reply, then "sent N errors E".
"""
import random
import select
import socket
import struct
import sys
import time

ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ICMP6_ERRORS = (1, 2, 3, 4)


def ping(dst, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    ident = random.randrange(1, 65535)
    sent = errors = 0
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_send:
            try:
                # Never blocks: a TUN that nobody reads holds our buffers.
                s.sendto(struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, ident, sent & 0xffff)
                         + b"guard", socket.MSG_DONTWAIT, (dst, 0))
            except OSError:
                errors += 1
            sent += 1
            next_send += 0.1
        r, _, _ = select.select([s], [], [], max(0.0, min(next_send, end) - time.monotonic()))
        if r:
            try:
                data, frm = s.recvfrom(2048)
            except OSError:
                continue
            if data[0] == ICMP6_ECHO_REPLY and struct.unpack("!H", data[4:6])[0] == ident:
                print(f"{time.time():.6f} reply {struct.unpack('!H', data[6:8])[0]}", flush=True)
    print(f"sent {sent} errors {errors}", flush=True)


def main():
    if sys.argv[1] == "ping":
        ping(sys.argv[2], float(sys.argv[3]))
        return
    src, targets = sys.argv[1], sys.argv[2:]
    rng = random.Random()
    icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    icmp.bind((src, 0))
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.bind((src, 0))
    tcps = []
    ident = rng.randrange(1, 65535)
    for i, t in enumerate(targets):
        icmp.sendto(struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, ident, i) + b"probe", (t, 0))
        for _ in range(3):
            udp.sendto(b"probe", (t, rng.randrange(1024, 65535)))
        for port in (22, rng.randrange(1024, 65535)):
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.setblocking(False)
            s.connect_ex((t, port))
            tcps.append((i, s))
    seen = {i: set() for i in range(len(targets))}
    index = {t: i for i, t in enumerate(targets)}
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        r, _, _ = select.select([icmp, udp], [], [], 0.1)
        for sock in r:
            data, frm = sock.recvfrom(2048)
            i = index.get(frm[0].split("%")[0])
            if sock is udp:
                if i is not None:
                    seen[i].add("udp")
            elif data[0] == ICMP6_ECHO_REPLY and i is not None:
                seen[i].add("echo")
            elif data[0] in ICMP6_ERRORS and len(data) >= 48:
                # The invoking packet's destination says which target answered.
                dst = socket.inet_ntop(socket.AF_INET6, data[8 + 24:8 + 40])
                if dst in index:
                    seen[index[dst]].add("unreach")
    for i, s in tcps:
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 111:
            seen[i].add("rst")
        elif err == 0:
            try:
                s.getpeername()
                seen[i].add("synack")
            except OSError:
                pass
        s.close()
    total = 0
    for i, t in enumerate(targets):
        total += len(seen[i])
        print(f"{t} {' '.join(sorted(seen[i])) or '-'}")
    print(f"answers {total}")


if __name__ == "__main__":
    main()
