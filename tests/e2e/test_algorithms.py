"""The algorithm lists (--kex-algorithms, --ciphers, --macs, --host-key-algorithms, OpenSSH's
list syntax) and the encrypt-and-MAC MACs hmac-sha2-256/512 (RFC 6668), with Debian's OpenSSH
client: data through tunnels with re-keys in the middle, what a configured list lets in and
keeps out (and the negotiation log line), the server's offer order as ssh -vv shows it, start-up
errors naming the option or FILE:LINE, --check's effective lists, the same keywords in a
--config file, and a SIGHUP reload that changes the lists for new connections."""
import os
import re
import signal
import subprocess

import pytest

from conftest import ALKNET, rand_bytes, sha256_hex

SSH_TIMEOUT = 60
NON_ETM = "+hmac-sha2-256,hmac-sha2-512"


def ssh_debug(srv, key, *extra):
    """Server.ssh_cmd with LogLevel=DEBUG2 (the first -o LogLevel wins), so stderr has the
    server's KEXINIT proposal and the 'kex: ... cipher: ... MAC: ...' choices."""
    return [("LogLevel=DEBUG2" if a == "LogLevel=ERROR" else a)
            for a in srv.ssh_cmd(key, *extra)]


def run_w(srv, key, target, data=b"", opts=(), debug=False, timeout=SSH_TIMEOUT):
    cmd = ssh_debug(srv, key, *opts, "-W", target) if debug else \
        srv.ssh_cmd(key, *opts, "-W", target)
    return subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)


def chosen(stderr, direction):
    """(cipher, MAC) from ssh's 'debug1: kex: server->client cipher: C MAC: M ...' line."""
    m = re.search(r"kex: %s cipher: (\S+) MAC: (\S+)" % direction, stderr.decode())
    assert m, stderr.decode()[-3000:]
    return m.group(1), m.group(2)


def server_proposal(stderr, what):
    """The server's list `what` (e.g. 'ciphers stoc') from ssh -vv's 'peer server KEXINIT
    proposal' block."""
    text = stderr.decode()
    peer = text[text.index("peer server KEXINIT proposal"):]
    m = re.search(r"debug2: %s: (\S*)" % re.escape(what), peer)
    assert m, peer[:3000]
    return m.group(1)


def negotiation_line(srv, src, reason):
    return srv.wait_log('negotiation failed remote_addr=%s reason="%s"' % (src, reason))


# ---------------------------------------------------------------------------------------
# hmac-sha2-256/512 (not -etm): data intact across re-keys

@pytest.mark.parametrize("cipher,mac", [("aes128-ctr", "hmac-sha2-256"),
                                        ("aes256-ctr", "hmac-sha2-512"),
                                        ("aes192-ctr", "hmac-sha2-256")])
def test_non_etm_mac_moves_data_across_rekeys(server_factory, keys, sink_server, monkeypatch,
                                              cipher, mac):
    # The server re-keys every MiB (its volume limit, shrunk for tests), the client every 2.
    monkeypatch.setenv("ALKNET_TEST_REKEY_BYTES", str(1 << 20))
    srv = server_factory("--log-level", "debug", "--macs", NON_ETM)
    data = rand_bytes(5 << 20, seed=16)
    r = run_w(srv, keys.default, "127.0.0.1:%d" % sink_server.port, data, debug=True,
              opts=("-o", "Ciphers=" + cipher, "-o", "MACs=" + mac, "-o", "RekeyLimit=2M"))
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert r.stdout.decode().split() == [sha256_hex(data), str(len(data))]
    assert chosen(r.stderr, "client->server") == (cipher, mac)
    assert chosen(r.stderr, "server->client") == (cipher, mac)
    kexes = srv.log().count("key exchange done")
    assert kexes >= 3, "expected re-keys mid-transfer, saw %d key exchanges" % kexes


@pytest.mark.parametrize("mac", ["hmac-sha2-256", "hmac-sha2-512"])
def test_non_etm_macs_are_on_by_default(server_factory, keys, echo_server, mac):
    """An old client that knows only the non-ETM MACs gets in with no option set."""
    srv = server_factory("--log-level", "debug")
    r = run_w(srv, keys.default, "127.0.0.1:%d" % echo_server.port, b"old client", debug=True,
              opts=("-o", "Ciphers=aes128-ctr", "-o", "MACs=" + mac))
    assert r.returncode == 0 and r.stdout == b"old client", r.stderr.decode()[-2000:]
    assert chosen(r.stderr, "client->server") == ("aes128-ctr", mac)


