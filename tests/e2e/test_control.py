"""alknet-control:0, the built-in event hub (issue 19, alknet ADR-018), with real SSH clients:
paramiko opens direct-tcpip channels to alknet-control:0 (OpenSSH's `ssh -W` refuses port 0)
and exchanges frames, a 4-byte big-endian length and a JSON EventEnvelope, through the server.

Waits are bounded (channel timeouts) and nothing depends on timing: a subscription is known to
be in force once a frame published from a second channel of the same session on a topic only
that subscriber holds comes back (one session's frames are handled in the order they arrive),
and "nothing was delivered" is shown by a marker the same publisher sends afterwards."""
import itertools
import signal
import json
import os
import threading
import warnings

import pytest

from conftest import MIB, paramiko_transport, recv_exact, rss_kib, wait_until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Debian's paramiko imports deprecated ciphers
    import paramiko

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROHIBITED = 1  # SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
UNDER_TOOL = bool(os.environ.get("ALKNET_WRAPPER") or os.environ.get("ALKNET_STRICT_EXIT"))
_sync_ids = itertools.count()


def frame(obj):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return len(body).to_bytes(4, "big") + body


def read_raw(ch):
    """One frame's JSON bytes; EOFError at the end of the channel."""
    hdr = recv_exact(ch, 4)
    if len(hdr) < 4:
        raise EOFError("channel ended")
    n = int.from_bytes(hdr, "big")
    body = recv_exact(ch, n)
    if len(body) < n:
        raise EOFError("channel ended mid-frame")
    return body


def read_frame(ch):
    return json.loads(read_raw(ch))


def login(srv, keys):
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
    return t


def open_control(t, host="alknet-control", port=0):
    ch = t.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=10)
    ch.settimeout(30)
    return ch


def stderr_to_eof(ch):
    out = b""
    while True:
        d = ch.recv_stderr(4096)
        if not d:
            return out.decode(errors="replace")
        out += d


class Endpoint:
    """A session with a control channel, and a second control channel on the same session
    (made on first use) to tell when the first one's frames have been handled."""

    def __init__(self, srv, keys, transport=None):
        self.t = transport or login(srv, keys)
        self.ch = open_control(self.t)
        self.aux = None
        self.backlog = []

    def send(self, obj):
        self.ch.sendall(frame(obj))

    def publish(self, topic, **fields):
        self.send(dict(type=topic, **fields))

    def recv(self):
        return self.backlog.pop(0) if self.backlog else read_frame(self.ch)

    def sync(self):
        tp = "sync-%d" % next(_sync_ids)
        self.send({"type": "__subscribe", "payload": {"topic": tp}})
        if self.aux is None:
            self.aux = open_control(self.t)
        self.aux.sendall(frame({"type": tp, "id": "sync"}))
        while True:
            f = read_frame(self.ch)
            if f["type"] == tp:
                break
            self.backlog.append(f)
        self.send({"type": "__unsubscribe", "payload": {"topic": tp}})

    def subscribe(self, *topics):
        for tp in topics:
            self.send({"type": "__subscribe", "id": "s", "payload": {"topic": tp}})
        self.sync()

    def unsubscribe(self, *topics):
        for tp in topics:
            self.send({"type": "__unsubscribe", "payload": {"topic": tp}})
        self.sync()

    def close(self):
        self.t.close()


@pytest.fixture
def ctl(server_factory, keys):
    """A server with the control channel allowed, and a maker of endpoints closed at the
    end."""
    made = []

    class Ctl:
        srv = server_factory("--control", "allow")

        def endpoint(self, **kw):
            e = Endpoint(self.srv, keys, **kw)
            made.append(e)
            return e

    yield Ctl()
    for e in made:
        e.close()


def test_denied_by_default(server_factory, keys):
    """Without --control allow the open is ADMINISTRATIVELY_PROHIBITED; the session goes
    on."""
    srv = server_factory()
    t = login(srv, keys)
    try:
        with pytest.raises(paramiko.ChannelException) as e:
            open_control(t)
        assert e.value.code == PROHIBITED
        assert srv.wait_log('control channel refused session=1 channel=0 '
                            'remote_addr=127.0.0.1 reason="not permitted"')
        with pytest.raises(paramiko.ChannelException):
            open_control(t)  # the session is still there to ask again
        assert t.is_active()
    finally:
        t.close()


