#!/usr/bin/python3
"""Writes the synthetic seed files under tests/fuzz/corpus/ (run from anywhere; needs
ssh-keygen and python3-cryptography). The seeds are committed; rerun this only to change them.
Keys are generated fresh each run: they are test data, not secrets.

Not generated here: tests/fuzz/corpus/fuzz_ssh_preauth/openssh92-* were captured from a real
OpenSSH 9.2 client talking to alknet (docs/reliability.md, "Fuzzing"); the synthetic preauth
seeds reuse the captured KEXINIT."""
import os
import struct
import subprocess
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def u32(v):
    return struct.pack(">I", v)


def u16(v):
    return struct.pack(">H", v)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def mpint(v):
    if v == 0:
        return u32(0)
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    if b[0] & 0x80:
        b = b"\0" + b
    return string(b)


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- keys -----------------------------------------------------------------------------

def keygen(tmp):
    """Returns {name: (private text, public line)} for every key type alknet loads, plus a
    few it must refuse."""
    specs = {
        "ed25519": ["-t", "ed25519"],
        "ecdsa256": ["-t", "ecdsa", "-b", "256"],
        "ecdsa384": ["-t", "ecdsa", "-b", "384"],
        "ecdsa521": ["-t", "ecdsa", "-b", "521"],
        "rsa1024": ["-t", "rsa", "-b", "1024"],
        "rsa2048": ["-t", "rsa", "-b", "2048"],
        "encrypted": ["-t", "ed25519", "-N", "secret"],
        "pem-rsa": ["-t", "rsa", "-b", "1024", "-m", "PEM"],
    }
    keys = {}
    for name, args in specs.items():
        path = os.path.join(tmp, name)
        if "-N" not in args:
            args = args + ["-N", ""]
        subprocess.run(["ssh-keygen", "-q", "-C", "fuzz-" + name, "-f", path] + args,
                       check=True)
        with open(path) as f:
            priv = f.read()
        with open(path + ".pub") as f:
            pub = f.read().strip()
        keys[name] = (priv, pub)
    return keys


def pub_blob(line):
    import base64
    return base64.b64decode(line.split()[1])


def sign(priv_text, alg, data):
    key = serialization.load_ssh_private_key(priv_text.encode(), password=None)
    if alg == "ssh-ed25519":
        return string(alg) + string(key.sign(data))
    if alg.startswith("ecdsa-sha2-"):
        h = {"nistp256": hashes.SHA256(), "nistp384": hashes.SHA384(),
             "nistp521": hashes.SHA512()}[alg.split("-")[-1]]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        return string(alg) + string(mpint(r) + mpint(s))
    h = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256(),
         "ssh-rsa": hashes.SHA1()}[alg]
    return string(alg) + string(key.sign(data, padding.PKCS1v15(), h))


def key_seeds(keys):
    msg = b"session id and USERAUTH_REQUEST bytes"
    for name in ("ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa1024", "rsa2048"):
        priv, pub = keys[name]
        blob = pub_blob(pub)
        write("fuzz_key_blob", name, blob)
        write("fuzz_key_public", name, pub + "\n")
        write("fuzz_key_private", name, priv)
        algs = {"rsa1024": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
                "rsa2048": ["rsa-sha2-256"]}.get(name, [pub.split()[0]])
        for alg in algs:
            write("fuzz_key_verify", name + "-" + alg,
                  string(blob) + string(alg) + string(sign(priv, alg, msg)) + msg)
    # Blob edge cases: truncated, trailing byte, unknown type, ECDSA curve mismatch.
    ed = pub_blob(keys["ed25519"][1])
    write("fuzz_key_blob", "ed25519-truncated", ed[:-1])
    write("fuzz_key_blob", "ed25519-trailing", ed + b"\0")
    write("fuzz_key_blob", "unknown-type", string("ssh-dss") + string(b"\1" * 20))
    p256 = pub_blob(keys["ecdsa256"][1])
    write("fuzz_key_blob", "ecdsa-curve-mismatch",
          string("ecdsa-sha2-nistp384") + p256[len(string("ecdsa-sha2-nistp256")):])
    write("fuzz_key_blob", "rsa-tiny", string("ssh-rsa") + mpint(65537) + mpint(3233))
    # Public lines: comment, leading space, type mismatch, bad base64, tab separated.
    pub = keys["ed25519"][1]
    write("fuzz_key_public", "leading-space", "   " + pub)
    write("fuzz_key_public", "tab", pub.replace(" ", "\t", 1))
    write("fuzz_key_public", "type-mismatch",
          "ssh-rsa " + pub.split()[1])
    write("fuzz_key_public", "bad-base64", "ssh-ed25519 AAAA$$$$")
    write("fuzz_key_public", "no-data", "ssh-ed25519")
    # Private key failures the loader explains.
    write("fuzz_key_private", "encrypted", keys["encrypted"][0])
    write("fuzz_key_private", "pem", keys["pem-rsa"][0])
    write("fuzz_key_private", "public-instead", keys["ed25519"][1])
    write("fuzz_key_private", "no-end", keys["ed25519"][0].split("-----END")[0])
    # Signature failures: wrong algorithm name inside, short ed25519 signature.
    priv, pub = keys["ed25519"]
    sig = sign(priv, "ssh-ed25519", msg)
    write("fuzz_key_verify", "ed25519-alg-mismatch",
          string(pub_blob(pub)) + string("ssh-rsa") + string(sig) + msg)
    write("fuzz_key_verify", "ed25519-short-sig",
          string(pub_blob(pub)) + string("ssh-ed25519") + string(sig[:-1]) + msg)


