/* ssh_key_parse_private: OpenSSH "openssh-key-v1" private key text (the host key file).
 * Not peer input, but a parser we own: it must never crash, and a key it accepts must sign,
 * and verify its own signature, with every algorithm it claims. On failure err holds a reason. */
#include <stdbool.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_signs(const struct ssh_key *k, const char *alg)
{
	static const uint8_t msg[] = "exchange hash";
	uint8_t *sig = NULL;
	size_t siglen = 0;

	FUZZ_CHECK(ssh_key_sign(k, alg, msg, sizeof(msg), &sig, &siglen) == 0);
	if (alg == NULL)
		alg = ssh_key_type(k) == SSH_KEY_RSA ? "rsa-sha2-512" : ssh_key_type_name(k);
	FUZZ_CHECK(ssh_key_verify(k, alg, strlen(alg), sig, siglen, msg, sizeof(msg)) == 0);
	FUZZ_CHECK(ssh_key_verify(k, alg, strlen(alg), sig, siglen, msg, sizeof(msg) - 1) != 0);
	free(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_key *k = NULL;
	char err[160];
	char *text = malloc(size ? size : 1); /* not NUL-terminated: the API takes a length */

	memcpy(text, data, size);
	err[0] = '\0';
	if (ssh_key_parse_private(text, size, &k, err, sizeof(err)) != 0) {
		FUZZ_CHECK(k == NULL && err[0] != '\0');
		free(text);
		return 0;
	}
	FUZZ_CHECK(k != NULL && ssh_key_has_private(k));
	check_signs(k, NULL);
	if (ssh_key_type(k) == SSH_KEY_RSA)
		check_signs(k, "rsa-sha2-256");
	ssh_key_free(k);
	free(text);
	return 0;
}