def test_other_reserved_names_refused(ctl, keys):
    """alknet-control on any port but 0 and other alknet-* names stay prohibited, even with
    --control allow; alknet-control:0 itself is matched in any case."""
    t = login(ctl.srv, keys)
    try:
        for host, port in [("alknet-control", 1), ("alknet-control", 22),
                           ("alknet-control", 65535), ("alknet-other", 0),
                           ("ALKNET-other", 80), ("alknet-controlx", 0), ("alknet-", 0)]:
            with pytest.raises(paramiko.ChannelException) as e:
                open_control(t, host, port)
            assert e.value.code == PROHIBITED, (host, port)
        open_control(t, "ALKNET-Control", 0).close()
        open_control(t).close()
    finally:
        t.close()


def test_two_subscribers_topic_routing(ctl):
    """Each subscriber gets its topics only, byte for byte; a publisher subscribed to its own
    topic never gets its own frames back. Connects and disconnects are logged with the
    address; topics and payloads never are."""
    a, b, p = ctl.endpoint(), ctl.endpoint(), ctl.endpoint()
    a.subscribe("news-topic")
    b.subscribe("sport-topic")
    p.subscribe("news-topic")
    raw = (b'{ "type" : "news-topic", "id": "n1",\n'
           b'  "payload": {"text": "caf\\u00e9 \xc3\xa9 SECRETPAYLOAD"} }')
    p.ch.sendall(frame(raw))
    p.publish("sport-topic", id="s1", payload={"score": [1, 2]})
    p.publish("weather-topic", id="w1", payload=None)  # nobody subscribed: dropped
    assert read_raw(a.ch) == raw
    assert b.recv() == {"type": "sport-topic", "id": "s1", "payload": {"score": [1, 2]}}
    a.publish("news-topic", id="from-a")
    assert p.recv()["id"] == "from-a"  # not its own n1 first
    b.publish("sport-topic", id="marker-b")  # b holds no news: b sees nothing of it
    a.publish("news-topic", id="a2")
    assert p.recv()["id"] == "a2"
    a.ch.close()
    assert ctl.srv.wait_log('remote_addr=127.0.0.1 reason="closed by client"')
    for e in (a, b, p):
        e.close()
    assert wait_until(lambda: ctl.srv.log().count("control channel closed") >= 6, 10)
    log = ctl.srv.log()
    assert log.count("control channel opened") == 6  # three subscribers, three sync channels
    assert 'remote_addr=127.0.0.1 reason="session closed"' in log
    for secret in ("SECRETPAYLOAD", "news-topic", "sport-topic", "weather-topic", "sync-"):
        assert secret not in log


def test_order_per_publisher(ctl):
    """Two publishers send interleaved sequences on one topic; every subscriber sees each
    publisher's frames complete and in order, and publishers never see their own."""
    n = 300
    s, p1, p2 = ctl.endpoint(), ctl.endpoint(), ctl.endpoint()
    for e in (s, p1, p2):
        e.subscribe("seq")

    def run(p, name):
        for i in range(n):
            p.publish("seq", id="%s-%d" % (name, i), payload={"pub": name, "seq": i})

    threads = [threading.Thread(target=run, args=(p, name))
               for p, name in ((p1, "p1"), (p2, "p2"))]
    for th in threads:
        th.start()
    got = [s.recv()["payload"] for _ in range(2 * n)]
    for th in threads:
        th.join(30)
    for name in ("p1", "p2"):
        assert [g["seq"] for g in got if g["pub"] == name] == list(range(n))
    assert [p1.recv()["payload"]["seq"] for _ in range(n)] == list(range(n))
    assert all(p2.recv()["payload"]["pub"] == "p1" for _ in range(n))


def test_fifty_subscribers(ctl):
    """Fifty sessions subscribe to one topic; each gets all of a publisher's frames in
    order; one subscribed elsewhere gets none of them."""
    subs = [ctl.endpoint() for _ in range(50)]
    for e in subs:
        e.subscribe("fan")
    other = ctl.endpoint()
    other.subscribe("elsewhere")
    p = ctl.endpoint()
    for i in range(20):
        p.publish("fan", id=str(i), payload={"i": i, "pad": "x" * 1000})
    p.publish("elsewhere", id="marker")
    for e in subs:
        assert [e.recv()["payload"]["i"] for _ in range(20)] == list(range(20))
    assert other.recv()["id"] == "marker"
    assert ctl.srv.log().count("control channel opened") == 52 * 2 - 1  # p synced nothing


def test_unsubscribe(ctl):
    s, p = ctl.endpoint(), ctl.endpoint()
    s.subscribe("a", "b")
    p.publish("a", id="a1")
    assert s.recv()["id"] == "a1"
    s.unsubscribe("a", "never-subscribed")
    p.publish("a", id="a2")
    p.publish("b", id="b1")
    assert s.recv()["id"] == "b1"  # a2 never came
    s.subscribe("a")
    p.publish("a", id="a3")
    assert s.recv()["id"] == "a3"