def authkeys_seeds(keys):
    ed, p256, rsa = keys["ed25519"][1], keys["ecdsa256"][1], keys["rsa1024"][1]
    write("fuzz_authorized_keys", "plain", "\n".join([ed, p256, rsa]) + "\n")
    write("fuzz_authorized_keys", "comments-crlf",
          "# alknet users\r\n\r\n  " + ed + "\r\n#" + p256 + "\r\n" + rsa)
    write("fuzz_authorized_keys", "options",
          'restrict,port-forwarding,permitopen="host:22" ' + ed + "\n"
          'command="echo \\"hi, there\\"",no-pty ' + p256 + "\n"
          'from="10.0.0.0/8" ' + rsa + "\n")
    write("fuzz_authorized_keys", "cert-authority",
          'cert-authority,principals="a,b" ' + ed + "\n"
          "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t"
          " user@host\n")
    write("fuzz_authorized_keys", "unsupported",
          "ssh-dss AAAAB3NzaC1kc3MAAACB comment\n"
          "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
          "garbage line here\n" + ed)
    write("fuzz_authorized_keys", "unclosed-quote", 'command="oops ' + ed + "\n" + p256)
    write("fuzz_authorized_keys", "nul-in-line", ed + "\0trailing\n" + p256 + "\n")


# ---- the SSH session harness ----------------------------------------------------------

MSG = dict(DISCONNECT=1, IGNORE=2, UNIMPLEMENTED=3, DEBUG=4, SERVICE_REQUEST=5, KEXINIT=20,
           NEWKEYS=21, KEX_ECDH_INIT=30, USERAUTH_REQUEST=50, GLOBAL_REQUEST=80,
           CHANNEL_OPEN=90, CHANNEL_OPEN_CONFIRMATION=91, CHANNEL_WINDOW_ADJUST=93,
           CHANNEL_DATA=94, CHANNEL_EXTENDED_DATA=95, CHANNEL_EOF=96, CHANNEL_CLOSE=97,
           CHANNEL_REQUEST=98)
LOGIN = 0x20


def rec(msg, body=b""):
    payload = bytes([MSG[msg]]) + body
    return u16(len(payload)) + payload


CLIENT_REKEY = u16(0xFFFF)
SERVER_REKEY = u16(0xFFFE)


def raw(b):
    return u16(0xFFFD) + u16(len(b)) + b


def open_direct(sender, host, port, window=65536, maxpkt=32768):
    return rec("CHANNEL_OPEN", string("direct-tcpip") + u32(sender) + u32(window) +
               u32(maxpkt) + string(host) + u32(port) + string("127.0.0.1") + u32(50000))


def data(ch, b):
    return rec("CHANNEL_DATA", u32(ch) + string(b))


def session_request_seeds(pty):
    """fuzz_ssh_session records after a session open (client id 2, our id 0)."""
    def req(name, want, body=b""):
        return rec("CHANNEL_REQUEST", u32(0) + string(name) + bytes([want]) + body)
    return [
        ("session-pty-shell", req("pty-req", 1, pty) + req("shell", 1) + data(0, b"ls\x03") +
         rec("CHANNEL_EOF", u32(0)) + req("window-change", 0, u32(100) * 4) +
         rec("CHANNEL_CLOSE", u32(0))),
        ("session-exec", req("env", 0, string("LANG") + string("C")) +
         req("exec", 1, string("rm -rf /")) + req("exec", 1, string("again"))),
        ("session-subsystem", req("subsystem", 1, string("sftp")) + req("shell", 1)),
        ("session-bad-requests", req("sh\0ll", 1) + req("x" * 65, 1) + req("shell", 1, b"\0") +
         req("auth-agent-req@openssh.com", 1) + rec("CHANNEL_REQUEST", u32(0) + string("x"))),
    ]


