/* sntrup761 encapsulation (src/ssh/sntrup761.h) on any public key and any randomness.
 * Input: 1158 bytes of public key, then up to 3044 bytes of the random words (zero-padded).
 * Checks: encapsulation never fails or crashes; it is deterministic (a second run gives the
 * same ciphertext and key); the public key decodes into range and re-encodes canonically; the
 * ciphertext's first 1007 bytes are canonical (decode then encode gives them back). */
#include "fuzz_common.h"
#include "ssh/sntrup761.h"
#include "ssh/sntrup761_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_public_key(const uint8_t *pk)
{
	int16_t h[SNTRUP761_P], h2[SNTRUP761_P];
	uint8_t enc[SNTRUP761_RQ_BYTES];

	sntrup761_rq_decode(h, pk);
	for (int i = 0; i < SNTRUP761_P; i++) {
		FUZZ_CHECK(h[i] >= -SNTRUP761_Q12 && h[i] <= SNTRUP761_Q12);
	}
	sntrup761_rq_encode(enc, h);
	sntrup761_rq_decode(h2, enc);
	FUZZ_CHECK(memcmp(h, h2, sizeof(h)) == 0);
}

static void check_ciphertext(const uint8_t *ct)
{
	int16_t c[SNTRUP761_P];
	uint8_t enc[SNTRUP761_ROUNDED_BYTES];

	sntrup761_rounded_decode(c, ct);
	for (int i = 0; i < SNTRUP761_P; i++) {
		FUZZ_CHECK(c[i] >= -SNTRUP761_Q12 && c[i] <= SNTRUP761_Q12);
	}
	sntrup761_rounded_encode(enc, c);
	FUZZ_CHECK(memcmp(enc, ct, sizeof(enc)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pk, rnd[SNTRUP761_RANDOM_SIZE] = {0};
	uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], ss[SNTRUP761_SECRET_SIZE];
	uint8_t ct2[SNTRUP761_CIPHERTEXT_SIZE], ss2[SNTRUP761_SECRET_SIZE];

	if (size < SNTRUP761_PUBLICKEY_SIZE) {
		return 0;
	}
	pk = malloc(SNTRUP761_PUBLICKEY_SIZE); /* exact size for ASan */
	memcpy(pk, data, SNTRUP761_PUBLICKEY_SIZE);
	size -= SNTRUP761_PUBLICKEY_SIZE;
	memcpy(rnd, data + SNTRUP761_PUBLICKEY_SIZE, size < sizeof(rnd) ? size : sizeof(rnd));

	FUZZ_CHECK(sntrup761_encaps_det(ct, ss, pk, rnd) == 0);
	FUZZ_CHECK(sntrup761_encaps_det(ct2, ss2, pk, rnd) == 0);
	FUZZ_CHECK(memcmp(ct, ct2, sizeof(ct)) == 0 && memcmp(ss, ss2, sizeof(ss)) == 0);
	check_public_key(pk);
	check_ciphertext(ct);
	free(pk);
	return 0;
}
