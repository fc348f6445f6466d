#!/usr/bin/python3
"""Known-answer vectors for tests/unit/test_cipher.c, computed independently of src/ssh/cipher.c.

Run with Debian's interpreter, which has python3-cryptography:

    /usr/bin/python3 tests/unit/gen_cipher_vectors.py > tests/unit/cipher_vectors.h

The SSH packet constructions are written here from the spec texts, using only
python3-cryptography primitives:

- chacha20-poly1305@openssh.com (specs/openssh/PROTOCOL.chacha20poly1305): 64 bytes of key,
  K_2 = key[0:32] (payload + Poly1305 key), K_1 = key[32:64] (length field). ChaCha20 with a
  64-bit block counter and a 64-bit nonce = the sequence number as uint64 big-endian. The
  cryptography package takes a 16-byte nonce: 8-byte little-endian counter, then the 8-byte
  nonce. Poly1305 key = first 32 bytes of K_2's block 0; payload encrypted from block 1; the
  tag covers the encrypted length || encrypted payload.
- aes128/256-gcm@openssh.com (RFC 5647, PROTOCOL 1.6): 12-byte nonce = 4-byte fixed field +
  8-byte big-endian invocation counter, incremented (mod 2^64) after every packet; the 4-byte
  length is the AAD and stays in the clear; 16-byte tag.
- aes128/192/256-ctr with hmac-sha2-256/512-etm@openssh.com (PROTOCOL 1.5): the length stays in
  the clear, the rest is encrypted with one AES-CTR key stream that runs on across packets, the
  MAC is HMAC(key, uint32 seq || length || ciphertext).
- aes128/256-ctr with hmac-sha2-256/512 (RFC 6668, RFC 4253 §6.4 encrypt-and-MAC): the whole
  packet, length included, is encrypted with the running key stream, and the MAC is
  HMAC(key, uint32 seq || plaintext packet); the length counts in the block alignment.

Each cipher seals a list of packets in order with one context (the AES-CTR key stream and the
GCM counter carry over). The plaintext of packet i is a function of i (see plain_packet); the C
test rebuilds it and checks it against pt_sha256 before sealing.

`--cross-check` additionally seals every packet with python3-asyncssh's own implementation of
these constructions (when it is installed) and fails if any byte differs; nothing is printed.
"""

import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

# Packets stored in full up to this size; larger ones only as SHA-256 of the ciphertext.
FULL_MAX = 1200