def session_seeds(keys):
    h = "fuzz_ssh_session"
    roundtrip = (open_direct(0, "example.com", 443) + data(0, b"hello") +
                 rec("CHANNEL_WINDOW_ADJUST", u32(0) + u32(4096)) +
                 rec("CHANNEL_EOF", u32(0)) + rec("CHANNEL_CLOSE", u32(0)))
    names = ["chacha", "aes128gcm", "aes256gcm", "aes128ctr-sha256", "aes256ctr-sha512",
             "aes128ctr-sha512", "aes192ctr-sha256-noetm", "aes256ctr-sha512-noetm"]
    for i, n in enumerate(names):
        write(h, "roundtrip-" + n, bytes([LOGIN | i]) + roundtrip)
    for i, n in enumerate(["ed25519", "ecdsa256", "rsa-sha2-512", "rsa-sha2-256"]):
        write(h, "hostkey-" + n, bytes([LOGIN | i << 3]) + roundtrip)
    write(h, "deferred-confirm",
          bytes([LOGIN]) + open_direct(5, "10.0.0.1", 8443) + open_direct(6, "10.0.0.2", 8443) +
          rec("CHANNEL_CLOSE", u32(1)) + data(0, b"x" * 100) + rec("CHANNEL_EOF", u32(0)))
    write(h, "refusals",
          bytes([LOGIN]) + open_direct(1, "alknet-admin", 1) + open_direct(2, "a\0b", 443) +
          open_direct(3, "example.com", 0) + open_direct(4, "example.com", 80) +
          rec("CHANNEL_OPEN", string("session") + u32(5) + u32(65536) + u32(32768)) +
          rec("CHANNEL_OPEN", string("x11") + u32(6) + u32(65536) + u32(16)))
    write(h, "global-and-channel-requests",
          bytes([LOGIN]) + rec("GLOBAL_REQUEST", string("keepalive@openssh.com") + b"\1") +
          rec("GLOBAL_REQUEST", string("tcpip-forward") + b"\1" + string("0.0.0.0") + u32(80)) +
          rec("GLOBAL_REQUEST", string("no-more-sessions@openssh.com") + b"\0") +
          open_direct(0, "example.com", 443) +
          rec("CHANNEL_REQUEST", u32(0) + string("env") + b"\1" + string("A") + string("b")) +
          rec("CHANNEL_REQUEST", u32(0) + string("eow@openssh.com") + b"\0") +
          rec("CHANNEL_EXTENDED_DATA", u32(0) + u32(1) + string("stderr")) +
          rec("IGNORE", string("pad")) + rec("DEBUG", b"\1" + string("dbg") + string("")) +
          rec("UNIMPLEMENTED", u32(7)) + bytes([0, 1, 200]))
    sess = rec("CHANNEL_OPEN", string("session") + u32(2) + u32(65536) + u32(32768))
    pty = (string("xterm") + u32(80) + u32(24) + u32(0) + u32(0) +
           string(bytes([1]) + u32(3) + b"\0"))
    for name, body in session_request_seeds(pty):
        write(h, name, bytes([LOGIN]) + sess + body)
    write(h, "rekeys-mid-data",
          bytes([LOGIN]) + open_direct(0, "example.com", 443) + data(0, b"a" * 200) +
          CLIENT_REKEY + data(0, b"b" * 300) + SERVER_REKEY + data(0, b"c" * 400) +
          CLIENT_REKEY + rec("CHANNEL_CLOSE", u32(0)))
    write(h, "rekeys-mid-data-noetm",
          bytes([LOGIN | 7]) + open_direct(0, "example.com", 443) + data(0, b"a" * 200) +
          CLIENT_REKEY + data(0, b"b" * 300) + SERVER_REKEY + data(0, b"c" * 400) +
          CLIENT_REKEY + rec("CHANNEL_CLOSE", u32(0)))
    write(h, "server-rekey-1k",
          bytes([LOGIN | 0x80 | 3]) + open_direct(0, "example.com", 443) +
          b"".join(data(0, bytes([65 + i]) * 900) for i in range(4)) +
          rec("CHANNEL_CLOSE", u32(0)))
    write(h, "window-overrun",
          bytes([LOGIN]) + open_direct(0, "example.com", 443, window=100) +
          b"".join(data(0, b"z" * 1000) for i in range(5)))
    write(h, "unknown-channel", bytes([LOGIN]) + data(7, b"who?"))
    write(h, "no-strict-kex", bytes([LOGIN | 0x40 | 1]) + roundtrip + CLIENT_REKEY)
    write(h, "client-disconnect",
          bytes([LOGIN]) + rec("DISCONNECT", u32(11) + string("bye") + string("")))
    write(h, "garbage-after-kex", bytes([2]) + raw(b"\0\0\0\x10" + b"\x55" * 40))
    write(h, "empty-packet", bytes([LOGIN]) + u16(0))
    # Before login: the userauth dialogue.
    blob = pub_blob(keys["ed25519"][1])
    svc = rec("SERVICE_REQUEST", string("ssh-userauth"))

    def auth(user, method, rest=b""):
        return rec("USERAUTH_REQUEST", string(user) + string("ssh-connection") +
                   string(method) + rest)
    write(h, "userauth-dialogue",
          bytes([0]) + svc + auth("root", "none") + auth("root", "password", b"\0" +
                                                         string("hunter2")) +
          auth("alice", "publickey", b"\0" + string("ssh-ed25519") + string(blob)) +
          auth("bob", "publickey", b"\0" + string("ssh-ed25519") + string(blob)) +
          auth("alice", "publickey", b"\1" + string("ssh-ed25519") + string(blob) +
               string(string("ssh-ed25519") + string(b"\0" * 64))) +
          auth("alice", "publickey", b"\0" + string("ssh-rsa") + string(blob)) +
          auth("alice", "keyboard-interactive", string("") + string("")))
    write(h, "userauth-deferred",
          bytes([1]) + svc + auth("dave", "publickey", b"\0" + string("ssh-ed25519") +
                                 string(blob)) + rec("IGNORE", string("")) +
          auth("carol", "hostbased", string("x")))
    write(h, "service-unknown", bytes([3]) + rec("SERVICE_REQUEST", string("ssh-connection")))
    write(h, "channel-before-auth", bytes([4]) + svc + open_direct(0, "example.com", 443))
    write(h, "kexinit-from-fuzzer",
          bytes([LOGIN]) + rec("KEXINIT", b"\0" * 16 + string("curve25519-sha256") +
                               string("ssh-ed25519") + string("aes128-ctr") * 2 +
                               string("hmac-sha2-256-etm@openssh.com") * 2 +
                               string("none") * 2 + string("") * 2 + b"\0" + u32(0)))


