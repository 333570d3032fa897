#!/usr/bin/python3
"""A recorder on the router of the mt6d-server tests: it captures one
configuration request on its way to the server and sends it again, exactly
as captured (source address and port included), so that it reaches the
server as if the client had sent it twice.

  sess_replay.py IFACE SRC_PREFIX DST_PREFIX UDP_LEN COUNT [GAP_S [DELAY_S]]

Sniffs (AF_PACKET) on IFACE, the router's port toward the server, the
first frame that carries a UDP datagram of UDP_LEN payload bytes (or
MIN-MAX) from
SRC_PREFIX to DST_PREFIX (/64s), waits 0.3 s (DELAY_S) and sends that frame again
COUNT times on the same port (GAP_S seconds apart, default 0, so that a
long burst does not overflow the receiver's socket); prints "replayed COUNT from [ADDR]:PORT" and
exits 0 (1 if nothing was captured in 20 s)."""
import ipaddress
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003  # a bridge port delivers only to taps of every protocol


def udp_checksum(ip):
    """The UDP checksum of an IPv6 packet (RFC 8200, 8.1): a frame captured
    on a veth carries only the partial sum of checksum offload."""
    length = struct.unpack(">H", ip[4:6])[0]
    udp = bytearray(ip[40:40 + length])
    udp[6:8] = b"\0\0"
    data = ip[8:40] + struct.pack(">I", length) + b"\0\0\0\x11" + bytes(udp)
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF) or 0xFFFF


def main():
    iface = sys.argv[1]
    src = ipaddress.IPv6Address(sys.argv[2]).packed[:8]
    dst = ipaddress.IPv6Address(sys.argv[3]).packed[:8]
    # UDP_LEN may be a range "MIN-MAX" (a tunnel datagram of unknown padding).
    lo, _, hi = sys.argv[4].partition("-")
    udp_min, udp_max, count = int(lo), int(hi or lo), int(sys.argv[5])
    gap_s = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    delay_s = float(sys.argv[7]) if len(sys.argv) > 7 else 0.3
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.bind((iface, 0))
    sniff.settimeout(1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            frame = sniff.recv(65535)
        except socket.timeout:
            continue
        ip = frame[14:]
        if frame[12:14] != b"\x86\xdd" or len(ip) < 48 or ip[6] != 17 or ip[8:16] != src or ip[24:32] != dst:
            continue
        udp_len = struct.unpack(">H", ip[4:6])[0] - 8
        if not udp_min <= udp_len <= udp_max:
            continue
        pkt = bytearray(ip[:40 + 8 + udp_len])
        pkt[46:48] = struct.pack(">H", udp_checksum(pkt))
        time.sleep(delay_s)
        for _ in range(count):
            sniff.send(frame[:14] + bytes(pkt))
            if gap_s:
                time.sleep(gap_s)
        print("replayed %d from [%s]:%d" % (count, ipaddress.IPv6Address(bytes(pkt[8:24])), struct.unpack(">H", pkt[40:42])[0]))
        return 0
    print("nothing captured")
    return 1


if __name__ == "__main__":
    sys.exit(main())
