#!/usr/bin/python3
"""UDP flood for the mt6d-peer tests: as fast as one process can, with UDP
GSO (each send is cut by the kernel, here by the tunnel, into datagrams of
SIZE bytes), to ADDR PORT for SECONDS; prints the datagrams sent.

  udp_flood.py ADDR PORT SECONDS [SIZE]
"""
import socket
import sys
import time

UDP_SEGMENT = 103  # linux/udp.h


def main():
    addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 1200
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    per_send = 40
    try:
        s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
    except OSError:
        per_send = 1
    buf = bytes(size * per_send)
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.sendto(buf, (addr, port))
            sent += per_send
        except (BlockingIOError, ConnectionRefusedError, OSError):
            time.sleep(0.0005)
    print(sent, flush=True)


if __name__ == "__main__":
    main()