BAD_FRAMES = [
    ("length 0", b"\0\0\0\0", "bad frame length 0"),
    ("over the cap", (1025).to_bytes(4, "big"), "frame larger than --control-max-frame"),
    ("length 2^32-1", b"\xff\xff\xff\xff" + b"{}", "frame larger than --control-max-frame"),
    ("invalid JSON", frame(b'{"type":"x",}'), "invalid JSON"),
    ("not JSON at all", frame(b"hello"), "invalid JSON"),
    ("missing type", frame({"id": "1", "payload": {"type": "x"}}), "missing type"),
    ("type not a string", frame({"type": 5}), "missing type"),
    ("not an object", frame(b'["type"]'), "JSON is not an object"),
    ("invalid UTF-8", frame(b'{"type":"\xc0\xaf"}'), "invalid UTF-8 in JSON"),
    ("lone surrogate", frame(b'{"type":"x","p":"\\udc00"}'), "invalid UTF-8 in JSON"),
    ("nested too deep", frame(b'{"type":"x","p":' + b"[" * 100 + b"]" * 100 + b"}"),
     "JSON nested too deep"),
    ("subscribe without topic", frame({"type": "__subscribe", "payload": {}}),
     "subscribe or unsubscribe without payload.topic"),
    ("duplicate type", frame(b'{"type":"a","type":"b"}'), "duplicate envelope field"),
]


@pytest.fixture
def small_frames(server_factory, keys):
    srv = server_factory("--control", "allow", "--control-max-frame", "1K")
    t = login(srv, keys)
    yield srv, t
    t.close()