# ---- small parsers --------------------------------------------------------------------

def small_seeds():
    for i, s in enumerate(["127.0.0.1:2222", "0.0.0.0:22", "[::]:22", "[::1]:65535",
                           "[fe80::1%eth0]:22", "1.2.3.4:0", "1.2.3.4:65536", "[1.2.3.4]:22",
                           "::1:22", "localhost:22", "1.2.3.4:+22", "[::ffff:1.2.3.4]:8080"]):
        write("fuzz_net_addr", "addr%02d" % i, s)
    for i, (port, host) in enumerate([(443, b"example.com"), (22, b"10.0.0.1"),
                                      (80, b"ALKNET-internal"), (1, b"alknet-"),
                                      (443, b"a\0b"), (0, b"example.com"),
                                      (70000, b"example.com"), (443, b"has space"),
                                      (443, b"x" * 255), (443, b"x" * 256), (443, b""),
                                      (8080, b"[::1]")]):
        write("fuzz_policy", "dest%02d" % i, u32(port) + host)
    for i, fields in enumerate([string(b"example.com") + u32(443) + string(b"192.0.2.1") + u32(4),
                                string(b"a\0b") + u32(80) + string(b"o") + u32(1),
                                string(b"x" * 300) + u32(22) + string(b"") + u32(0),
                                string(b"h") + u32(1) + string(b"o") + u32(2) + b"\0",
                                string(b"h") + u32(1) + string(b"o"), u32(0xffffffff)]):
        write("fuzz_tcpip_open", "open%02d" % i, fields)
    modes = bytes([1]) + u32(3) + bytes([53]) + u32(1) + b"\0"
    for i, fields in enumerate([b"\0" + string("xterm-256color") + u32(80) + u32(24) + u32(640) +
                                u32(480) + string(modes),
                                b"\0" + string("vt100") + u32(0) * 4 + string(b""),
                                b"\0" + string("x") + u32(1) * 4 + string(b"\1\0\0"),
                                b"\0" + string("x") + u32(1) * 4 + string(b"\xa0\1") + b"\0",
                                b"\1" + string("touch /tmp/x"), b"\1" + string("sftp") + b"\0",
                                b"\1" + u32(0xffffffff)]):
        write("fuzz_session_req", "req%02d" % i, fields)
    ops = bytes([1, 3, 2, 0, 5, 4 | 8 << 3, 6, 3, 3])
    write("fuzz_buf", "kexinit-like",
          bytes([len(ops)]) + ops + u32(7) + string("ssh-rsa") + b"\1" + u32(3) + b"abc")
    write("fuzz_buf", "short-string", bytes([2, 3, 3]) + u32(100) + b"abc")
    write("fuzz_buf", "mpint-high-bit", bytes([1, 1]) + b"\0\0\x80\1\2")
    write("fuzz_buf", "empty-script", bytes([0]) + b"\0\0\0\0")


