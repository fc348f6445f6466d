/* ssh_key_verify with a fuzzed key, algorithm name and signature blob, over fuzzed data: the
 * path every signed USERAUTH_REQUEST takes (ECDSA's mpint r/s re-encoded to DER, RSA's short
 * signatures padded, ed25519's fixed length).
 * Input: string key blob, string algorithm, string signature blob (SSH wire strings), then
 * the signed data (the rest). The seeds hold real signatures, so both outcomes are reached.
 * A "valid" answer must be consistent: the algorithm acceptable for the key and equal to the
 * one inside the signature blob. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "ssh/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Copies a piece of the input to its own exact-size allocation so ASan sees over-reads. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (n)
		memcpy(d, p, n);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sreader r;
	size_t bn, an, sn;
	struct ssh_key *k = NULL;

	sreader_init(&r, data, size);
	const uint8_t *b = sreader_string(&r, &bn);
	const uint8_t *a = sreader_string(&r, &an);
	const uint8_t *s = sreader_string(&r, &sn);
	if (r.err)
		return 0;
	size_t dn = sreader_left(&r);
	const uint8_t *d = sreader_bytes(&r, dn);

	uint8_t *blob = dup_exact(b, bn), *alg = dup_exact(a, an), *sig = dup_exact(s, sn);
	uint8_t *msg = dup_exact(d, dn);
	if (ssh_key_from_blob(blob, bn, &k) == 0) {
		int ok = ssh_key_verify(k, (const char *)alg, an, sig, sn, msg, dn);
		FUZZ_CHECK(ok == 0 || ok == -1);
		if (ok == 0) {
			FUZZ_CHECK(ssh_key_alg_ok(k, (const char *)alg, an));
			struct sreader sr;
			size_t inner;
			sreader_init(&sr, sig, sn);
			const uint8_t *ia = sreader_string(&sr, &inner);
			FUZZ_CHECK(!sr.err && inner == an && memcmp(ia, alg, an) == 0);
		}
		ssh_key_free(k);
	}
	free(blob);
	free(alg);
	free(sig);
	free(msg);
	return 0;
}
