/* ML-KEM-768 encapsulation (src/ssh/mlkem768.h) on attacker-chosen keys. Input: the
 * encapsulation key (1184 bytes when well formed, any length here), then the 32 bytes of m.
 * Each input is tried twice: as given, and with every 12-bit coefficient reduced mod q (so
 * that random bytes reach the encryption path too). Checks: no crash; a key is accepted
 * exactly when it is 1184 bytes with every coefficient below q (the harness decodes it on
 * its own); a refusal leaves ct and ss zeroed; an accepted key encapsulates the same twice
 * with one m, and mlkem768_encaps (random m) accepts it too. */
#include "fuzz_common.h"
#include "ssh/mlkem768.h"

#define Q 3329

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int coeff_ok(const uint8_t *ek, size_t n)
{
	if (n != MLKEM768_EK_BYTES) {
		return 0;
	}
	for (size_t i = 0; i + 3 <= 1152; i += 3) {
		unsigned c0 = ek[i] | (ek[i + 1] & 0x0f) << 8, c1 = ek[i + 1] >> 4 | ek[i + 2] << 4;
		if (c0 >= Q || c1 >= Q) {
			return 0;
		}
	}
	return 1;
}

/* Every complete 12-bit coefficient of the first 1152 bytes, mod q. */
static void reduce(uint8_t *ek, size_t n)
{
	for (size_t i = 0; i + 3 <= n && i + 3 <= 1152; i += 3) {
		unsigned c0 = (ek[i] | (ek[i + 1] & 0x0f) << 8) % Q;
		unsigned c1 = (ek[i + 1] >> 4 | ek[i + 2] << 4) % Q;
		ek[i] = (uint8_t)c0;
		ek[i + 1] = (uint8_t)(c0 >> 8 | (c1 & 0x0f) << 4);
		ek[i + 2] = (uint8_t)(c1 >> 4);
	}
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		acc |= p[i];
	}
	return acc == 0;
}

static void try_key(const uint8_t *ek, size_t n, const uint8_t m[32])
{
	uint8_t ct[MLKEM768_CT_BYTES], ss[32], ct2[MLKEM768_CT_BYTES], ss2[32];
	int valid = coeff_ok(ek, n);
	int ret;

	memset(ct, 0x5a, sizeof(ct));
	memset(ss, 0x5a, sizeof(ss));
	ret = mlkem768_encaps_derand(ct, ss, ek, n, m);
	FUZZ_CHECK(ret == 0 || ret == MLKEM768_ERR_KEY);
	FUZZ_CHECK((ret == 0) == valid);
	FUZZ_CHECK((mlkem768_check_ek(ek, n) == 0) == valid);
	if (!valid) {
		FUZZ_CHECK(all_zero(ct, sizeof(ct)) && all_zero(ss, sizeof(ss)));
		FUZZ_CHECK(mlkem768_encaps(ct, ss, ek, n) == MLKEM768_ERR_KEY);
		return;
	}
	FUZZ_CHECK(mlkem768_encaps_derand(ct2, ss2, ek, n, m) == 0);
	FUZZ_CHECK(memcmp(ct, ct2, sizeof(ct)) == 0 && memcmp(ss, ss2, sizeof(ss)) == 0);
	FUZZ_CHECK(mlkem768_encaps(ct2, ss2, ek, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t m[32] = {0};
	size_t n = size > 32 ? size - 32 : 0;
	uint8_t *ek = malloc(n ? n : 1);

	if (ek == NULL) {
		return 0;
	}
	if (size > n) {
		memcpy(m, data + n, size - n);
	}
	memcpy(ek, data, n);
	try_key(ek, n, m);
	reduce(ek, n);
	try_key(ek, n, m);
	free(ek);
	return 0;
}
