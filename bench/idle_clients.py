#!/usr/bin/python3
"""Holds many idle, authenticated SSH sessions (and idle direct-tcpip channels) for bench/run.

One asyncssh process, driven over stdin/stdout with one JSON line per answer:

  start                 -> connects --sessions sessions (public key auth), then prints
                           {"event": "sessions", "ok": N, "failed": F, "secs": S, "first_error": ...}
  stdin "channels N"    -> opens N direct-tcpip channels, round-robin over the sessions and the
                           --targets, then prints {"event": "channels", ...}
  stdin "probe"         -> one 1-byte echo round trip on every open channel, and one
                           keepalive@openssh.com global request on every session; prints {"event": "probe", "channels_ok", "channels_failed",
                           "sessions_ok", "sessions_failed", ...}
  stdin "quit" or EOF   -> closes everything and exits.

Targets must be echo servers (bench/benchtool echo). Loopback only; every wait is bounded.
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")  # asyncssh imports deprecated ciphers from cryptography
import asyncssh  # noqa: E402

OP_TIMEOUT = 60


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Holder:
    def __init__(self, a):
        self.a = a
        self.conns = []          # connected sessions
        self.channels = []       # (conn index, reader, writer)
        self.first_error = ""
        self.key = asyncssh.read_private_key(a.key)
        self.targets = []
        for t in a.targets.split(",") if a.targets else []:
            host, port = t.rsplit(":", 1)
            self.targets.append((host, int(port)))
        self.local_addrs = a.local_addrs.split(",") if a.local_addrs else [""]

    def note(self, e):
        if not self.first_error:
            self.first_error = "%s: %s" % (type(e).__name__, e)

    async def connect_one(self, i, sem):
        la = self.local_addrs[i % len(self.local_addrs)]
        async with sem:
            try:
                conn = await asyncio.wait_for(asyncssh.connect(
                    self.a.host, self.a.port, username=self.a.user, client_keys=[self.key],
                    known_hosts=None, agent_path=None, config=[], preferred_auth="publickey",
                    local_addr=(la, 0) if la else None, keepalive_interval=0), OP_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - counted and reported, never fatal
                self.note(e)
                return False
        self.conns.append(conn)
        return True

    async def start(self):
        t0 = time.monotonic()
        sem = asyncio.Semaphore(self.a.concurrency)
        res = await asyncio.gather(*(self.connect_one(i, sem) for i in range(self.a.sessions)))
        ok = sum(1 for r in res if r)
        emit({"event": "sessions", "ok": ok, "failed": len(res) - ok,
              "secs": round(time.monotonic() - t0, 3), "first_error": self.first_error})

    async def open_one(self, ci, ti, sem):
        host, port = self.targets[ti % len(self.targets)]
        async with sem:
            try:
                r, w = await asyncio.wait_for(self.conns[ci].open_connection(host, port),
                                              OP_TIMEOUT)
            except Exception as e:  # noqa: BLE001
                self.note(e)
                return False
        self.channels.append((ci, r, w))
        return True

    async def open_channels(self, n):
        t0 = time.monotonic()
        if not self.conns or not self.targets:
            emit({"event": "channels", "ok": 0, "failed": n, "secs": 0,
                  "first_error": "no sessions or no targets"})
            return
        sem = asyncio.Semaphore(self.a.concurrency)
        base = len(self.channels)
        res = await asyncio.gather(*(self.open_one((base + k) % len(self.conns), base + k, sem)
                                     for k in range(n)))
        ok = sum(1 for r in res if r)
        emit({"event": "channels", "ok": ok, "failed": n - ok, "total": len(self.channels),
              "secs": round(time.monotonic() - t0, 3), "first_error": self.first_error})

    async def roundtrip(self, r, w, sem):
        async with sem:
            try:
                w.write(b"p")
                got = await asyncio.wait_for(r.readexactly(1), OP_TIMEOUT)
                return got == b"p"
            except Exception as e:  # noqa: BLE001
                self.note(e)
                return False

    async def ping_session(self, conn, sem):
        """keepalive@openssh.com global request with want-reply: any answer (RFC 4254 says an
        unknown request gets REQUEST_FAILURE) shows the session is alive, with no new fd."""
        async with sem:
            if getattr(conn, "_transport", None) is None:
                self.note(ConnectionError("session closed"))
                return False
            try:
                await asyncio.wait_for(conn._make_global_request(b"keepalive@openssh.com"),
                                       OP_TIMEOUT)
                return getattr(conn, "_transport", None) is not None
            except Exception as e:  # noqa: BLE001
                self.note(e)
                return False

    async def probe(self):
        t0 = time.monotonic()
        self.first_error = ""
        sem = asyncio.Semaphore(max(self.a.concurrency, 256))
        ch = await asyncio.gather(*(self.roundtrip(r, w, sem) for _, r, w in self.channels))
        ch_ok = sum(1 for x in ch if x)
        ss = await asyncio.gather(*(self.ping_session(c, sem) for c in self.conns))
        s_ok = sum(1 for x in ss if x)
        emit({"event": "probe", "channels_ok": ch_ok, "channels_failed": len(ch) - ch_ok,
              "sessions_ok": s_ok, "sessions_failed": len(self.conns) - s_ok,
              "secs": round(time.monotonic() - t0, 3), "first_error": self.first_error})

    async def close(self):
        for _, _, w in self.channels:
            w.close()
        for c in self.conns:
            c.close()
        await asyncio.gather(*(asyncio.wait_for(c.wait_closed(), 10) for c in self.conns),
                             return_exceptions=True)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--targets", default="")
    p.add_argument("--local-addrs", default="")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    h = Holder(a)
    await h.start()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "channels":
            await h.open_channels(int(cmd[1]))
        elif cmd[0] == "probe":
            await h.probe()
        else:
            emit({"event": "error", "first_error": "unknown command " + cmd[0]})
    await h.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    os.environ.pop("SSH_AUTH_SOCK", None)
    asyncio.run(main())