def material(label, n):
    """Deterministic key bytes: SHA-256 in counter mode over a label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"alknet cipher vectors %s %d" % (label.encode(), i)).digest()
        i += 1
    return out[:n]


def payload_byte(i, j):
    return (j * 131 + 7 * (i + 1)) & 0xFF


def pad_byte(i, j):
    return (0x5A ^ j ^ (i * 17)) & 0xFF


def plain_packet(i, payload_len, block, extra_pad, len_aligned=False):
    """[uint32 len][byte padlen][payload][padding]; the length field is part of the block
    alignment only for encrypt-and-MAC (AEAD and EtM leave it out)."""
    head = 5 if len_aligned else 1
    padlen = block - ((head + payload_len) % block)
    if padlen < 4:
        padlen += block
    padlen += extra_pad
    assert 4 <= padlen <= 255 and (head + payload_len + padlen) % block == 0
    body = bytes([padlen]) + bytes(payload_byte(i, j) for j in range(payload_len))
    body += bytes(pad_byte(i, j) for j in range(padlen))
    return struct.pack(">I", len(body)) + body, padlen


def chacha20(key, counter, seq, data):
    nonce = struct.pack("<Q", counter) + struct.pack(">Q", seq)
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    return enc.update(data) + enc.finalize()


class ChaChaPoly:
    tag_len = 16
    block = 8

    def __init__(self, key):
        assert len(key) == 64
        self.k_main = key[:32]
        self.k_len = key[32:]

    def seal(self, seq, pkt):
        enc_len = chacha20(self.k_len, 0, seq, pkt[:4])
        poly_key = chacha20(self.k_main, 0, seq, bytes(32))
        enc_body = chacha20(self.k_main, 1, seq, pkt[4:])
        tag = Poly1305.generate_tag(poly_key, enc_len + enc_body)
        return enc_len + enc_body, tag


class AesGcm:
    tag_len = 16
    block = 16

    def __init__(self, key, iv):
        assert len(iv) == 12
        self.aead = AESGCM(key)
        self.fixed = iv[:4]
        self.counter = struct.unpack(">Q", iv[4:])[0]

    def seal(self, seq, pkt):
        del seq  # GCM's nonce is the invocation counter, not the sequence number
        nonce = self.fixed + struct.pack(">Q", self.counter)
        self.counter = (self.counter + 1) % (1 << 64)
        out = self.aead.encrypt(nonce, pkt[4:], pkt[:4])
        return pkt[:4] + out[:-16], out[-16:]


class AesCtrEtm:
    block = 16
    len_aligned = False

    def __init__(self, key, iv, mac_key, digest):
        self.enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
        self.mac_key = mac_key
        self.digest = digest
        self.tag_len = hashlib.new(digest).digest_size

    def seal(self, seq, pkt):
        ct = pkt[:4] + self.enc.update(pkt[4:])
        tag = hmac.new(self.mac_key, struct.pack(">I", seq) + ct, self.digest).digest()
        return ct, tag


class AesCtrEam(AesCtrEtm):
    """Encrypt-and-MAC: the MAC over the plaintext, everything encrypted."""
    len_aligned = True

    def seal(self, seq, pkt):
        tag = hmac.new(self.mac_key, struct.pack(">I", seq) + pkt, self.digest).digest()
        return self.enc.update(pkt), tag


# (seq, payload length, extra padding) per packet, sealed in this order.
PACKETS = [
    (0, 1, 0),
    (1, 15, 0),
    (2, 16, 0),
    (3, 100, 32),
    (0x7FFFFFFF, 1000, 0),
    (0xFFFFFFFE, 33000, 0),
    (0xFFFFFFFF, 27, 208),
]

CIPHERS = [
    # (C name, cipher wire name, mac wire name or None, key, iv, mac key, factory)
    ("chachapoly", "chacha20-poly1305@openssh.com", None, 64, 0, 0, None),
    ("aes128gcm", "aes128-gcm@openssh.com", None, 16, 12, 0, None),
    ("aes256gcm", "aes256-gcm@openssh.com", None, 32, 12, 0, None),
    ("aes128ctr", "aes128-ctr", "hmac-sha2-256-etm@openssh.com", 16, 16, 32, "sha256"),
    ("aes256ctr", "aes256-ctr", "hmac-sha2-512-etm@openssh.com", 32, 16, 64, "sha512"),
    ("aes192ctr", "aes192-ctr", "hmac-sha2-256-etm@openssh.com", 24, 16, 32, "sha256"),
    ("aes128ctr_eam", "aes128-ctr", "hmac-sha2-256", 16, 16, 32, "sha256"),
    ("aes256ctr_eam", "aes256-ctr", "hmac-sha2-512", 32, 16, 64, "sha512"),
]


def make(cname, key, iv, mac_key, digest):
    if cname == "chachapoly":
        return ChaChaPoly(key)
    if cname.endswith("gcm"):
        return AesGcm(key, iv)
    if cname.endswith("_eam"):
        return AesCtrEam(key, iv, mac_key, digest)
    return AesCtrEtm(key, iv, mac_key, digest)


def c_hex(b):
    return '"' + b.hex() + '"'


def emit_string(out, name, b, indent="\t\t"):
    # Long hex strings wrapped so the header stays readable.
    h = b.hex()
    if len(h) <= 80:
        out.append('%s.%s = "%s",' % (indent, name, h))
        return
    out.append("%s.%s =" % (indent, name))
    for k in range(0, len(h), 80):
        out.append('%s\t"%s"%s' % (indent, h[k:k + 80], "," if k + 80 >= len(h) else ""))


def cross_check():
    """Compares the constructions above with asyncssh's (an unrelated implementation)."""
    import warnings
    warnings.simplefilter("ignore")
    from asyncssh.encryption import get_encryption
    for cname, wire, mac, klen, ivlen, mklen, digest in CIPHERS:
        key = material(cname + " key", klen)
        iv = material(cname + " iv", ivlen) if not cname.endswith("gcm") else \
            material(cname + " iv", 4) + struct.pack(">Q", (1 << 64) - 2)
        mac_key = material(cname + " mac", mklen)
        ours = make(cname, key, iv, mac_key, digest)
        theirs = get_encryption(wire.encode(), key, iv, (mac or "").encode(), mac_key,
                                bool(mac) and mac.endswith("-etm@openssh.com"))
        for i, (seq, plen, extra) in enumerate(PACKETS):
            pkt, _ = plain_packet(i, plen, ours.block, extra, getattr(ours, 'len_aligned', False))
            ct, tag = ours.seal(seq, pkt)
            ct2, tag2 = theirs.encrypt_packet(seq, pkt[:4], pkt[4:])
            if (ct, tag) != (ct2, tag2):
                sys.exit("mismatch with asyncssh: %s packet %d" % (wire, i))
    print("asyncssh agrees on %d packets" % (len(CIPHERS) * len(PACKETS)), file=sys.stderr)