def proxy_seeds():
    """Outbound proxy answers and URLs (src/proxy/)."""
    h = "fuzz_socks5"  # first byte: 0 method, 1 auth, 2 reply, 3 builders
    write(h, "method-none", b"\0\5\0")
    write(h, "method-userpass", b"\0\5\2")
    write(h, "method-unacceptable", b"\0\5\xff")
    write(h, "method-socks4", b"\0\4\0")
    write(h, "auth-ok", b"\1\1\0")
    write(h, "auth-v5-fail", b"\1\5\1")
    write(h, "reply-ipv4", b"\2\5\0\0\1\xc0\0\2\1\x04\x38")
    write(h, "reply-ipv6", b"\2\5\5\0\4" + bytes(range(16)) + b"\0\x50")
    write(h, "reply-domain", b"\2\5\0\0\3\x0bexample.com\1\xbb")
    write(h, "reply-domain-empty", b"\2\5\0\0\3\0\0\x50")
    write(h, "reply-then-data", b"\2\5\0\0\1\x7f\0\0\1\0\x16SSH-2.0-x\r\n")
    write(h, "reply-bad-atyp", b"\2\5\0\0\2\0\0")
    write(h, "build-name", b"\3\1\xbbexample.com")
    write(h, "build-ipv6", b"\3\0\x162001:db8::1")
    write(h, "build-ipv4", b"\3\0\x16192.0.2.1")
    h = "fuzz_http_connect"
    write(h, "ok-crlf", "HTTP/1.1 200 Connection established\r\n\r\n")
    write(h, "ok-lf-headers", "HTTP/1.0 200 OK\nProxy-Agent: squid\nVia: x\n\nSSH-2.0-x")
    write(h, "auth-required", "HTTP/1.1 407 Proxy Authentication Required\r\n"
          "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n")
    write(h, "forbidden-no-reason", "HTTP/1.1 403\r\n\r\n")
    write(h, "http2", "HTTP/2 200\r\n\r\n")
    write(h, "not-http", "SSH-2.0-OpenSSH_9.2\r\n")
    write(h, "status-99", "HTTP/1.1 099 x\r\n\r\n")
    write(h, "cr-only-lines", "HTTP/1.1 200 OK\r\rX: y\r\r\r\n")
    write(h, "request-host", b"\1\xbbexample.com")
    write(h, "request-ipv6", b"\0\x162001:db8::1")
    h = "fuzz_proxy_url"
    for i, u in enumerate(["socks5://127.0.0.1:1080", "socks5h://proxy.example:1080/",
                           "http://user:p%40ss@proxy.example:3128",
                           "socks5://us%3Aer:pw@[2001:db8::1]:1080", "HTTP://h:8080",
                           "socks5://:pw@h:1", "http://:pw@h:1", "socks5://u@h:0",
                           "socks5://h", "socks5://2001:db8::1:1080", "http://u:p@ss@h:1",
                           "socks5://%00@h:1", "socks4://h:1", "http://[::1:8080"]):
        write(h, "url%02d" % i, u)


def crc32c(b):
    crc = 0xffffffff
    for c in b:
        crc ^= c
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def proxy_header_seeds():
    """PROXY protocol headers (src/transport/proxy_header.c), each followed by a client's first
    SSH bytes, as HAProxy's send-proxy / send-proxy-v2 put them on the wire."""
    h = "fuzz_proxy_header"
    ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    v4 = bytes([127, 0, 0, 2, 127, 0, 0, 1]) + u16(40000) + u16(2222)
    v6 = bytes(15) + b"\1" + bytes(15) + b"\1" + u16(40000) + u16(2222)
    write(h, "v1-tcp4", b"PROXY TCP4 127.0.0.2 127.0.0.1 40000 2222\r\n" + ssh)
    write(h, "v1-tcp6", b"PROXY TCP6 2001:db8::7 ::1 40000 2222\r\n" + ssh)
    write(h, "v1-unknown", b"PROXY UNKNOWN\r\n" + ssh)
    write(h, "v1-unknown-long", b"PROXY UNKNOWN " + b"f" * 39 + b" " + b"f" * 39 +
          b" 65535 65535\r\n")
    write(h, "v1-no-crlf", b"PROXY TCP4 " + b"1" * 100)
    write(h, "v2-tcp4", sig + b"\x21\x11" + u16(12) + v4 + ssh)
    write(h, "v2-tcp6", sig + b"\x21\x21" + u16(36) + v6 + ssh)
    write(h, "v2-local", sig + b"\x20\x00" + u16(0) + ssh)
    write(h, "v2-unix", sig + b"\x21\x31" + u16(216) + b"/tmp/a" + bytes(210) + ssh)
    write(h, "v2-udp", sig + b"\x21\x12" + u16(12) + v4)
    tlvs = b"\x01" + u16(2) + b"h2" + b"\x02" + u16(4) + b"host" + b"\x05" + u16(8) + b"uniqueid"
    write(h, "v2-tlvs", sig + b"\x21\x11" + u16(12 + len(tlvs)) + v4 + tlvs + ssh)
    body = v4 + b"\x03" + u16(4) + bytes(4)
    hdr = sig + b"\x21\x11" + u16(len(body)) + body
    write(h, "v2-crc32c", hdr[:-4] + struct.pack(">I", crc32c(hdr)) + ssh)
    write(h, "v2-bad-tlv", sig + b"\x21\x11" + u16(14) + v4 + b"\x01\xff")
    write(h, "ssh-banner", ssh)


