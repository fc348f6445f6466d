/* The SSH wire reader and writer (src/ssh/buf.h) that every message parser stands on.
 * Input: one byte n, then n script bytes, then the buffer the script reads. Each script byte
 * is one reader call; after every call the reader's invariants are checked (offset within
 * the buffer, pointers and lengths inside it, everything zero/empty once err is set). The
 * buffer is then written back as an mpint and a string and read again. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "ssh/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_span(const struct sreader *r, const uint8_t *p, size_t n)
{
	if (p == NULL || n == 0) {
		FUZZ_CHECK(n == 0); /* a failed or empty string may point anywhere (e.g. "") */
		return;
	}
	FUZZ_CHECK(p >= r->p && (size_t)(p - r->p) <= r->len && n <= r->len - (size_t)(p - r->p));
	if (n) {
		volatile uint8_t x = p[0] ^ p[n - 1]; /* ASan: the span is inside the buffer */
		(void)x;
	}
}

static void run_script(const uint8_t *ops, size_t nops, const uint8_t *buf, size_t len)
{
	struct sreader r;
	size_t n = 0;

	sreader_init(&r, buf, len);
	for (size_t i = 0; i < nops; i++) {
		bool was_err = r.err;
		uint32_t v = 1;
		const uint8_t *p = NULL;
		switch (ops[i] % 7) {
		case 0:
			v = sreader_u8(&r);
			break;
		case 1:
			v = sreader_u32(&r);
			break;
		case 2:
			v = sreader_bool(&r);
			FUZZ_CHECK(v <= 1);
			break;
		case 3:
			p = sreader_string(&r, &n);
			check_span(&r, p, n);
			if (r.err)
				FUZZ_CHECK(p == NULL || n == 0);
			break;
		case 4:
			n = ops[i] >> 3;
			p = sreader_bytes(&r, n);
			if (p)
				check_span(&r, p, n);
			break;
		case 5:
			FUZZ_CHECK(sreader_left(&r) == (r.err ? 0 : r.len - r.off));
			break;
		default:
			p = sreader_string(&r, &n);
			(void)sreader_string_eq(p, n, "ssh-connection");
			break;
		}
		FUZZ_CHECK(r.off <= r.len);
		FUZZ_CHECK(!was_err || r.err); /* err sticks */
		if (r.err && ops[i] % 7 <= 1)
			FUZZ_CHECK(v == 0);
	}
}

static void check_writer(const uint8_t *buf, size_t len)
{
	struct sbuf b = {0};
	struct sreader r;
	size_t n;

	sbuf_put_mpint(&b, buf, len);
	sbuf_put_string(&b, buf, len);
	sbuf_put_u32(&b, (uint32_t)len);
	sreader_init(&r, b.data, b.len);
	const uint8_t *m = sreader_string(&r, &n);
	/* mpint: no needless leading zero, never negative, the same magnitude. */
	size_t z = 0;
	while (z < len && buf[z] == 0)
		z++;
	if (z == len) {
		FUZZ_CHECK(n == 0);
	} else {
		FUZZ_CHECK(n > 0 && !(m[0] & 0x80));
		FUZZ_CHECK(m[0] != 0 || (n > 1 && (m[1] & 0x80)));
		size_t off = m[0] == 0 ? 1 : 0;
		FUZZ_CHECK(n - off == len - z && memcmp(m + off, buf + z, len - z) == 0);
	}
	const uint8_t *s = sreader_string(&r, &n);
	FUZZ_CHECK(n == len && (len == 0 || memcmp(s, buf, len) == 0));
	FUZZ_CHECK(sreader_u32(&r) == (uint32_t)len && !r.err && sreader_left(&r) == 0);

	size_t before = b.len;
	sbuf_consume(&b, before / 2);
	FUZZ_CHECK(b.len == before - before / 2);
	sbuf_reset(&b);
	FUZZ_CHECK(b.len == 0);
	sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t nops = data[0];
	if (nops > size - 1)
		nops = size - 1;
	const uint8_t *ops = data + 1;
	size_t len = size - 1 - nops;
	uint8_t *buf = malloc(len ? len : 1); /* exact size for ASan */
	memcpy(buf, data + 1 + nops, len);

	run_script(ops, nops, buf, len);
	check_writer(buf, len);
	free(buf);
	return 0;
}
