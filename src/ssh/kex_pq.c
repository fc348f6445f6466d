/* Post-quantum hybrid key exchange, the server side (it only ever encapsulates):
 *
 * mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH 9.9+):
 *   C_INIT  = ML-KEM-768 encapsulation key (1184) || X25519 public key (32), exactly 1216
 *   S_REPLY = ML-KEM-768 ciphertext (1088) || X25519 public key (32)
 *   K       = SHA-256(ML-KEM shared secret || X25519 shared secret), as a string
 * sntrup761x25519-sha512 and its @openssh.com name (RFC 9941):
 *   C_INIT  = sntrup761 public key (1158) || X25519 public key (32), exactly 1190
 *   S_REPLY = sntrup761 ciphertext (1039) || X25519 public key (32)
 *   K       = SHA-512(sntrup761 shared secret || X25519 shared secret), as a string
 * The encapsulation key gets FIPS 203's modulus check (mlkem768_encaps runs it); every
 * 1158-byte string is an sntrup761 public key (sntrup761.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "kex_methods.h"
#include "mlkem768.h"
#include "sntrup761.h"

#define MLKEM_C_INIT   (MLKEM768_EK_BYTES + 32)
#define SNTRUP_C_INIT  (SNTRUP761_PUBLICKEY_SIZE + 32)
#define HYBRID_SS_MAX  (32 + 32)
#define HYBRID_OUT_MAX 64

/* K = HASH(pq_ss || x_ss) into k as a string; the digest comes from the loop's cache. */
static int hybrid_k(struct ssh_crypto *cr, enum crypto_md which, const uint8_t ss[HYBRID_SS_MAX],
		    struct sbuf *k)
{
	EVP_MD *fresh;
	const EVP_MD *md = crypto_md(cr, which, &fresh);
	uint8_t out[HYBRID_OUT_MAX];
	unsigned int n = 0;
	int ok = md != NULL && EVP_Digest(ss, HYBRID_SS_MAX, out, &n, md, NULL) == 1;

	if (ok)
		sbuf_put_string(k, out, n);
	OPENSSL_cleanse(out, sizeof(out));
	EVP_MD_free(fresh);
	return ok ? KEX_OK : KEX_ERR_CRYPTO;
}

int kex_mlkem768x25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			     struct sbuf *reply, struct sbuf *k)
{
	uint8_t ct[MLKEM768_CT_BYTES], q_s[32], ss[HYBRID_SS_MAX];
	int ret = KEX_ERR_PEER;

	if (len != MLKEM_C_INIT)
		return KEX_ERR_PEER;
	int m = mlkem768_encaps(ct, ss, c_init, MLKEM768_EK_BYTES);
	if (m != MLKEM768_OK) {
		ret = m == MLKEM768_ERR_KEY ? KEX_ERR_PEER : KEX_ERR_CRYPTO;
		goto out;
	}
	ret = kex_x25519(cr, c_init + MLKEM768_EK_BYTES, q_s, ss + 32);
	if (ret == KEX_OK)
		ret = hybrid_k(cr, CRYPTO_MD_SHA256, ss, k);
	if (ret == KEX_OK) {
		sbuf_put(reply, ct, sizeof(ct));
		sbuf_put(reply, q_s, sizeof(q_s));
	}
out:
	OPENSSL_cleanse(ss, sizeof(ss));
	return ret;
}

int kex_sntrup761x25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			      struct sbuf *reply, struct sbuf *k)
{
	uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], q_s[32], ss[HYBRID_SS_MAX];
	int ret;

	if (len != SNTRUP_C_INIT)
		return KEX_ERR_PEER;
	if (sntrup761_encaps(ct, ss, c_init) != 0) {
		ret = KEX_ERR_CRYPTO;
		goto out;
	}
	ret = kex_x25519(cr, c_init + SNTRUP761_PUBLICKEY_SIZE, q_s, ss + 32);
	if (ret == KEX_OK)
		ret = hybrid_k(cr, CRYPTO_MD_SHA512, ss, k);
	if (ret == KEX_OK) {
		sbuf_put(reply, ct, sizeof(ct));
		sbuf_put(reply, q_s, sizeof(q_s));
	}
out:
	OPENSSL_cleanse(ss, sizeof(ss));
	return ret;
}
