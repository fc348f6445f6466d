/* Shared helpers for the libFuzzer harnesses (tests/fuzz/fuzz_*.c). Header-only: run.sh
 * builds each fuzz_*.c on its own against the instrumented library. */
#ifndef ALKNET_FUZZ_COMMON_H
#define ALKNET_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Parses one of the embedded test keys (fuzz_keys.h); a failure is a harness bug: abort. */
static inline struct ssh_key *fuzz_load_key(const char *text)
{
	struct ssh_key *k = NULL;
	char err[160] = "";

	if (ssh_key_parse_private(text, strlen(text), &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: cannot load an embedded test key: %s\n", err);
		abort();
	}
	return k;
}

/* A check the code under test must never fail: reported as a crash with a message. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: check failed at %s:%d: %s\n", __FILE__, __LINE__,   \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
