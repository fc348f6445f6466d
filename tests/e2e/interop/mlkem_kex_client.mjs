// An mlkem768x25519-sha256 client (draft-ietf-sshm-mlkem-hybrid-kex), the independent side of
// tests/e2e/test_kex_interop.py: @noble/post-quantum's ML-KEM-768 and node:crypto's X25519,
// SHA-256 and Ed25519. It does the version exchange, KEXINIT and KEX_ECDH_INIT, parses the
// server's KEX_ECDH_REPLY, computes K and the exchange hash H itself and verifies the server's
// host key signature over H; it stops at NEWKEYS.
//   node mlkem_kex_client.mjs HOST PORT [good|bad-modulus|short]
// prints one JSON line: {kex, verified, hostkey (base64 of K_S), h (hex)}, or for the bad
// modes {disconnect: reason} when the server refuses.
import net from 'node:net';
import crypto from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

const [host, port, mode = 'good'] = process.argv.slice(2);
const KEX = 'mlkem768x25519-sha256';
const V_C = 'SSH-2.0-alknet_mlkem_test_1';

const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const str = (b) => Buffer.concat([u32(b.length), Buffer.from(b)]);
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

function packet(payload) {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  return Buffer.concat([u32(1 + payload.length + pad), Buffer.from([pad]), payload,
    crypto.randomBytes(pad)]);
}

function kexinit() {
  const lists = [KEX, 'ssh-ed25519', 'aes128-ctr', 'aes128-ctr',
    'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com', 'none', 'none', '', ''];
  return Buffer.concat([Buffer.from([20]), crypto.randomBytes(16),
    ...lists.map((l) => str(Buffer.from(l))), Buffer.from([0]), u32(0)]);
}

class Reader {
  constructor(b) { this.b = b; this.o = 0; }
  u8() { return this.b[this.o++]; }
  u32() { const v = this.b.readUInt32BE(this.o); this.o += 4; return v; }
  str() { const n = this.u32(); const v = this.b.subarray(this.o, this.o + n); this.o += n;
    if (v.length !== n) throw new Error('short string'); return v; }
}

// Input: the server's version line, then unencrypted packets, one at a time.
let buf = Buffer.alloc(0);
let waiting = null;
const sock = net.connect(Number(port), host);
sock.on('data', (d) => { buf = Buffer.concat([buf, d]); if (waiting) waiting(); });
sock.on('error', (e) => { console.error(e.message); process.exit(1); });
const more = () => new Promise((res) => { waiting = () => { waiting = null; res(); }; });

async function versionLine() {
  for (;;) {
    const nl = buf.indexOf(10);
    if (nl >= 0) {
      const line = buf.subarray(0, nl).toString().replace(/\r$/, '');
      buf = buf.subarray(nl + 1);
      if (line.startsWith('SSH-')) return line;
      continue;
    }
    await more();
  }
}

async function readPacket() {
  for (;;) {
    if (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > 65536) throw new Error('packet too long');
      if (buf.length >= 4 + len) {
        const pad = buf[4];
        const payload = buf.subarray(5, 4 + len - pad);
        buf = buf.subarray(4 + len);
        return Buffer.from(payload);
      }
    }
    await more();
  }
}

function x25519Pair() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('x25519');
  return { privateKey, raw: Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url') };
}

function clientInit(ek, xpub) {
  const c = Buffer.concat([Buffer.from(ek), xpub]);
  if (mode === 'bad-modulus') { c[0] = 0xff; c[1] |= 0x0f; } // coefficient 0 = 4095 >= q
  return mode === 'short' ? c.subarray(0, c.length - 1) : c;
}

function verify(ks, h, sigBlob) {
  const k = new Reader(ks);
  if (k.str().toString() !== 'ssh-ed25519') throw new Error('not an ed25519 host key');
  const pub = k.str();
  const s = new Reader(sigBlob);
  if (s.str().toString() !== 'ssh-ed25519') throw new Error('not an ed25519 signature');
  const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519',
    x: Buffer.from(pub).toString('base64url') }, format: 'jwk' });
  return crypto.verify(null, h, key, s.str());
}

async function main() {
  sock.write(V_C + '\r\n');
  const V_S = await versionLine();
  const I_C = kexinit();
  sock.write(packet(I_C));
  let I_S;
  do { I_S = await readPacket(); } while (I_S[0] === 2 || I_S[0] === 4); // IGNORE, DEBUG
  if (I_S[0] !== 20) throw new Error(`expected KEXINIT, got ${I_S[0]}`);
  const { publicKey: ek, secretKey: dk } = ml_kem768.keygen();
  const x = x25519Pair();
  const C_INIT = clientInit(ek, x.raw);
  sock.write(packet(Buffer.concat([Buffer.from([30]), str(C_INIT)])));
  const reply = await readPacket();
  if (reply[0] === 1) { // DISCONNECT
    const r = new Reader(reply.subarray(1));
    console.log(JSON.stringify({ disconnect: r.u32(), text: r.str().toString() }));
    return;
  }
  if (reply[0] !== 31) throw new Error(`expected KEX_ECDH_REPLY, got ${reply[0]}`);
  const r = new Reader(reply.subarray(1));
  const K_S = r.str(), S_REPLY = r.str(), sig = r.str();
  if (S_REPLY.length !== 1088 + 32) throw new Error(`S_REPLY is ${S_REPLY.length} bytes`);
  const ssPq = ml_kem768.decapsulate(S_REPLY.subarray(0, 1088), dk);
  const serverX = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519',
    x: Buffer.from(S_REPLY.subarray(1088)).toString('base64url') }, format: 'jwk' });
  const ssX = crypto.diffieHellman({ privateKey: x.privateKey, publicKey: serverX });
  const K = sha256(Buffer.concat([Buffer.from(ssPq), ssX]));
  const H = sha256(Buffer.concat([str(Buffer.from(V_C)), str(Buffer.from(V_S)), str(I_C),
    str(I_S), str(K_S), str(C_INIT), str(S_REPLY), str(K)]));
  const newkeys = await readPacket();
  console.log(JSON.stringify({ kex: KEX, verified: verify(K_S, H, sig),
    hostkey: Buffer.from(K_S).toString('base64'), h: H.toString('hex'),
    newkeys: newkeys[0] === 21 }));
}

main().then(() => sock.destroy(), (e) => { console.error(e.stack); process.exit(1); });
