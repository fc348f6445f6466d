/* Test tool for tests/e2e/test_mlkem_noble.py: ML-KEM-768 encapsulation with alknet's
 * src/ssh/mlkem768.c, for an independent implementation to decapsulate.
 *
 *   mlkem_encaps < keys.txt
 *
 * Reads one encapsulation key per line in hex (any length); for each writes one line:
 * "ok CT_HEX SS_HEX" from mlkem768_encaps (random m), or "err N" with its negative result.
 * Exits 0 when every line was read, 2 on a line that is not hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/mlkem768.h"

#define LINE_MAX_BYTES 4096

static int unhex(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
	if (len % 2 != 0 || len / 2 > cap) {
		return -1;
	}
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			return -1;
		}
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static void put_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("%02x", p[i]);
	}
}

int main(void)
{
	static char line[2 * LINE_MAX_BYTES + 2];
	uint8_t ek[LINE_MAX_BYTES], ct[MLKEM768_CT_BYTES], ss[MLKEM768_SS_BYTES];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = strcspn(line, "\r\n"), n = 0;
		int ret;
		if (unhex(line, len, ek, sizeof(ek), &n) != 0) {
			fprintf(stderr, "mlkem_encaps: not a hex key line\n");
			return 2;
		}
		ret = mlkem768_encaps(ct, ss, ek, n);
		if (ret != 0) {
			printf("err %d\n", ret);
			continue;
		}
		printf("ok ");
		put_hex(ct, sizeof(ct));
		putchar(' ');
		put_hex(ss, sizeof(ss));
		putchar('\n');
	}
	return 0;
}