def preauth_seeds():
    """Variations on the captured OpenSSH KEXINIT."""
    h = "fuzz_ssh_preauth"
    with open(os.path.join(CORPUS, h, "openssh92-kex"), "rb") as f:
        cap = f.read()
    nl = cap.index(b"\n") + 1
    banner, off, pkts = cap[:nl], nl, []
    for _ in range(3):
        ln = struct.unpack(">I", cap[off:off + 4])[0]
        pkts.append(cap[off:off + 4 + ln])
        off += 4 + ln
    ln, pad = struct.unpack(">IB", pkts[0][:5])
    payload = pkts[0][5:5 + ln - pad - 1]
    lists, o = [], 17
    for _ in range(10):
        n = struct.unpack(">I", payload[o:o + 4])[0]
        lists.append(payload[o + 4:o + 4 + n])
        o += 4 + n

    def pkt(p, block=8):
        pad = block - (5 + len(p)) % block
        if pad < 4:
            pad += block
        return struct.pack(">IB", 1 + len(p) + pad, pad) + p + b"\0" * pad

    def kexinit(ls, follows):
        return bytes([20]) + b"\x11" * 16 + b"".join(string(x) for x in ls) + \
            bytes([follows]) + u32(0)
    wrong = list(lists)
    wrong[0] = b"ecdh-sha2-nistp256,curve25519-sha256"
    write(h, "kexinit-wrong-guess", banner + pkt(kexinit(wrong, 1)) +
          pkt(bytes([30]) + string(b"\4" * 65)) + pkts[1] + pkts[2])
    minimal = [b"curve25519-sha256,kex-strict-c-v00@openssh.com,ext-info-c", b"ssh-ed25519",
               b"aes128-gcm@openssh.com", b"aes128-gcm@openssh.com", b"", b"", b"none",
               b"none", b"", b""]
    write(h, "kexinit-minimal", b"SSH-2.0-fuzz\r\n" + pkt(kexinit(minimal, 0)))
    nomatch = list(minimal)
    nomatch[2] = b"3des-cbc"
    write(h, "kexinit-no-common-cipher", b"SSH-2.0-fuzz\r\n" + pkt(kexinit(nomatch, 0)))
    write(h, "ignore-debug-then-kexinit", b"SSH-2.0-fuzz\r\n" + pkt(bytes([2]) + string("abc")) +
          pkt(bytes([4, 1]) + string("hi") + u32(0)) + pkt(kexinit(lists, 0)))
    write(h, "strict-kex-ignore-first", b"SSH-2.0-fuzz\r\n" + pkt(bytes([2]) + string("abc")) +
          pkt(kexinit(minimal, 0)))
    write(h, "disconnect", b"SSH-2.0-fuzz\r\n" + pkt(bytes([1]) + u32(11) + string("bye") +
                                                     u32(0)))
    write(h, "service-request-before-kex",
          b"SSH-2.0-fuzz\r\n" + pkt(bytes([5]) + string("ssh-userauth")))
    write(h, "huge-length", b"SSH-2.0-fuzz\r\n" + b"\x7f\xff\xff\xfc\x04" + b"\0" * 16)
    write(h, "banner-lf-only", b"SSH-2.0-x\n")
    write(h, "banner-199", b"SSH-1.99-legacy_1.0\r\n")
    write(h, "banner-ssh1", b"SSH-1.5-old\r\n")
    write(h, "prebanner-line", b"hello there\r\nSSH-2.0-x\r\n")
    write(h, "http-request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def flood_seeds():
    """What an unauthenticated client may repeat or get slightly wrong (the pre-auth message
    budget, refused requests, trailing bytes). In fuzz_ssh_preauth they are sent in the clear
    (all the harness can reach: what follows NEWKEYS fails the MAC), where most end the
    session at the first message; fuzz_ssh_session gets the same shapes after a real key
    exchange. Writes new files only, and no keys: `make_seeds.py --floods` runs just this."""
    h = "fuzz_ssh_preauth"
    with open(os.path.join(CORPUS, h, "openssh92-kex"), "rb") as f:
        cap = f.read()
    nl = cap.index(b"\n") + 1
    banner, kexinit_pkt = cap[:nl], cap[nl:nl + 4 + struct.unpack(">I", cap[nl:nl + 4])[0]]

    def pkt(p):
        pad = 8 - (5 + len(p)) % 8
        if pad < 4:
            pad += 8
        return struct.pack(">IB", 1 + len(p) + pad, pad) + p + b"\0" * pad

    from cryptography.hazmat.primitives.asymmetric import ed25519
    # The unit tests' user_key (tc_ed25519_key with seed {2}): a key the engine parses.
    pub = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([2]) + bytes(31)).public_key()
    ed_blob = string("ssh-ed25519") + string(pub.public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw))
    svc = bytes([5]) + string("ssh-userauth")

    def auth(method, rest=b"", user="alice", service="ssh-connection"):
        return bytes([50]) + string(user) + string(service) + string(method) + rest

    mismatch = auth("publickey", b"\0" + string("ecdsa-sha2-nistp256") + string(ed_blob))
    unknown = bytes([200]) + b"boo"
    start = banner + kexinit_pkt
    write(h, "flood-ignore-during-kex", start + pkt(bytes([2]) + string("x")) * 70)
    write(h, "flood-unknown", start + pkt(unknown) * 70)
    write(h, "flood-service-request", start + pkt(svc) * 70)
    write(h, "flood-none", start + pkt(svc) + pkt(auth("none")) * 70)
    write(h, "publickey-alg-mismatch", start + pkt(svc) + pkt(mismatch))
    write(h, "trailing-kexinit", banner + pkt(kexinit_pkt[5:-kexinit_pkt[4]] + b"\0"))
    write(h, "trailing-service-request", start + pkt(svc + b"\0"))
    write(h, "trailing-none", start + pkt(svc) + pkt(auth("none") + b"\0"))
    write(h, "banner-control-chars", b"SSH-2.0-x\x1b[2J\tcaf\xc3\xa9\r\n" + kexinit_pkt)

    h = "fuzz_ssh_session"
    write(h, "flood-unknown", bytes([0]) + rec_raw(unknown) * 70)
    write(h, "flood-service-request", bytes([0]) + rec_raw(svc) * 70)
    write(h, "flood-none", bytes([1]) + rec_raw(svc) + rec_raw(auth("none")) * 70)
    write(h, "flood-ignore-no-strict", bytes([0x40]) + rec_raw(bytes([2]) + string("")) * 70)
    write(h, "refusals-counted",
          bytes([2]) + rec_raw(svc) + rec_raw(auth("none")) + rec_raw(auth("none")) +
          rec_raw(mismatch) + rec_raw(auth("publickey", b"\0" + string("ssh-ed25519") +
                                           string(ed_blob[:-1]))) +
          rec_raw(auth("none", user="a\0b")) + rec_raw(auth("none", user="u" * 300)) +
          rec_raw(auth("password", b"\0" + string("x"))) + rec_raw(auth("none", user="bob")))
    write(h, "wrong-service-first",
          bytes([3]) + rec_raw(svc) + rec_raw(auth("none", service="ssh-other")) +
          rec_raw(auth("none")))
    write(h, "unverified-accept",
          bytes([4]) + rec_raw(svc) + rec_raw(auth("publickey", b"\1" + string("ssh-ed25519") +
                                                  string(ed_blob) +
                                                  string(string("ssh-ed25519") +
                                                         b"\0" * 64), user="ursula")))
    write(h, "trailing-service-request", bytes([0]) + rec_raw(svc + b"\0"))
    write(h, "trailing-publickey",
          bytes([0]) + rec_raw(svc) + rec_raw(auth("publickey", b"\0" + string("ssh-ed25519") +
                                                  string(ed_blob) + b"\0")))
    write(h, "client-ext-info",
          bytes([0]) + rec_raw(bytes([7]) + u32(1) + string("ext-info-in-auth@openssh.com") +
                               string("0")))
    ch_open = open_direct(0, "example.com", 443)
    write(h, "trailing-channel-messages",
          bytes([LOGIN]) + ch_open + rec("CHANNEL_WINDOW_ADJUST", u32(0) + u32(4096) + b"\0") +
          rec("CHANNEL_EOF", u32(0) + b"\0") + rec("CHANNEL_CLOSE", u32(0) + b"\0"))


