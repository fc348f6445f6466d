#!/usr/bin/python3
"""bench/abuse.py: the abuse cases of issue 13, alknet and Debian's sshd side by side (the
figures in docs/reliability.md). Not a test: it measures and prints a table.

    bench/abuse.py [--alknet ./alknet] [--servers alknet,sshd]

For each server: RSS of its process tree before and after one client floods 600,000
pre-auth messages that each earn a reply and never reads (unknown message numbers, repeated
SERVICE_REQUEST, USERAUTH none); server CPU per bogus publickey request (made-up 3072-bit
RSA keys with 3070-bit exponents, random signatures; 100 connections); and a logged-in
user's round trip through an ssh -L tunnel while each flood runs. sshd runs with its default
MaxStartups and MaxAuthTries (the bench config's MaxStartups 100000 removed). Needs
build/tests/sshflood (make build/tests/sshflood) and root for sshd.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib as B  # noqa: E402

FLOOD = os.path.join(B.ROOT, "build", "tests", "sshflood")


def rss_tree(srv):
    return B.tree_mem(srv.pid)["rss_kib"]


def echo_target():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def run():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


class Tunnel:
    """ssh -N -L to the echo target; rtt() is one 100-byte round trip in ms (None: failed)."""

    def __init__(self, srv, keys, user, echo_port):
        self.lport = B.free_port()
        argv = B.ssh_argv(srv, keys, user, "-N", "-L", "%d:127.0.0.1:%d" % (self.lport,
                                                                           echo_port))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        B.wait_until(lambda: B.listening(self.lport), 15)

    def rtt(self):
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", self.lport), timeout=20) as s:
                s.sendall(b"x" * 100)
                got = b""
                while len(got) < 100:
                    d = s.recv(100)
                    if not d:
                        return None
                    got += d
        except OSError:
            return None
        return (time.monotonic() - t0) * 1000

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def flood_with_rtts(srv, tunnel, argv):
    rtts, done = [], threading.Event()

    def probe():
        while not done.is_set():
            rtts.append(tunnel.rtt())
            time.sleep(0.05)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout.strip()
    done.set()
    t.join()
    ok = [r for r in rtts if r is not None]
    return out, (statistics.median(ok) if ok else None), (max(ok) if ok else None), \
        len(rtts) - len(ok)


def run_server(name, binary, work, keys, user):
    if name == "alknet":
        srv = B.start_alknet(binary, work, keys)
    else:
        cfg = B.SSHD_CONFIG
        B.SSHD_CONFIG = cfg.replace("MaxStartups 100000\n", "")
        try:
            srv = B.start_sshd(work, keys, user)
        finally:
            B.SSHD_CONFIG = cfg
    return srv


def measure(name, binary, work, keys, user, echo_port):
    srv = run_server(name, binary, work, keys, user)
    rows = []
    try:
        tunnel = Tunnel(srv, keys, user, echo_port)
        base_rtt = statistics.median([tunnel.rtt() or 0 for _ in range(20)])
        rows.append((name, "idle", "-", rss_tree(srv), "-", "%.2f" % base_rtt, "-"))
        for mode in ("unknown", "service", "none"):
            before = rss_tree(srv)
            out, med, mx, fails = flood_with_rtts(
                srv, tunnel, [FLOOD, str(srv.port), mode, "600000", "3"])
            peak = B.tree_mem(srv.pid)["rss_kib"]
            rows.append((name, mode, out, peak - before, "-",
                         "%.2f / %.1f" % (med or -1, mx or -1), fails))
        cpu0 = srv.cpu()
        for _ in range(100):
            subprocess.run([FLOOD, str(srv.port), "badrsa", "10", "0.1"],
                           capture_output=True, timeout=60)
        srv.settle(15)
        per = (srv.cpu() - cpu0) / 1000 * 1e6
        rows.append((name, "badrsa x1000", "-", "-", "%.0f us/request" % per, "-", "-"))
        tunnel.close()
    finally:
        srv.stop()
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--alknet", default=os.path.join(B.ROOT, "alknet"))
    p.add_argument("--servers", default="alknet,sshd")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="alknet-abuse-")
    keys = B.Keys(work)
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    echo_port = echo_target()
    rows = []
    for name in a.servers.split(","):
        rows += measure(name, a.alknet, work, keys, user, echo_port)
    print("| server | case | flood client | RSS growth KiB | CPU | legit RTT ms median / max "
          "| failed RTTs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
