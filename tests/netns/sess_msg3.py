#!/usr/bin/python3
"""Replays a rotation change (msg 3) at an mt6d-client, as someone who got
hold of one would (issue 13: a message that once left in clear, or a replay
the tunnel layer let through): the client must apply only a change newer
than the last it applied.

  sess_msg3.py capture IFACE FILE TIMEOUT_S
      on IFACE (the server's session interface of that client) records the
      first IPv6 packet carrying a rotation change (next header 253, a
      58-byte message of type 3) into FILE (hex); exit 0, or 1 if none came.
  sess_msg3.py inject FILE
      sends that packet again, as it was (source the server's tunnel
      address, destination the client's), from inside the client's host
      (a raw socket, header included); exit 0."""
import socket
import sys
import time

ETH_P_ALL = 0x0003
MSG_ROTATION_LEN = 58


def capture(iface, path, timeout_s):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.5)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            continue
        # A TUN has no link header: the frame is the IPv6 packet.
        if (len(pkt) == 40 + MSG_ROTATION_LEN and pkt[0] >> 4 == 6 and pkt[6] == 253
                and pkt[41] == 3):
            with open(path, "w") as f:
                f.write(pkt.hex() + "\n")
            print("captured a rotation change")
            return 0
    print("no rotation change seen")
    return 1


def inject(path):
    pkt = bytes.fromhex(open(path).read().strip())
    dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(pkt, (dst, 0))
    print("sent it to %s" % dst)
    return 0


def main():
    if sys.argv[1] == "capture":
        return capture(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    return inject(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
