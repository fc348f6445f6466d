// ML-KEM-768 with @noble/post-quantum, the independent side of tests/e2e/test_mlkem_noble.py.
//   node mlkem_noble.mjs keygen N    -> N lines "EK_HEX DK_HEX"
//   node mlkem_noble.mjs decaps      stdin lines "DK_HEX CT_HEX" -> lines "SS_HEX"
import { createInterface } from 'node:readline';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

const hex = (b) => Buffer.from(b).toString('hex');
const mode = process.argv[2];

if (mode === 'keygen') {
  const n = Number(process.argv[3]);
  for (let i = 0; i < n; i++) {
    const { publicKey, secretKey } = ml_kem768.keygen();
    process.stdout.write(`${hex(publicKey)} ${hex(secretKey)}\n`);
  }
} else if (mode === 'decaps') {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line) continue;
    const [dk, ct] = line.split(' ').map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    process.stdout.write(`${hex(ml_kem768.decapsulate(ct, dk))}\n`);
  }
} else {
  process.stderr.write('usage: mlkem_noble.mjs keygen N | decaps\n');
  process.exit(2);
}