def test_non_etm_macs_can_be_removed(server_factory, keys):
    srv = server_factory("--macs", "-hmac-sha2-256,hmac-sha2-512")
    r = subprocess.run(srv.ssh_cmd(keys.default, "-b", "127.0.0.2", "-c", "aes128-ctr",
                                   "-o", "MACs=hmac-sha2-256,hmac-sha2-512", "-N"),
                       capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert negotiation_line(srv, "127.0.0.2", "no matching MAC"), srv.log()


# ---------------------------------------------------------------------------------------
# what a configured list lets in and keeps out

def test_minus_pattern_removes_macs(server_factory, keys, echo_server, tmp_path):
    """The file enables the non-ETM MACs; --macs -hmac-sha2-256* on the command line replaces
    that with the default minus both hmac-sha2-256 MACs."""
    conf = tmp_path / "alknet.conf"
    conf.write_text("macs %s\n" % NON_ETM)
    os.chmod(conf, 0o600)
    srv = server_factory("--config", str(conf), "--macs", "-hmac-sha2-256*")
    for src, mac in [("127.0.0.3", "hmac-sha2-256"), ("127.0.0.4", "hmac-sha2-256-etm@openssh.com")]:
        r = subprocess.run(srv.ssh_cmd(keys.default, "-b", src, "-c", "aes128-ctr",
                                       "-o", "MACs=" + mac, "-N"),
                           capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
        assert r.returncode != 0
        assert negotiation_line(srv, src, "no matching MAC"), srv.log()
    r = run_w(srv, keys.default, "127.0.0.1:%d" % echo_server.port, b"still works",
              opts=("-c", "aes128-ctr", "-o", "MACs=hmac-sha2-512-etm@openssh.com"))
    assert r.returncode == 0 and r.stdout == b"still works", r.stderr


def test_kex_list_restricts_and_logs(server_factory, keys):
    srv = server_factory("--kex-algorithms", "curve25519-sha256@libssh.org")
    r = subprocess.run(srv.ssh_cmd(keys.default, "-b", "127.0.0.5",
                                   "-o", "KexAlgorithms=curve25519-sha256", "-N"),
                       capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert negotiation_line(srv, "127.0.0.5", "no matching key exchange method"), srv.log()


def test_caret_puts_cipher_first(server_factory, keys, echo_server):
    srv = server_factory("--ciphers", "^aes256-gcm@openssh.com")
    r = run_w(srv, keys.default, "127.0.0.1:%d" % echo_server.port, b"x", debug=True)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    offer = server_proposal(r.stderr, "ciphers stoc").split(",")
    assert offer[0] == "aes256-gcm@openssh.com"
    assert offer[1] == "chacha20-poly1305@openssh.com" and len(offer) == 6, offer
    # The client's preference decides (RFC 4253 §7.1): OpenSSH lists chacha20 first.
    assert chosen(r.stderr, "server->client")[0] == "chacha20-poly1305@openssh.com"
    # A plain list replaces the default: then the client has to take aes256-gcm.
    srv2 = server_factory("--ciphers", "aes256-gcm@openssh.com")
    r = run_w(srv2, keys.default, "127.0.0.1:%d" % echo_server.port, b"y", debug=True)
    assert r.returncode == 0 and r.stdout == b"y", r.stderr.decode()[-3000:]
    assert server_proposal(r.stderr, "ciphers stoc") == "aes256-gcm@openssh.com"
    assert chosen(r.stderr, "server->client")[0] == "aes256-gcm@openssh.com"


# ---------------------------------------------------------------------------------------
# start-up errors, --check, the config file

def run_alknet(keys, *args):
    return subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys",
                           keys.authorized, "--listen", "127.0.0.1:1"] + list(args),
                          capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("opt,value,message", [
    ("--ciphers", "aes128-cbc", "--ciphers: unknown algorithm 'aes128-cbc'"),
    ("--macs", "+hmac-sha1", "--macs: unknown algorithm 'hmac-sha1'"),
    ("--macs", "-*", "--macs: no algorithm left in the list"),
    ("--kex-algorithms", "diffie-hellman-group1-sha1",
     "--kex-algorithms: unknown algorithm 'diffie-hellman-group1-sha1'"),
    ("--host-key-algorithms", "ssh-rsa", "--host-key-algorithms: unknown algorithm 'ssh-rsa'"),
    ("--ciphers", "aes*-cbc", "--ciphers: 'aes*-cbc' matches no supported algorithm"),
    ("--ciphers", "", "--ciphers: empty algorithm list"),
])
def test_bad_list_refused_at_start(keys, opt, value, message):
    r = run_alknet(keys, opt, value)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "alknet: " + message


def test_host_key_algorithms_must_fit_the_key(keys):
    r = run_alknet(keys, "--host-key-algorithms", "rsa-sha2-512,rsa-sha2-256", "--check")
    assert r.returncode == 1
    assert "host-key-algorithms: the host key %s signs with ssh-ed25519, which is not in the " \
           "list" % keys.host in r.stderr


def check_lists(stdout):
    return dict(line.split(" ", 1) for line in stdout.splitlines()
                if line.split(" ", 1)[0] in ("kex-algorithms", "ciphers", "macs",
                                             "host-key-algorithms"))


KEX_DEFAULT = ("mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"
               "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
               "ecdh-sha2-nistp384,ecdh-sha2-nistp521")


def test_check_prints_effective_lists(keys):
    r = run_alknet(keys, "--check", "--macs", NON_ETM, "--ciphers", "-aes*-ctr",
                   "--host-key-algorithms", "^rsa-sha2-256")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("configuration ok\n")
    assert check_lists(r.stdout) == {
        "kex-algorithms": KEX_DEFAULT,
        "ciphers": "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                   "aes256-gcm@openssh.com",
        "macs": "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                "hmac-sha2-256,hmac-sha2-512",
        "host-key-algorithms": "rsa-sha2-256,ssh-ed25519,ecdsa-sha2-nistp256,"
                               "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512",
    }
    # The defaults, one line each, before "configuration ok".
    r = run_alknet(keys, "--check")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == [
        "kex-algorithms " + KEX_DEFAULT,
        "ciphers chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
        "aes128-ctr,aes192-ctr,aes256-ctr",
        "macs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,"
        "hmac-sha2-512",
        "host-key-algorithms ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"]


CONF = ("kex-algorithms curve25519-sha256@libssh.org\nciphers aes256-ctr,aes128-ctr\n"
        "macs hmac-sha2-512\nhost-key-algorithms ssh-ed25519\n")


def test_config_file_keywords(server_factory, keys, echo_server, tmp_path):
    conf = tmp_path / "alknet.conf"
    conf.write_text(CONF)
    os.chmod(conf, 0o600)
    r = run_alknet(keys, "--config", str(conf), "--check")
    assert r.returncode == 0, r.stderr
    assert check_lists(r.stdout) == {"kex-algorithms": "curve25519-sha256@libssh.org",
                                     "ciphers": "aes256-ctr,aes128-ctr",
                                     "macs": "hmac-sha2-512",
                                     "host-key-algorithms": "ssh-ed25519"}
    srv = server_factory("--config", str(conf))
    r = run_w(srv, keys.default, "127.0.0.1:%d" % echo_server.port, b"conf", debug=True)
    assert r.returncode == 0 and r.stdout == b"conf", r.stderr.decode()[-3000:]
    assert "kex: algorithm: curve25519-sha256@libssh.org" in r.stderr.decode()
    # OpenSSH prefers aes128-ctr (the client decides among what the server lists)
    assert chosen(r.stderr, "client->server") == ("aes128-ctr", "hmac-sha2-512")


def test_config_file_error_names_file_and_line(keys, tmp_path):
    conf = tmp_path / "alknet.conf"
    conf.write_text("# algorithms\nciphers aes256-ctr\nmacs +hmac-md5\n")
    os.chmod(conf, 0o600)
    r = run_alknet(keys, "--config", str(conf))
    assert r.returncode == 2
    assert r.stderr.strip() == "alknet: %s:3: macs: unknown algorithm 'hmac-md5'" % conf


def test_reload_changes_the_lists(server_factory, keys, echo_server, tmp_path):
    conf = tmp_path / "alknet.conf"
    conf.write_text("ciphers aes128-ctr\nmacs -hmac-sha2-256,hmac-sha2-512\n")
    os.chmod(conf, 0o600)
    srv = server_factory("--config", str(conf))
    opts = ("-c", "aes128-ctr", "-o", "MACs=hmac-sha2-256")
    target = "127.0.0.1:%d" % echo_server.port
    assert run_w(srv, keys.default, target, b"a", opts=opts).returncode != 0
    conf.write_text("ciphers aes128-ctr\nmacs -hmac-sha2-512\n")
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.wait_log("reload ok"), srv.log()
    r = run_w(srv, keys.default, target, b"b", opts=opts)
    assert r.returncode == 0 and r.stdout == b"b", r.stderr
    # A bad list in a reload keeps the previous lists.
    conf.write_text("ciphers aes128-ctr\nmacs +hmac-sha1\n")
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.wait_log("reload failed"), srv.log()
    assert "macs: unknown algorithm 'hmac-sha1'" in srv.log()
    r = run_w(srv, keys.default, target, b"c", opts=opts)
    assert r.returncode == 0 and r.stdout == b"c", r.stderr


# ---------------------------------------------------------------------------------------
# other clients with the non-ETM MACs: paramiko 2.12 and Debian's dbclient

def paramiko_sink(srv, key, port, data, mac):
    """paramiko left with one MAC: sends data to the SHA-256 sink through a direct-tcpip
    channel, asking for a re-key half-way. Returns (cipher, MAC both ways, kex count, reply)."""
    import paramiko
    disabled = {"macs": [m for m in paramiko.Transport._preferred_macs if m != mac]}
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(srv.host, srv.port, username="tester", key_filename=key, look_for_keys=False,
                   allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10,
                   disabled_algorithms=disabled)
    try:
        tr = client.get_transport()
        ch = tr.open_channel("direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0), timeout=10)
        ch.settimeout(SSH_TIMEOUT)
        half = len(data) // 2
        ch.sendall(data[:half])
        tr.renegotiate_keys()
        ch.sendall(data[half:])
        ch.shutdown_write()
        reply = b""
        while not reply.endswith(b"\n"):
            d = ch.recv(4096)
            if not d:
                break
            reply += d
        return (tr.local_cipher, tr.local_mac, tr.remote_mac), reply.decode().split()
    finally:
        client.close()


@pytest.mark.parametrize("mac", ["hmac-sha2-256", "hmac-sha2-512"])
def test_paramiko_non_etm_mac(server_factory, keys, sink_server, mac):
    srv = server_factory("--log-level", "debug", "--macs", NON_ETM)
    data = rand_bytes(3 << 20, seed=17)
    algs, reply = paramiko_sink(srv, keys.default, sink_server.port, data, mac)
    assert algs == ("aes128-ctr", mac, mac)  # paramiko 2.12 puts aes128-ctr first
    assert reply == [sha256_hex(data), str(len(data))]
    assert srv.log().count("key exchange done") >= 2, srv.log()[-3000:]


@pytest.mark.parametrize("cipher", ["aes128-ctr", "aes256-ctr"])
def test_dbclient_non_etm_mac(server_factory, keys, echo_server, tmp_path, cipher):
    """Debian's dbclient speaks hmac-sha2-256 but not its -etm form."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = str(tmp_path / "client.dropbear")
    subprocess.run(["dropbearconvert", "openssh", "dropbear", keys.default, key], check=True,
                   capture_output=True, timeout=20)
    srv = server_factory("--macs", "+hmac-sha2-256")
    data = rand_bytes(2 << 20, seed=18)
    r = subprocess.run(["dbclient", "-y", "-y", "-i", key, "-p", str(srv.port), "-c", cipher,
                        "-m", "hmac-sha2-256", "-B", "127.0.0.1:%d" % echo_server.port,
                        "tester@" + srv.host], input=data, capture_output=True,
                       timeout=SSH_TIMEOUT, env=dict(os.environ, HOME=str(home)))
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert sha256_hex(r.stdout) == sha256_hex(data)