def rec_raw(payload):
    """A fuzz_ssh_session record for a payload given whole (message number included)."""
    return u16(len(payload)) + payload


def mlkem_seeds():
    """fuzz_mlkem768: ek || m from the checked-in Wycheproof subset (tests/unit/mlkem_vectors):
    valid keys, a modulus overflow, an unreduced key, a short and a long key."""
    import json
    path = os.path.join(HERE, "..", "unit", "mlkem_vectors", "wycheproof-encaps-768.json")
    picks = {14: "valid-seed0", 15: "valid-seed1", 234: "valid-zero-secret-and-error",
             237: "valid-frequent-rejection", 247: "valid-matrix-zeroes", 2: "modulus-overflow",
             114: "not-reduced", 214: "too-short", 224: "too-long"}
    for g in json.load(open(path))["testGroups"]:
        for t in g["tests"]:
            if t["tcId"] in picks:
                write("fuzz_mlkem768", picks[t["tcId"]],
                      bytes.fromhex(t["ek"]) + bytes.fromhex(t["m"]))


def sntrup761_seeds():
    """fuzz_sntrup761: a 1158-byte public key, then the 3044 random bytes. Every string is a
    public key, so synthetic ones reach the same code as real ones."""
    pat = bytes((i * 131 + 7) & 0xff for i in range(1158))
    rnd = bytes((i * 29 + (i >> 8)) & 0xff for i in range(3044))
    write("fuzz_sntrup761", "zeros", bytes(1158 + 3044))
    write("fuzz_sntrup761", "all-ff", b"\xff" * (1158 + 3044))
    write("fuzz_sntrup761", "pattern", pat + rnd)
    write("fuzz_sntrup761", "short-random", pat + rnd[:100])
    write("fuzz_sntrup761", "urandom", os.urandom(1158 + 3044))


