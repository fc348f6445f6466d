/* ssh_key_parse_public: "TYPE BASE64 [comment]" lines, the form authorized_keys holds. A line
 * that parses must round-trip: printing it back as TYPE BASE64(canonical blob) parses to an
 * equal key. A line that doesn't must leave a reason in err. */
#include <stdbool.h>

#include <openssl/evp.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_key *k = NULL, *k2 = NULL;
	char err[128];
	char *line = malloc(size + 1);

	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = '\0';
	if (ssh_key_parse_public(line, &k, err, sizeof(err)) != 0) {
		FUZZ_CHECK(k == NULL && err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		free(line);
		return 0;
	}
	size_t bl;
	const uint8_t *blob = ssh_key_blob(k, &bl);
	const char *name = ssh_key_type_name(k);
	size_t cap = strlen(name) + 1 + 4 * ((bl + 2) / 3) + 1;
	char *again = malloc(cap);
	size_t nl = strlen(name);
	memcpy(again, name, nl);
	again[nl] = ' ';
	EVP_EncodeBlock((unsigned char *)again + nl + 1, blob, (int)bl);
	FUZZ_CHECK(ssh_key_parse_public(again, &k2, err, sizeof(err)) == 0);
	FUZZ_CHECK(ssh_key_equal(k, k2));
	ssh_key_free(k2);
	ssh_key_free(k);
	free(again);
	free(line);
	return 0;
}