def main():
    if "--cross-check" in sys.argv[1:]:
        cross_check()
        return
    out = []
    out.append("/* Generated by tests/unit/gen_cipher_vectors.py with Debian's python3-cryptography;")
    out.append(" * do not edit. Regenerate: /usr/bin/python3 tests/unit/gen_cipher_vectors.py >")
    out.append(" * tests/unit/cipher_vectors.h */")
    out.append("#ifndef ALKNET_TEST_CIPHER_VECTORS_H")
    out.append("#define ALKNET_TEST_CIPHER_VECTORS_H")
    out.append("")
    out.append("#include <stddef.h>")
    out.append("#include <stdint.h>")
    out.append("")
    out.append("#define CV_FULL_MAX %d /* ct_hex is set for packets up to this size */" % FULL_MAX)
    out.append("")
    out.append("/* Plaintext of packet i: uint32 len, byte padlen, payload[j] = (j * 131 + 7 * (i + 1)),")
    out.append(" * padding[j] = (0x5a ^ j ^ (i * 17)), all mod 256. */")
    out.append("struct cv_packet {")
    out.append("\tuint32_t seq;")
    out.append("\tuint32_t payload_len;")
    out.append("\tuint8_t padlen;")
    out.append("\tsize_t pkt_len;       /* 4 + length field */")
    out.append("\tconst char *pt_sha256; /* of the plaintext packet */")
    out.append("\tconst char *ct_hex;    /* sealed packet without the tag, NULL if large */")
    out.append("\tconst char *ct_sha256; /* of the sealed packet without the tag */")
    out.append("\tconst char *tag_hex;")
    out.append("};")
    out.append("")
    out.append("struct cv_cipher {")
    out.append("\tconst char *cipher;")
    out.append("\tconst char *mac; /* NULL for AEAD ciphers */")
    out.append("\tconst char *key_hex;")
    out.append("\tconst char *iv_hex;")
    out.append("\tconst char *mac_key_hex;")
    out.append("\tsize_t n_packets;")
    out.append("\tstruct cv_packet packets[%d];" % len(PACKETS))
    out.append("};")
    out.append("")
    out.append("static const struct cv_cipher cv_ciphers[] = {")
    for cname, wire, mac, klen, ivlen, mklen, digest in CIPHERS:
        key = material(cname + " key", klen)
        if cname.endswith("gcm"):
            # Invocation counter two steps before it wraps: checks the mod 2^64 increment.
            iv = material(cname + " iv", 4) + struct.pack(">Q", (1 << 64) - 2)
        else:
            iv = material(cname + " iv", ivlen)
        mac_key = material(cname + " mac", mklen)
        ctx = make(cname, key, iv, mac_key, digest)
        out.append("\t{")
        out.append('\t\t.cipher = "%s",' % wire)
        out.append("\t\t.mac = %s," % ('"%s"' % mac if mac else "NULL"))
        emit_string(out, "key_hex", key)
        emit_string(out, "iv_hex", iv)
        emit_string(out, "mac_key_hex", mac_key)
        out.append("\t\t.n_packets = %d," % len(PACKETS))
        out.append("\t\t.packets = {")
        for i, (seq, plen, extra) in enumerate(PACKETS):
            pkt, padlen = plain_packet(i, plen, ctx.block, extra, getattr(ctx, 'len_aligned', False))
            ct, tag = ctx.seal(seq, pkt)
            assert len(ct) == len(pkt) and len(tag) == ctx.tag_len
            out.append("\t\t\t{")
            ind = "\t\t\t\t"
            out.append("%s.seq = 0x%08xu," % (ind, seq))
            out.append("%s.payload_len = %d," % (ind, plen))
            out.append("%s.padlen = %d," % (ind, padlen))
            out.append("%s.pkt_len = %d," % (ind, len(pkt)))
            out.append('%s.pt_sha256 = "%s",' % (ind, hashlib.sha256(pkt).hexdigest()))
            if len(ct) <= FULL_MAX:
                emit_string(out, "ct_hex", ct, ind)
            else:
                out.append("%s.ct_hex = NULL," % ind)
            out.append('%s.ct_sha256 = "%s",' % (ind, hashlib.sha256(ct).hexdigest()))
            emit_string(out, "tag_hex", tag, ind)
            out.append("\t\t\t},")
        out.append("\t\t},")
        out.append("\t},")
    out.append("};")
    out.append("")
    out.append("#endif")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