def kex_method_seeds():
    """fuzz_ssh_preauth: a KEXINIT naming one key exchange method, then KEX_ECDH_INIT with a
    C_INIT of the right shape for it (a real ML-KEM key from the Wycheproof subset, valid
    NIST points, e = 2 for the finite-field groups; any bytes are an X25519 or sntrup761
    key), and for some a malformed one. The harness offers every supported method."""
    import json
    h = "fuzz_ssh_preauth"
    path = os.path.join(HERE, "..", "unit", "mlkem_vectors", "wycheproof-encaps-768.json")
    tests = {t["tcId"]: t for g in json.load(open(path))["testGroups"] for t in g["tests"]}
    ek, bad_ek = bytes.fromhex(tests[14]["ek"]), bytes.fromhex(tests[2]["ek"])
    x = bytes((i * 77 + 9) & 0xff for i in range(32))

    def point(curve):
        pub = ec.generate_private_key(curve).public_key()
        return pub.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint)

    def pkt(p):
        pad = 8 - (5 + len(p)) % 8
        if pad < 4:
            pad += 8
        return struct.pack(">IB", 1 + len(p) + pad, pad) + p + b"\0" * pad

    def seed(name, method, c_init):
        lists = [method + ",kex-strict-c-v00@openssh.com,ext-info-c", "ssh-ed25519",
                 "aes128-gcm@openssh.com", "aes128-gcm@openssh.com", "", "", "none", "none",
                 "", ""]
        kexinit = bytes([20]) + b"\x11" * 16 + b"".join(string(v) for v in lists) + \
            bytes([0]) + u32(0)
        write(h, "kex-" + name, b"SSH-2.0-fuzz\r\n" + pkt(kexinit) +
              pkt(bytes([30]) + string(c_init)))
    seed("mlkem768x25519", "mlkem768x25519-sha256", ek + x)
    seed("mlkem768x25519-modulus", "mlkem768x25519-sha256", bad_ek + x)
    seed("mlkem768x25519-short", "mlkem768x25519-sha256", ek + x[:31])
    seed("sntrup761x25519", "sntrup761x25519-sha512",
         bytes((i * 131 + 7) & 0xff for i in range(1158)) + x)
    seed("sntrup761x25519-openssh", "sntrup761x25519-sha512@openssh.com", bytes(1158) + x)
    seed("nistp256", "ecdh-sha2-nistp256", point(ec.SECP256R1()))
    seed("nistp384", "ecdh-sha2-nistp384", point(ec.SECP384R1()))
    seed("nistp521", "ecdh-sha2-nistp521", point(ec.SECP521R1()))
    seed("nistp256-off-curve", "ecdh-sha2-nistp256", b"\4" + b"\1" * 64)
    seed("nistp256-compressed", "ecdh-sha2-nistp256", point(ec.SECP256R1())[:33])
    seed("dh-group14", "diffie-hellman-group14-sha256", b"\2")
    seed("dh-group16", "diffie-hellman-group16-sha512", b"\2")
    seed("dh-group18-one", "diffie-hellman-group18-sha512", b"\1")


def control_seeds():
    """The control channel (alknet-control:0): JSON texts for fuzz_json, frame streams for
    fuzz_control_frame (two bytes: cap index and packet seed, then frames), and the control
    destination for fuzz_policy."""
    texts = ['{"type":"chat","id":"1","payload":{"text":"hi"}}',
             '{"type":"__subscribe","payload":{"topic":"news"}}',
             '{"type":"__unsubscribe","id":"2","payload":{"topic":"news","x":[1,2.5e-3,true]}}',
             '{"payload":{"topic":"t","type":"no"},"type":"\\u00e9\\ud83d\\ude00"}',
             '{"type":"a","type":"b"}', '{"id":"1"}', '[{"type":"x"}]', '{"type":1}',
             '"\\uD800"', '[' * 40 + ']' * 40, '{"type":"x","n":-0.0E+00,"z":null}',
             '{"type":"x",}', '\ufeff{"type":"x"}', '{"type":"' + 'y' * 300 + '"}']
    for i, t in enumerate(texts):
        write("fuzz_json", "text%02d" % i, t)
    write("fuzz_json", "bad-utf8", b'{"type":"\xc0\xaf","p":"\xed\xa0\x80"}')

    def fr(t):
        b = t.encode() if isinstance(t, str) else t
        return u32(len(b)) + b
    streams = [fr(texts[1]) + fr(texts[0]) + fr(texts[2]),
               fr(texts[0]) * 5, u32(0), u32(0xffffffff) + b"{}", fr(texts[5]),
               fr(texts[4]) + fr(texts[0]), fr('{"type":"__subscribe"}'),
               fr(texts[0])[:-3], fr(texts[3]) + fr(texts[13])]
    for i, st in enumerate(streams):
        write("fuzz_control_frame", "stream%02d" % i, bytes([i % 12, 17 * i]) + st)
    for i, (port, host) in enumerate([(0, b"alknet-control"), (0, b"ALKNET-CONTROL"),
                                      (1, b"alknet-control"), (0, b"alknet-controlx"),
                                      (0, b"alknet-other")]):
        write("fuzz_policy", "control%02d" % i, u32(port) + host)


def main():
    import sys
    if sys.argv[1:] == ["--kex"]:
        kex_method_seeds()
        return
    if sys.argv[1:] == ["--control"]:
        control_seeds()
        return
    if sys.argv[1:] == ["--floods"]:
        flood_seeds()
        return
    if sys.argv[1:] == ["--mlkem"]:
        mlkem_seeds()
        return
    if sys.argv[1:] == ["--sntrup761"]:
        sntrup761_seeds()
        return
    if sys.argv[1:] == ["--proxy-header"]:
        proxy_header_seeds()
        return
    with tempfile.TemporaryDirectory() as tmp:
        keys = keygen(tmp)
        key_seeds(keys)
        authkeys_seeds(keys)
        session_seeds(keys)
    small_seeds()
    proxy_seeds()
    proxy_header_seeds()
    preauth_seeds()
    flood_seeds()
    mlkem_seeds()
    sntrup761_seeds()
    kex_method_seeds()
    control_seeds()


if __name__ == "__main__":
    main()
