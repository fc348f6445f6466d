/* ssh_key_from_blob: public key blobs exactly as clients send them in USERAUTH_REQUEST
 * (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa; RFC 4253 §6.6, RFC 5656, RFC 8709).
 * Whatever parses must behave as a key: its canonical blob parses back to an equal key, it has
 * no private half, it names its type consistently and refuses a garbage signature. The
 * engine's own parser for a client's key (key_from_blob) takes exactly the same blobs but
 * RSA keys under 2048 bits. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "ssh/buf.h"
#include "ssh/internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The modulus size of an RSA key, read from its canonical blob (string type, mpint e,
 * mpint n). */
static size_t rsa_bits(const struct ssh_key *k)
{
	struct sreader r;
	size_t len, n;
	const uint8_t *blob = ssh_key_blob(k, &len);

	sreader_init(&r, blob, len);
	sreader_string(&r, &n);
	sreader_string(&r, &n);
	const uint8_t *m = sreader_string(&r, &n);
	while (n > 0 && m[0] == 0) {
		m++;
		n--;
	}
	FUZZ_CHECK(!r.err && n > 0);
	size_t bits = n * 8;
	for (uint8_t top = m[0]; !(top & 0x80); top <<= 1)
		bits--;
	return bits;
}

static const char *const names[] = {
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"ssh-rsa",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_key *k = NULL, *k2 = NULL;
	/* An exact-size copy: any read past the end is an ASan report. */
	uint8_t *blob = malloc(size ? size : 1);
	memcpy(blob, data, size);

	struct ssh_key *ka = NULL;
	int auth = key_from_blob(NULL, blob, size, &ka);
	if (ssh_key_from_blob(blob, size, &k) != 0) {
		FUZZ_CHECK(k == NULL && auth != 0 && ka == NULL);
		free(blob);
		return 0;
	}
	if (auth == 0) {
		FUZZ_CHECK(ssh_key_equal(k, ka));
		ssh_key_free(ka);
	}
	FUZZ_CHECK((auth == 0) == (ssh_key_type(k) != SSH_KEY_RSA || rsa_bits(k) >= 2048));
	FUZZ_CHECK(k != NULL && !ssh_key_has_private(k));
	enum ssh_key_type t = ssh_key_type(k);
	FUZZ_CHECK(t >= SSH_KEY_ED25519 && t <= SSH_KEY_RSA);
	const char *name = ssh_key_type_name(k);
	FUZZ_CHECK(strcmp(name, names[t - 1]) == 0);

	size_t cl;
	const uint8_t *canon = ssh_key_blob(k, &cl);
	FUZZ_CHECK(canon != NULL && cl > 4 + strlen(name));
	FUZZ_CHECK(ssh_key_from_blob(canon, cl, &k2) == 0);
	FUZZ_CHECK(ssh_key_equal(k, k2));
	size_t cl2;
	const uint8_t *canon2 = ssh_key_blob(k2, &cl2);
	FUZZ_CHECK(cl2 == cl && memcmp(canon, canon2, cl) == 0);

	char fp[SSH_KEY_FP_LEN];
	ssh_key_fingerprint(k, fp);
	FUZZ_CHECK(strlen(fp) == SSH_KEY_FP_LEN - 1 && memcmp(fp, "SHA256:", 7) == 0);

	/* The signature algorithms it takes; SHA-1 "ssh-rsa" signatures never. */
	FUZZ_CHECK(!ssh_key_alg_ok(k, "ssh-rsa", 7));
	if (t == SSH_KEY_RSA) {
		FUZZ_CHECK(ssh_key_alg_ok(k, "rsa-sha2-512", 12));
		FUZZ_CHECK(ssh_key_alg_ok(k, "rsa-sha2-256", 12));
	} else {
		FUZZ_CHECK(ssh_key_alg_ok(k, name, strlen(name)));
	}

	/* No private half: signing fails; a signature made of the blob itself doesn't verify. */
	uint8_t *sig = NULL;
	size_t siglen = 0;
	FUZZ_CHECK(ssh_key_sign(k, NULL, data, size, &sig, &siglen) != 0 && sig == NULL);
	const char *alg = t == SSH_KEY_RSA ? "rsa-sha2-256" : name;
	FUZZ_CHECK(ssh_key_verify(k, alg, strlen(alg), blob, size, blob, size) != 0);

	ssh_key_free(k2);
	ssh_key_free(k);
	free(blob);
	return 0;
}
