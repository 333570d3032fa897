#!/usr/bin/python3
"""What N TUN devices cost the kernel (bench/tun_cost.sh runs this inside a
namespace of its own).

  tun_cost.py N

Opens /dev/net/tun N times with IFF_TUN | IFF_NO_PI (as mt6d's tun_new does:
non-persistent, so each device lives as long as its descriptor), then gives
each what a session's set-up gives its interface: link up, an address /128
and a /128 route to the peer's tunnel address (`ip -batch`, as fast as
iproute2 goes; one batch per step, timed apart). Measures, and prints as key=value lines: the time to open
the devices and to configure them, /proc/meminfo's MemAvailable, Slab and
Percpu before and with the N devices, the time of `ip -o link` and
`ip -6 route` dumps with N present, and the time until every device is gone
once the descriptors close. /proc/meminfo is the machine's, not the
namespace's: other work on the machine shows in the deltas.
"""
import fcntl
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def ip_time(*args):
    t0 = time.monotonic()
    out = subprocess.run(["ip", *args], check=True, stdout=subprocess.PIPE).stdout
    return time.monotonic() - t0, out.count(b"\n")


def count_links():
    out = subprocess.run(["ip", "-o", "link", "show", "type", "tun"], check=True,
                         stdout=subprocess.PIPE).stdout
    return out.count(b"\n")


def main():
    n = int(sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want:
        print("error=RLIMIT_NOFILE %d is below %d" % (hard, want))
        return 1
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    before = meminfo()
    fds = []
    t0 = time.monotonic()
    for i in range(n):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tc%d" % i, IFF_TUN | IFF_NO_PI))
        fds.append(fd)
    t_open = time.monotonic() - t0
    # Three batches, so that a superlinear step shows which it is.
    steps = {
        "up": "link set tc{i} up\n",
        "addr": "address add 2001:db8:ff01::1:{hi:x}:{lo:x}/128 dev tc{i} nodad\n",
        "route": "route add 2001:db8:ff01::2:{hi:x}:{lo:x}/128 dev tc{i}\n",
    }
    step_s = {}
    for step, line in steps.items():
        with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as f:
            batch = f.name
            for i in range(n):
                f.write(line.format(i=i, hi=i >> 16, lo=i & 0xffff))
        t0 = time.monotonic()
        subprocess.run(["ip", "-batch", batch], check=True)
        step_s[step] = time.monotonic() - t0
        os.unlink(batch)
    t_conf = sum(step_s.values())
    time.sleep(1)  # let deferred frees and per-cpu allocations settle
    with_n = meminfo()
    t_link, n_link = ip_time("-o", "link")
    t_route, n_route = ip_time("-6", "route")
    t_addr, _ = ip_time("-6", "-o", "addr")
    t0 = time.monotonic()
    for fd in fds:
        os.close(fd)
    t_close = time.monotonic() - t0
    deadline = time.monotonic() + 300
    left = count_links()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = count_links()
    t_gone = time.monotonic() - t0
    print("n=%d" % n)
    print("open_s=%.3f" % t_open)
    print("configure_s=%.3f" % t_conf)
    for step, secs in step_s.items():
        print("%s_s=%.3f" % (step, secs))
    print("create_s=%.3f" % (t_open + t_conf))
    print("mem_available_kib=%d" % (before["MemAvailable"] - with_n["MemAvailable"]))
    print("slab_kib=%d" % (with_n["Slab"] - before["Slab"]))
    print("percpu_kib=%d" % (with_n.get("Percpu", 0) - before.get("Percpu", 0)))
    print("link_dump_s=%.3f" % t_link)
    print("link_dump_lines=%d" % n_link)
    print("route_dump_s=%.3f" % t_route)
    print("route_dump_lines=%d" % n_route)
    print("addr_dump_s=%.3f" % t_addr)
    print("close_s=%.3f" % t_close)
    print("delete_s=%.3f" % t_gone)
    print("left=%d" % left)
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
