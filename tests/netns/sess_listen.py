#!/usr/bin/python3
"""Listener for the session isolation tests: counts what reaches a UDP port.

  sess_listen.py ADDR PORT SECONDS
      binds [ADDR]:PORT, prints "ready" once bound, then after SECONDS
      prints "received N" (datagrams that arrived) and exits 0.
"""
import socket
import sys
import time


def main():
    addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    s.settimeout(0.1)
    n = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            s.recvfrom(65536)
            n += 1
        except socket.timeout:
            pass
    print("received %d" % n, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
