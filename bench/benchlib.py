"""Process accounting and server control for bench/run.

- CPU: utime+stime+cutime+cstime from /proc/PID/stat, summed over a process tree. A process
  that exits is counted in its parent's cutime/cstime once the parent reaps it (sshd's
  listener reaps each per-connection process, which reaps its own privsep children), so the
  tree sum taken after the tree has settled is exact for everything that ran under the root.
- Memory: Pss (and Rss, private, anonymous) from /proc/PID/smaps_rollup, summed over the tree.
- Every process is started here, remembered by PID, and stopped by that PID only.
"""
import json
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SSHD = "/usr/sbin/sshd"

_started = []  # every Popen this harness created, for cleanup by PID


# ---------------------------------------------------------------- /proc readers

def read_stat(pid):
    """Returns (ppid, state, cpu_ticks_self, cpu_ticks_children) or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    f = s[s.rindex(")") + 2:].split()
    # f[0]=state(3) f[1]=ppid(4) ... f[11]=utime(14) f[12]=stime f[13]=cutime f[14]=cstime
    return int(f[1]), f[0], int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def all_ppids():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st:
                out[int(d)] = st[0]
    return out


def tree_pids(root):
    """root and all its descendants (one scan of /proc)."""
    if read_stat(root) is None:
        return []
    kids = {}
    for pid, ppid in all_ppids().items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(root):
    """CPU seconds of root's tree, including reaped children. Returns (total_s, nprocs)."""
    ticks, n = 0, 0
    for pid in tree_pids(root):
        st = read_stat(pid)
        if st:
            ticks += st[2] + st[3]
            n += 1
    return ticks / CLK_TCK, n


def machine_busy():
    """(busy CPU seconds of the whole machine, all cores, from /proc/stat; monotonic time)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK, time.monotonic()


def other_load(start, ours_cpu_s):
    """Cores used by everything else on the machine (other users, the harness) since start,
    given the CPU seconds of the processes being measured."""
    busy, now = machine_busy()
    wall = max(now - start[1], 1e-6)
    return max(0.0, (busy - start[0] - ours_cpu_s) / wall)


def smaps_rollup(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1].isdigit():
                    out[parts[0].rstrip(":")] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, PermissionError):
        return 0


def tree_mem(root):
    """KiB summed over root's tree: pss, rss, uss (private), pss_anon; plus fds and nprocs."""
    tot = {"pss_kib": 0, "rss_kib": 0, "uss_kib": 0, "pss_anon_kib": 0, "fds": 0, "nprocs": 0}
    for pid in tree_pids(root):
        r = smaps_rollup(pid)
        if not r:
            continue
        tot["pss_kib"] += r.get("Pss", 0)
        tot["rss_kib"] += r.get("Rss", 0)
        tot["uss_kib"] += r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        tot["pss_anon_kib"] += r.get("Pss_Anon", 0)
        tot["fds"] += fd_count(pid)
        tot["nprocs"] += 1
    return tot


def listening(port, host="127.0.0.1"):
    """True when a TCP socket listens on host:port (read from /proc/net/tcp, no connection)."""
    want = "%s:%04X" % ("".join("%02X" % int(b) for b in reversed(host.split("."))), port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                if p[1] == want and p[3] == "0A":
                    return True
    except OSError:
        pass
    return False


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes we start

def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, **kw)
    _started.append(p)
    return p


def reap(p, timeout=None):
    """Waits for p (a Popen we started) with wait4; returns (exit code, CPU seconds incl. its
    reaped children). On timeout kills it (by PID) first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG if deadline else 0)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            break
        if deadline and time.monotonic() > deadline:
            try:
                os.kill(p.pid, signal.SIGKILL)  # then reaped by the blocking wait4 below
            except ProcessLookupError:
                pass
            deadline = None
        else:
            time.sleep(0.01)
    if p in _started:
        _started.remove(p)
    return p.returncode, ru.ru_utime + ru.ru_stime


def kill(p, sig=signal.SIGTERM, wait=5.0):
    """Signals p by PID, waits up to `wait` s, then SIGKILLs. Returns exit code or None."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    if p in _started:
        _started.remove(p)
    return p.returncode


def cleanup():
    for p in list(reversed(_started)):
        kill(p, signal.SIGTERM, wait=3)


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def raise_nofile(n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(n, hard) if os.geteuid() == 0 else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- keys, clients, servers

class Keys:
    """One ed25519 host key (used by both servers) and one ed25519 client key."""

    def __init__(self, d):
        self.dir = d
        self.host = os.path.join(d, "host_ed25519")
        self.client = os.path.join(d, "client_ed25519")
        for path, comment in ((self.host, "bench host"), (self.client, "bench client")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                            "-f", path], check=True)
        self.authorized = os.path.join(d, "authorized_keys")
        with open(self.authorized, "w") as f:
            f.write(open(self.client + ".pub").read())
        os.chmod(self.authorized, 0o600)


