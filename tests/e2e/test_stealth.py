"""--stealth answers what is not SSH the way Debian 12's nginx does (server_tokens off, an
empty document root): the same bytes, Date aside, compared with a real nginx in this test.

Each case sends the same bytes over TLS to both and reads to the end of the connection; a case
that leaves the connection open ends with one more request carrying `Connection: close`, the
same for both. Plain HTTP sent to the TLS port (no TLS at all) is compared the same way, and
how the connection ends (FIN or reset). Each answered probe is logged (`stealth probe
remote_addr=...`) for fail2ban, once.
"""
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import free_port, need, wait_until, listening_ports
from test_tls import make_cert, tls_server

CLOSE = b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
H = b"Host: a\r\n"

CASES = {
    "get-missing": b"GET /x HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-root": b"GET / HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-index": b"GET /index.html HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-dir": b"GET /admin/ HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-query": b"GET /?q=1 HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-slashes": b"GET //x//y HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-dotdot-inside": b"GET /a/../b HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "get-escaped": b"GET /%2e%2e/x HTTP/1.1\r\n" + H + b"\r\n",
    "head-missing": b"HEAD /x HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "head-root": b"HEAD / HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "post-body": b"POST /login HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nabcde" + CLOSE,
    "post-root": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n" + CLOSE,
    "put": b"PUT /x HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n" + CLOSE,
    "delete-root": b"DELETE / HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "unknown-method": b"FOO /x HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "pipelined": b"GET /a HTTP/1.1\r\n" + H + b"\r\nGET /b HTTP/1.1\r\n" + H + b"\r\n" +
                 b"HEAD / HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "http10": b"GET /x HTTP/1.0\r\n\r\n",
    "http10-keepalive": b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + CLOSE,
    "http11-close": b"GET /x HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    "bare-lf": b"GET /x HTTP/1.1\n" + b"Host: a\n\n" + CLOSE,
    "leading-crlf": b"\r\n\r\nGET /x HTTP/1.1\r\n" + H + b"\r\n" + CLOSE,
    "no-host": b"GET /x HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET /x HTTP/1.1\r\n" + H + H + b"\r\n",
    "http09": b"GET /x\r\n",
    "http2-version": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "dotdot": b"GET /../etc/passwd HTTP/1.1\r\n" + H + b"\r\n",
    "lowercase-method": b"get /x HTTP/1.1\r\n" + H + b"\r\n",
    "no-slash": b"GET x HTTP/1.1\r\n" + H + b"\r\n",
    "options-star": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "bad-header": b"GET /x HTTP/1.1\r\n" + H + b"Broken header line\r\n\r\n",
    "cl-and-te": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n",
    "te-gzip": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
    "te-twice": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n" * 2 + b"\r\n",
    "te-http10": b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunked": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
               b"3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" + CLOSE,
    "length-overflow": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 9223372036854775808\r\n\r\n",
    "put-dotdot": b"PUT /../x HTTP/1.1\r\n" + H + b"\r\n",
    "body-too-large": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 2000000\r\n\r\n",
    "long-uri": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n",
    "long-header": b"GET /x HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n",
    "garbage": b"\x16\x03\x01garbage\r\n\r\n",
    # keepalive_requests 1000: the 1000th answer closes, the 1001st request gets none
    "keepalive-limit": (b"GET /x HTTP/1.1\r\n" + H + b"\r\n") * 1001,
    "ssh1-banner": b"SSH-1.5-OpenSSH_1\r\n",
    "ssh-lookalike": b"SSH-2.1-not-quite\r\n",
}


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    exe = need("nginx")
    d = str(tmp_path_factory.mktemp("nginx"))
    os.mkdir(os.path.join(d, "root"))
    cert, key = make_cert(d, "nginx")
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
%(user)s
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
daemon off;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    server_tokens off;
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        root %(d)s/root;
    }
}
""" % {"d": d, "port": port, "cert": cert, "key": key,
       "user": "user root;" if os.geteuid() == 0 else ""})  # workers must read the root
    proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert wait_until(lambda: port in listening_ports() or proc.poll() is not None, 15)
    assert proc.poll() is None, open(os.path.join(d, "error.log")).read()
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def stealth(server_factory, tmp_path):
    d = tmp_path / "tls"
    d.mkdir(mode=0o700)
    return tls_server(server_factory, make_cert(str(d), "server"), "--stealth")


def exchange(port, data):
    """Sends data over TLS and reads until the server closes (bounded by the timeout)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(data)
            out = b""
            while True:
                try:
                    d = s.recv(65536)
                except (ssl.SSLError, ConnectionResetError, socket.timeout):
                    break
                if not d:
                    break
                out += d
            return out


