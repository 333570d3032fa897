#!/usr/bin/python3
"""An attacker on the router between two mt6d-peer hosts: it sees the MT6D
addresses and ports on the wire but has no key.

  peer_attack.py IFACE DST_PREFIX N

Sniffs (AF_PACKET) UDP datagrams going to DST_PREFIX (a /64, e.g.
2001:db8:1:1::) and, for the first N, sends to the same address and port:
  - the captured datagram again at once (a replay in the same slot);
  - a forgery: the captured datagram's first 8 bytes (its protected
    header: nothing there can be read or edited without the key, so the
    attacker keeps half of it as is) followed by random bytes;
  - an empty datagram (zero bytes of UDP payload);
  - the captured datagram again about 1.2 slots later (a replay in another
    slot).
Prints "replayed=N forged=N empty=N late=N" and exits 0 once all were sent."""
import ipaddress
import os
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD


def main():
    iface, prefix, n = sys.argv[1], ipaddress.IPv6Address(sys.argv[2]).packed[:8], int(sys.argv[3])
    rot_s = float(os.environ.get("ROT_S", "1"))
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    sniff.bind((iface, 0))
    sniff.settimeout(10)
    out = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    captured, forged, empty, seen = [], 0, 0, set()
    deadline = time.monotonic() + 30
    while len(captured) < n and time.monotonic() < deadline:
        frame = sniff.recv(65535)
        ip = frame[14:]
        if len(ip) < 48 + 32 or ip[6] != 17 or ip[24:32] != prefix:
            continue
        payload = ip[48:40 + struct.unpack(">H", ip[4:6])[0]]
        if payload in seen:
            continue  # our own replay, seen on the bridge
        dst = str(ipaddress.IPv6Address(ip[24:40]))
        dport = struct.unpack(">H", ip[42:44])[0]
        out.sendto(payload, (dst, dport))
        seen.add(payload)
        fake = payload[:8] + os.urandom(len(payload) - 8)
        seen.add(fake)
        out.sendto(fake, (dst, dport))
        forged += 1
        out.sendto(b"", (dst, dport))
        empty += 1
        captured.append((time.monotonic(), payload, dst, dport))
        time.sleep(0.05)
    late = 0
    for t, payload, dst, dport in captured:
        delay = t + 1.2 * rot_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.sendto(payload, (dst, dport))
        late += 1
    print("replayed=%d forged=%d empty=%d late=%d" % (len(captured), forged, empty, late),
          flush=True)
    sys.exit(0 if len(captured) == n else 1)


if __name__ == "__main__":
    main()
