'use strict';
// node ssh2 client for tests/e2e/test_interop.py. One JSON argument:
//   {host, port, username, key, mode, target_port, dead_port, bytes, rekey, algorithms, debug}
// mode "transfer": open a direct-tcpip channel to 127.0.0.1:target_port (an echo server), write
//   `bytes` pseudo-random bytes while reading the echo concurrently; if `rekey`, start a key
//   re-exchange once a third has been written. Prints one JSON line: bytes and SHA-256 sent and
//   received, handshakes seen, the negotiated algorithms.
// mode "refused": open a channel to 127.0.0.1:dead_port (nothing listens), report the open
//   failure, then open a channel to target_port on the same connection and echo a few bytes.
// `algorithms` is passed to ssh2 as is (e.g. {cipher: [...], hmac: [...]}). With `debug`,
// ssh2's debug lines go to stderr.
const crypto = require('crypto');
const fs = require('fs');
const { Client } = require('ssh2');

const opt = JSON.parse(process.argv[2]);
const result = { handshakes: 0 };
let finished = false;

function finish(code, extra) {
  if (finished)
    return;
  finished = true;
  Object.assign(result, extra || {});
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(code));
}

function fail(where, err) {
  finish(1, { error: `${where}: ${err && err.message}`, reason: err && err.reason });
}

const conn = new Client();
conn.on('handshake', (negotiated) => {
  result.handshakes++;
  result.negotiated = negotiated;
});
conn.on('error', (err) => fail('connection error', err));
conn.on('close', () => fail('connection closed', new Error('closed before the test finished')));

function rekey() {
  // Client#rekey() is documented for ssh2 1.x but absent from its Client class (1.17.0):
  // call the protocol object's rekey() directly then.
  if (typeof conn.rekey === 'function')
    conn.rekey();
  else
    conn._protocol.rekey();
  result.rekey_requested = true;
}

function transfer() {
  conn.forwardOut('127.0.0.1', 0, '127.0.0.1', opt.target_port, (err, ch) => {
    if (err)
      return fail('forwardOut', err);
    const total = opt.bytes;
    const hSent = crypto.createHash('sha256');
    const hRecv = crypto.createHash('sha256');
    let sent = 0;
    let recv = 0;
    let rekeyed = false;
    ch.on('data', (d) => {
      hRecv.update(d);
      recv += d.length;
    });
    ch.on('close', () => {
      finish(0, {
        sent, recv, sha_sent: hSent.digest('hex'), sha_recv: hRecv.digest('hex'),
      });
    });
    ch.on('error', (e) => fail('channel', e));
    const chunk = 64 * 1024;
    function pump() {
      while (sent < total) {
        const n = Math.min(chunk, total - sent);
        const buf = crypto.randomBytes(n);
        hSent.update(buf);
        sent += n;
        if (opt.rekey && !rekeyed && sent >= total / 3) {
          rekeyed = true;
          rekey();
        }
        if (!ch.write(buf)) {
          ch.once('drain', pump);
          return;
        }
      }
      ch.end();
    }
    pump();
  });
}

function refused() {
  conn.forwardOut('127.0.0.1', 0, '127.0.0.1', opt.dead_port, (err, ch) => {
    if (!err) {
      ch.close();
      return fail('forwardOut to dead port', new Error('channel opened'));
    }
    result.refused = { message: err.message, reason: err.reason };
    conn.forwardOut('127.0.0.1', 0, '127.0.0.1', opt.target_port, (err2, ch2) => {
      if (err2)
        return fail('second forwardOut', err2);
      let got = Buffer.alloc(0);
      ch2.on('data', (d) => {
        got = Buffer.concat([got, d]);
      });
      ch2.on('close', () => finish(0, { echo: got.toString() }));
      ch2.end('ping after refusal');
    });
  });
}

conn.on('ready', () => {
  result.ready = true;
  if (opt.mode === 'transfer')
    transfer();
  else if (opt.mode === 'refused')
    refused();
  else
    fail('mode', new Error(`unknown mode ${opt.mode}`));
});

conn.connect({
  host: opt.host,
  port: opt.port,
  username: opt.username,
  privateKey: fs.readFileSync(opt.key),
  readyTimeout: 15000,
  algorithms: opt.algorithms,
  debug: opt.debug ? (msg) => process.stderr.write(msg + '\n') : undefined,
});