# Plain HTTP (no TLS) to the TLS port: nginx answers "400 The plain HTTP request was sent to
# HTTPS port" to a request it gets that far with, its usual errors to the others, and closes.
PLAIN_CASES = {
    "get-missing": b"GET /x HTTP/1.1\r\n" + H + b"\r\n",
    "get-root": b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    "head": b"HEAD /x HTTP/1.1\r\n" + H + b"\r\n",
    "post-body": b"POST /login HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nabcde",
    "put": b"PUT /x HTTP/1.1\r\n" + H + b"\r\n",
    "http10": b"GET /x HTTP/1.0\r\n\r\n",
    "http10-keepalive": b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "pipelined": b"GET /a HTTP/1.1\r\n" + H + b"\r\nGET /b HTTP/1.1\r\n" + H + b"\r\n",
    "http09": b"GET /x\r\n",
    "http09-post": b"POST /x\r\n",
    "no-host": b"GET /x HTTP/1.1\r\n\r\n",
    "dotdot": b"GET /../x HTTP/1.1\r\n" + H + b"\r\n",
    "bad-line": b"GET\x01 / HTTP/1.1\r\n\r\n",
    "lowercase-method": b"get /x HTTP/1.1\r\n" + H + b"\r\n",
    "te-gzip": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "ssh-banner": b"SSH-2.0-OpenSSH_9.2\r\n",
    "garbage": b"\x00\x01\x02garbage\r\n\r\n",
}


def exchange_plain(port, data):
    """Sends data over plain TCP and reads until the server closes: (bytes, "fin" or
    "reset", what three sends after that met). nginx's lingering close (bytes of the client
    left unread at the close) still takes them; a plain close resets."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(data)
        out, end = b"", None
        while end is None:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                end = "reset"
                break
            if not d:
                end = "fin"
            out += d
        after = []
        for _ in range(3):
            try:
                s.send(b"more\r\n")
                after.append("taken")
            except OSError as e:
                after.append(type(e).__name__)
            time.sleep(0.1)
        return out, end, after


def no_date(b):
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", b)


@pytest.mark.parametrize("case", sorted(CASES))
def test_answers_match_nginx(nginx, stealth, case):
    want = exchange(nginx, CASES[case])
    got = exchange(stealth.port, CASES[case])
    assert want, "nginx gave nothing"
    assert no_date(got) == no_date(want)
    assert stealth.wait_log("stealth probe remote_addr=127.0.0.1 requests=", 10), stealth.log()
    assert stealth.proc.poll() is None


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_plain_http_matches_nginx(nginx, stealth, case):
    want = exchange_plain(nginx, PLAIN_CASES[case])
    got = exchange_plain(stealth.port, PLAIN_CASES[case])
    assert want[0], "nginx gave nothing"
    assert (no_date(got[0]),) + got[1:] == (no_date(want[0]),) + want[1:]
    assert stealth.wait_log("stealth probe remote_addr=127.0.0.1 requests=", 10), stealth.log()
    assert stealth.log().count("stealth probe") == 1, stealth.log()
    assert stealth.proc.poll() is None


def test_junk_through_s_client_matches_nginx(nginx, stealth):
    def s_client(port):
        r = subprocess.run(["openssl", "s_client", "-quiet", "-verify_quiet", "-connect",
                            "127.0.0.1:%d" % port], input=b"hello, is anyone there?\r\n",
                           capture_output=True, timeout=30)
        return r.stdout
    want, got = s_client(nginx), s_client(stealth.port)
    assert want.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert no_date(got) == no_date(want)
    assert "stealth probe remote_addr=127.0.0.1" in stealth.log()


def test_date_header_is_now(stealth):
    got = exchange(stealth.port, CASES["http11-close"])
    m = re.search(rb"\r\nDate: ([^\r]*)\r\n", got)
    assert m, got
    import email.utils
    when = email.utils.parsedate_to_datetime(m.group(1).decode()).timestamp()
    assert abs(when - time.time()) < 120


def test_fail2ban_sees_probes_not_logins(stealth, keys, tmp_path, echo_server):
    """fail2ban-regex over the stealth server's log: each probe matches with its client's
    address; an SSH login through the same port does not."""
    import shutil
    if shutil.which("fail2ban-regex") is None:
        pytest.skip("fail2ban is not installed (scripts/install-deps test)")
    from test_tls import ssh_over_tls
    exchange(stealth.port, CASES["http11-close"])
    exchange(stealth.port, CASES["garbage"])
    r = subprocess.run(ssh_over_tls(stealth, keys, "-W", "127.0.0.1:%d" % echo_server.port),
                       input=b"ok", capture_output=True, timeout=30)
    assert r.stdout == b"ok", r.stderr
    assert wait_until(lambda: stealth.log().count("stealth probe") == 2, 10), stealth.log()
    log = tmp_path / "stealth.log"
    log.write_text(stealth.log())
    filt = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "fail2ban",
                        "filter.d", "alknet.conf")
    r = subprocess.run(["fail2ban-regex", "-o", "<ip> | <msg>", str(log), filt],
                       capture_output=True, text=True, timeout=60)
    rows = [l for l in r.stdout.splitlines() if " | " in l]
    assert len(rows) == 2, r.stdout
    assert all(l.startswith("127.0.0.1 | ") and "stealth probe" in l for l in rows), rows
