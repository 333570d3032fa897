#!/usr/bin/python3
"""TCP stream for the mt6d-peer tests: a paced sender and a receiver, each
printing the SHA-256 of the bytes it saw, so both ends can be compared.

  peer_stream.py recv ADDR PORT              prints "<bytes> <sha256>" at EOF
  peer_stream.py send ADDR PORT SECONDS RATE MARKER [SPORT]
      sends RATE bytes/s for SECONDS (pseudo-random data with MARKER
      embedded in every chunk) from source port SPORT (default: any),
      prints "<bytes> <sha256>" when done
"""
import hashlib
import random
import socket
import sys
import time


def recv(addr, port):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    srv.settimeout(30)
    conn, _ = srv.accept()
    conn.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = conn.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def send(addr, port, seconds, rate, marker, sport=0):
    rng = random.Random(6)
    s = socket.create_connection((addr, port), timeout=10, source_address=("::", sport))
    s.settimeout(60)
    h, n = hashlib.sha256(), 0
    chunk = max(256, rate // 20)  # 20 writes per second
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        data = rng.randbytes(chunk - len(marker)) + marker.encode()
        s.sendall(data)
        h.update(data)
        n += len(data)
        i += 1
        delay = start + i * chunk / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: every byte was taken, no reset.
    while s.recv(4096):
        pass
    s.close()
    print(n, h.hexdigest(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
             int(sys.argv[7]) if len(sys.argv) > 7 else 0)