class Server:
    """A server under test: name, Popen, port, log file. cpu()/mem() cover its process tree."""

    def __init__(self, name, proc, port, log_path):
        self.name, self.proc, self.port, self.log_path = name, proc, port, log_path
        self.on_stop = []  # callables run before the server is stopped (e.g. end perf record)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def cpu(self):
        return tree_cpu(self.pid)[0]

    def mem(self):
        return tree_mem(self.pid)

    def nprocs(self):
        return len(tree_pids(self.pid))

    def settle(self, timeout=15.0, base_procs=1):
        """Waits until the tree is back to base_procs processes (sshd: the listener alone, so
        every per-connection process has been reaped into its cutime). alknet: immediate."""
        return wait_until(lambda: self.nprocs() <= base_procs, timeout, 0.05)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """Stops the server and any per-connection processes left in its tree, by PID."""
        for fn in self.on_stop:
            fn()
        self.on_stop = []
        pids = [p for p in tree_pids(self.pid) if p != self.pid]
        rc = kill(self.proc, signal.SIGTERM, wait=8)
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return rc


def start_alknet(binary, work, keys, extra=()):
    port = free_port()
    log = os.path.join(work, "alknet-%d.log" % port)
    with open(log, "w") as lf:
        as_root = ["--user", "root"] if os.geteuid() == 0 else []
        # Like the sshd config below (MaxStartups 100000): every load generator runs from
        # 127.0.0.1, so the admission limits would measure themselves instead of the server.
        as_root += ["--max-startups", "100000", "--per-source-max-startups", "0",
                    "--per-source-penalty", "off"]
        p = spawn([binary, "serve", "--key", keys.host, "--authorized-keys", keys.authorized,
                   "--listen", "127.0.0.1:%d" % port] + as_root + list(extra),
                  stdout=lf, stderr=subprocess.STDOUT)
    srv = Server("alknet", p, port, log)
    if not wait_until(lambda: listening(port) or p.poll() is not None, 15) or not srv.alive():
        srv.stop()
        raise RuntimeError("alknet did not start:\n" + srv.log_tail())
    return srv


SSHD_CONFIG = """\
# bench/run: a private sshd for tunnelling, never the system service.
ListenAddress 127.0.0.1:{port}
HostKey {hostkey}
PidFile none
AuthorizedKeysFile {authorized}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
AllowTcpForwarding yes
PermitTTY no
X11Forwarding no
AllowAgentForwarding no
PermitTunnel no
MaxStartups 100000
MaxSessions 10
LoginGraceTime 60
LogLevel INFO
"""


def start_sshd(work, keys, user):
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privsep chroot
    port = free_port()
    cfg = os.path.join(work, "sshd_config-%d" % port)
    with open(cfg, "w") as f:
        f.write(SSHD_CONFIG.format(port=port, hostkey=keys.host, authorized=keys.authorized,
                                   user=user))
    chk = subprocess.run([SSHD, "-t", "-f", cfg], capture_output=True, text=True)
    if chk.returncode != 0:
        raise RuntimeError("sshd -t rejected the bench config: " + chk.stderr)
    log = os.path.join(work, "sshd-%d.log" % port)
    with open(log, "w") as lf:
        p = spawn([SSHD, "-f", cfg, "-D", "-e"], stdout=lf, stderr=subprocess.STDOUT)
    srv = Server("sshd", p, port, log)
    if not wait_until(lambda: listening(port) or p.poll() is not None, 15) or not srv.alive():
        srv.stop()
        raise RuntimeError("sshd did not start:\n" + srv.log_tail())
    return srv


def ssh_argv(srv, keys, user, *extra):
    """OpenSSH client argv for srv; extra options go before the destination."""
    return ["ssh", "-F", "/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "HostKeyAlgorithms=ssh-ed25519", "-o", "UpdateHostKeys=no",
            "-o", "Compression=no", "-i", keys.client, "-p", str(srv.port)] + list(extra) + \
        ["%s@127.0.0.1" % user]


class Echo:
    """bench/benchtool echo on one or more loopback addresses (port chosen by the kernel)."""

    def __init__(self, tool, addrs=("127.0.0.1",)):
        self.proc = spawn([tool, "echo"] + ["%s:0" % a for a in addrs],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            kill(self.proc)
            raise RuntimeError("benchtool echo did not start")
        self.targets = [(a, int(p)) for a, p in zip(addrs, line[1:])]
        self.host, self.port = self.targets[0]

    def cpu(self):
        return tree_cpu(self.proc.pid)[0]

    def stop(self):
        kill(self.proc)


class IdleClients:
    """bench/idle_clients.py worker (asyncssh), driven with one-line commands."""

    def __init__(self, srv, keys, user, sessions, targets=(), local_addrs=(), concurrency=32):
        argv = ["/usr/bin/python3", os.path.join(HERE, "idle_clients.py"),
                "--port", str(srv.port), "--user", user, "--key", keys.client,
                "--sessions", str(sessions), "--concurrency", str(concurrency),
                "--targets", ",".join("%s:%d" % t for t in targets),
                "--local-addrs", ",".join(local_addrs)]
        self.proc = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""

    def read_event(self, timeout):
        """Next JSON line from the worker, or an "exited"/"timeout" event."""
        import select
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"event": "timeout", "first_error": "no answer in %d s" % timeout}
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return {"event": "exited", "first_error": "idle client exited (rc %s)"
                            % self.proc.poll()}
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, cmd):
        try:
            self.proc.stdin.write((cmd + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def cpu(self):
        return tree_cpu(self.proc.pid)[0]

    def mem(self):
        return tree_mem(self.proc.pid)

    def quit(self, timeout=60):
        self.send("quit")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        kill(self.proc)
