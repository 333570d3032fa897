#!/usr/bin/python3
"""mt6d watch on a terminal, driven through a pseudo-terminal, against a
stand-in for a daemon's control socket (the same text protocol as
mt6d/daemon/ctl.h, with counters and endpoints that move at each request).

Checks: repainting in place with plain VT100 sequences (no alternate
screen, no mouse), never wider or taller than the terminal, a resize taken
at once, SIGINT and SIGTERM end it with the cursor shown and exit 0,
TERM=dumb prints plain text, a daemon gone ends it with exit 1 after the
terminal is restored.

usage: watch_tty.py MT6D_BINARY WORK_DIR
"""
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time

mt6d, work = sys.argv[1], sys.argv[2]
sock_path = os.path.join(work, "fake.sock")
failures = 0


def check(what, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1
        if detail:
            print("     | " + detail.replace("\n", "\n     | ")[-3000:])


def reply(n):
    now = int(time.time())
    lines = [
        "role=server", "interface=mt6d0", "link=eth0", "rotation_ms=1000",
        "threat=normal", "threat_set=normal", "key_generation=1",
        "next_rotation_ms=500",
        "intro_endpoint=[2001:db8:0:1:aaaa:bbbb:cccc:%x]:40000" % n,
        "intro_endpoint_next=[2001:db8:0:1:aaaa:bbbb:cccc:%x]:40000" % (n + 1),
    ]
    for c in range(1, 13):
        lines += [
            "client=client-%d" % c, "session_interface=mt6d%d" % c,
            "server_tunnel_address=2001:db8:ffff::1:0:%x" % c,
            "client_tunnel_address=2001:db8:ffff::2:0:%x" % c,
            "rotation_ms=1000", "next_rotation_ms=500",
            "own_endpoint=[2001:db8:0:1:1111:2222:%x:%x]:50000" % (c, n),
            "own_endpoint_next=[2001:db8:0:1:1111:2222:%x:%x]:50001" % (c, n + 1),
            "peer_endpoint=[2001:db8:1:%x:1111:2222:3333:%x]:50002" % (c, n),
            "peer_endpoint_next=[2001:db8:1:%x:1111:2222:3333:%x]:50003" % (c, n + 1),
            "last_rx=%d" % (now - 1),
            "rx_bytes=%d" % (n * 100000), "rx_packets=%d" % (n * 100),
            "tx_bytes=%d" % (n * 200000), "tx_packets=%d" % (n * 200),
            "drops_auth=0", "drops_replay=0", "rx_prev_slot=0",
            "rx_next_slot=0", "rx_far_slot=0", "rotations=%d" % n,
        ]
    return "\n".join(lines) + "\nerrno=0\n\n"


class FakeDaemon(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.n = 0
        self.running = True

    def run(self):
        while self.running:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                data = b""
                while not data.endswith(b"\n\n"):
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.n += 1
                c.sendall(reply(self.n).encode())

    def stop(self):
        self.running = False
        os.unlink(self.path)
        try:
            self.srv.shutdown(socket.SHUT_RDWR)   # wakes accept()
        except OSError:
            pass
        self.srv.close()


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn(args, term, rows=24, cols=80):
    """The command on a new pseudo-terminal of rows x cols."""
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, TERM=term)
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        try:
            os.execve(mt6d, [mt6d] + args, env)
        finally:
            os._exit(127)
    set_size(fd, rows, cols)
    return pid, fd


def read_for(fd, seconds):
    out = b""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def finish(pid, fd, seconds=5):
    """Everything left to read, and the exit status."""
    out = b""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
    for _ in range(50):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os.close(fd)
            return out, os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return out, None


ESC = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def frames(out):
    """The frames painted (each begins with cursor home), as text lines."""
    parts = out.split(b"\x1b[H")[1:]
    result = []
    for p in parts:
        text = ESC.sub(b"", p).decode(errors="replace").replace("\r", "")
        result.append(text.split("\n"))
    return result


def terminal_checks(term, sig):
    pid, fd = spawn(["watch", "-s", sock_path, "--interval", "0.2"], term)
    out = read_for(fd, 1.2)
    set_size(fd, 24, 50)   # the kernel sends SIGWINCH to the foreground
    out_after = read_for(fd, 0.3)
    os.kill(pid, sig)
    rest, code = finish(pid, fd)
    out_all = out + out_after + rest
    name = "TERM=%s, %s" % (term, signal.Signals(sig).name)
    check("%s: exits 0 (%s)" % (name, code), code == 0, out_all[-500:].decode(errors="replace"))
    check("%s: repaints in place (cursor home, erase line and below)" % name,
          out.count(b"\x1b[H") >= 3 and b"\x1b[K" in out and b"\x1b[J" in out)
    check("%s: no alternate screen, no mouse" % name,
          b"?1049" not in out_all and b"?47h" not in out_all and b"?1000" not in out_all)
    check("%s: the cursor is hidden while drawing and shown at the end" % name,
          b"\x1b[?25l" in out and out_all.rstrip(b"\r\n").endswith(b"\x1b[?25h"))
    fr = frames(out)
    widest = max(len(line) for f in fr for line in f)
    tallest = max(len(f) for f in fr)
    check("%s: %d frames, none wider than 80 (%d) or taller than 24 (%d)" %
          (name, len(fr), widest, tallest), len(fr) >= 3 and widest <= 80 and tallest <= 24,
          "\n".join(fr[-1]))
    text = "\n".join(fr[-1])
    check("%s: the frame shows the session and its endpoints" % name,
          "client-1 on mt6d1" in text and "  own   now  [2001:db8:0:1:1111:2222:1:" in text,
          text)
    check("%s: sessions that do not fit are listed in short, then counted" % name,
          re.search(r"\nclient-2 +mt6d2 ", text) is not None and "more session" in text, text)
    check("%s: rates from the second frame" % name, "KiB/s" in text, text)
    fr2 = frames(out_after)
    widest2 = max((len(line) for f in fr2 for line in f), default=999)
    check("%s: after a resize to 50 columns, no line is wider (%d)" % (name, widest2),
          len(fr2) >= 1 and widest2 <= 50, out_after.decode(errors="replace"))


def main():
    global failures
    daemon = FakeDaemon(sock_path)
    daemon.start()

    terminal_checks("vt100", signal.SIGINT)
    terminal_checks("xterm-256color", signal.SIGTERM)

    # A dumb terminal gets plain text: no escape sequence at all.
    pid, fd = spawn(["watch", "-s", sock_path, "--interval", "0.2", "--count", "3"], "dumb")
    out, code = finish(pid, fd)
    check("TERM=dumb: exits 0 after --count 3 (%s)" % code, code == 0)
    check("TERM=dumb: no escape sequence", b"\x1b" not in out, repr(out[:300]))
    check("TERM=dumb: three refreshes after their headers",
          len(re.findall(rb"--- mt6d watch: refresh [123] at ", out)) == 3)

    # The daemon goes away under watch: exit 1, terminal restored first.
    pid, fd = spawn(["watch", "-s", sock_path, "--interval", "0.2"], "vt100")
    out = read_for(fd, 0.8)
    daemon.stop()
    rest, code = finish(pid, fd)
    tail = rest.decode(errors="replace")
    check("daemon gone: exit 1 (%s)" % code, code == 1, tail)
    check("daemon gone: the cursor is shown, then the error",
          re.search(r"\x1b\[\?25h.*cannot talk to '%s'" % re.escape(sock_path), tail, re.S)
          is not None, repr(tail[-300:]))

    print("all checks passed" if not failures else "%d check(s) failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