@pytest.mark.parametrize("name,data,reason", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_malformed_frame_closes_only_its_channel(small_frames, keys, name, data, reason):
    """The bad channel gets the reason on stderr, then EOF and CLOSE; a good frame sent just
    before it in the same write is still delivered; the session, its other channels and
    other sessions go on."""
    srv, t = small_frames
    healthy = Endpoint(srv, keys, transport=t)
    healthy.subscribe("ok")
    other = Endpoint(srv, keys)
    other.subscribe("ok")
    bad = open_control(t)
    bad.sendall(frame({"type": "ok", "id": "before"}) + data)
    assert stderr_to_eof(bad) == "alknet-control: %s\n" % reason
    assert bad.recv(1) == b""
    assert wait_until(lambda: bad.closed, 10)
    assert healthy.recv()["id"] == "before"
    assert other.recv()["id"] == "before"
    assert srv.wait_log('reason="%s"' % reason)
    other.publish("ok", id="after")
    assert healthy.recv()["id"] == "after"
    assert t.is_active()
    other.close()


def test_truncated_frame_at_eof(small_frames, keys):
    srv, t = small_frames
    bad = open_control(t)
    bad.sendall(frame({"type": "x"})[:-2])
    bad.shutdown_write()
    assert stderr_to_eof(bad) == "alknet-control: truncated frame at end of data\n"
    # EOF after whole frames is fine: a subscriber with nothing to say still receives
    s = Endpoint(srv, keys, transport=t)
    s.subscribe("t")
    s.ch.shutdown_write()
    p = Endpoint(srv, keys)
    p.publish("t", id="after-eof")
    assert s.recv()["id"] == "after-eof"
    p.close()


def test_frame_size_cap(ctl):
    """Default cap 1 MiB: a frame of exactly 1 MiB of JSON goes through intact, one byte
    more closes the sender's channel."""
    s, p = ctl.endpoint(), ctl.endpoint()
    s.subscribe("big")
    head = b'{"type":"big","payload":"'
    body = head + b"A" * (MIB - len(head) - 2) + b'"}'
    assert len(body) == MIB
    p.ch.sendall(frame(body))
    assert read_raw(s.ch) == body
    try:
        p.ch.sendall(frame(body[:-2] + b'A"}'))
    except OSError:
        pass  # refused from the length alone: the channel may close before the body is out
    assert stderr_to_eof(p.ch) == "alknet-control: frame larger than --control-max-frame\n"
    s.publish("big", id="s-still-works")  # s can still publish; p is gone


def test_slow_consumer_cut_off(ctl):
    """A subscriber that never reads is cut off once its queue passes --control-max-queue
    (4 MiB), with a logged reason, while a reading subscriber gets all 50 MiB in order and
    the server's memory stays bounded."""
    good, slow, p = ctl.endpoint(), ctl.endpoint(), ctl.endpoint()
    good.subscribe("firehose")
    slow.subscribe("firehose")
    pid = ctl.srv.proc.pid
    base = rss_kib(pid)
    pad = "z" * (256 * 1024 - 100)
    frames, burst = 200, 4  # 200 x 256 KiB = 50 MiB
    peak = base
    for start in range(0, frames, burst):
        for i in range(start, start + burst):
            p.publish("firehose", id=str(i), payload={"i": i, "pad": pad})
        for i in range(start, start + burst):
            assert good.recv()["payload"]["i"] == i
        peak = max(peak, rss_kib(pid))
    assert ctl.srv.wait_log('reason="slow consumer"')
    log = ctl.srv.log()
    assert "control subscriber cut off" in log and "remote_addr=127.0.0.1" in log
    assert wait_until(lambda: slow.ch.closed, 10)
    # what the slow one had taken in before the cut is a prefix of the stream, in order
    seen = 0
    try:
        while True:
            assert read_frame(slow.ch)["payload"]["i"] == seen
            seen += 1
    except EOFError:
        pass
    assert 0 < seen < 40
    if not UNDER_TOOL:
        assert peak - base < 24 * 1024, "RSS grew %d KiB" % (peak - base)
    print("rss base %d KiB peak %d KiB; slow subscriber got %d frames" % (base, peak, seen))
    p.publish("firehose", id="after")
    assert good.recv()["id"] == "after"


def test_reload_to_deny_stops_new_control_channels(server_factory, keys, tmp_path):
    """--control is re-read on SIGHUP: after a reload to deny, new control channels are
    refused (also in sessions that logged in before), while open ones keep working."""
    conf = tmp_path / "alknet.conf"
    conf.write_text("control allow\n")
    os.chmod(conf, 0o644)
    srv = server_factory("--config", str(conf))
    s, p = Endpoint(srv, keys), Endpoint(srv, keys)
    try:
        s.subscribe("t")
        conf.write_text("control deny\n")
        srv.proc.send_signal(signal.SIGHUP)
        assert srv.wait_log("reload ok")
        with pytest.raises(paramiko.ChannelException) as e:
            open_control(p.t)
        assert e.value.code == PROHIBITED
        p.publish("t", id="still-open")
        assert s.recv()["id"] == "still-open"
    finally:
        s.close()
        p.close()


def test_asyncssh_subscriber(ctl, keys):
    """Another client implementation: asyncssh's open_connection('alknet-control', 0) as a
    subscriber, paramiko publishing to it and receiving what it publishes."""
    import asyncio
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import asyncssh
    p = ctl.endpoint()
    p.subscribe("from-asyncssh")

    async def run():
        async with asyncssh.connect("127.0.0.1", ctl.srv.port, username="tester",
                                    client_keys=[keys.default], known_hosts=None) as conn:
            reader, writer = await conn.open_connection("alknet-control", 0)
            writer.write(frame({"type": "__subscribe", "payload": {"topic": "to-asyncssh"}}))
            # once our own publish reached p, the subscription before it is in force
            writer.write(frame({"type": "from-asyncssh", "id": "hello"}))
            await asyncio.get_running_loop().run_in_executor(None, lambda: p.recv())
            p.publish("to-asyncssh", id="hi", payload={"n": 1})
            n = int.from_bytes(await asyncio.wait_for(reader.readexactly(4), 20), "big")
            got = json.loads(await asyncio.wait_for(reader.readexactly(n), 20))
            writer.close()
            return got

    assert asyncio.run(run()) == {"type": "to-asyncssh", "id": "hi", "payload": {"n": 1}}


def test_per_key_permission_through_the_policy(server_factory, keys, tmp_path):
    """--policy rules name the control channel as the destination alknet-control: `allow key
    FP to alknet-control` then `deny to alknet-control` lets only that key use the hub; an
    authorized_keys line with no-port-forwarding keeps its key out too."""
    import subprocess
    fp = subprocess.run(["ssh-keygen", "-lf", keys.default + ".pub"], capture_output=True,
                        text=True, check=True).stdout.split()[1]
    pol = tmp_path / "policy"
    pol.write_text("allow key %s to alknet-control\ndeny to alknet-control\ndefault allow\n" % fp)
    os.chmod(pol, 0o644)
    srv = server_factory("--control", "allow", "--policy", str(pol))
    t = login(srv, keys)
    try:
        open_control(t).close()  # the allowed key
    finally:
        t.close()
    other = paramiko_transport(srv)
    try:
        other.auth_publickey("tester",
                             paramiko.ECDSAKey.from_private_key_file(keys.client["ecdsa256"]))
        with pytest.raises(paramiko.ChannelException) as e:
            open_control(other)
        assert e.value.code == PROHIBITED
        assert other.is_active()
    finally:
        other.close()
