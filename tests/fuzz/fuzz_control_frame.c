/* control_frame_parse over a stream of frames, as the control channel reads it: the first
 * two bytes pick the frame cap and how the stream is cut into packets, the rest is the
 * stream. The frames found must be the same whether the stream comes whole or in pieces
 * (a parser that assumed one read is one frame would differ), and each verdict must keep the
 * bounds it promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_frame.h"
#include "fuzz_common.h"

#define MAX_FRAMES 4096

struct verdict {
	int status;
	size_t len;
	int kind;
};

static size_t check_one(const uint8_t *p, size_t n, size_t max, struct verdict *v)
{
	struct control_frame f;

	v->status = control_frame_parse(p, n, max, &f);
	v->len = f.len;
	v->kind = v->status == CONTROL_FRAME_OK ? (int)f.kind : -1;
	if (v->status == CONTROL_FRAME_OK) {
		FUZZ_CHECK(f.len > CONTROL_FRAME_HDR && f.len <= n && f.len - 4 <= max);
		FUZZ_CHECK(f.env.type_len >= 1 && f.env.type_len <= JSON_NAME_MAX);
		if (f.kind != CONTROL_PUBLISH)
			FUZZ_CHECK(f.env.has_topic && f.env.topic_len >= 1);
	} else {
		FUZZ_CHECK(v->status == CONTROL_FRAME_MORE || v->status == CONTROL_FRAME_EMPTY ||
			   v->status == CONTROL_FRAME_TOO_BIG ||
			   v->status == CONTROL_FRAME_BAD_JSON ||
			   v->status == CONTROL_FRAME_NO_TOPIC);
		FUZZ_CHECK(v->status == CONTROL_FRAME_MORE ||
			   control_frame_reason(v->status, &f)[0] != '\0');
	}
	return v->status == CONTROL_FRAME_OK ? f.len : 0;
}

/* Frames of p[0..n) read from one buffer; returns how many verdicts (the last one is MORE
 * or an error). */
static size_t whole(const uint8_t *p, size_t n, size_t max, struct verdict *out)
{
	size_t off = 0, k = 0;

	while (k < MAX_FRAMES) {
		size_t used = check_one(p + off, n - off, max, &out[k]);
		k++;
		if (used == 0)
			break;
		off += used;
	}
	return k;
}

/* The same stream in packets of 1..64 bytes (sizes from seed), parsed after each one. */
static size_t pieces(const uint8_t *p, size_t n, size_t max, uint8_t seed, struct verdict *out)
{
	uint8_t *buf = malloc(n ? n : 1);
	size_t have = 0, start = 0, k = 0, fed = 0;
	uint32_t x = seed | 0x100u;

	while (k < MAX_FRAMES) {
		x = x * 1103515245u + 12345u;
		size_t chunk = 1 + (x >> 16) % 64;
		if (chunk > n - fed)
			chunk = n - fed;
		memcpy(buf + have, p + fed, chunk);
		have += chunk;
		fed += chunk;
		struct verdict v;
		size_t used;
		while ((used = check_one(buf + start, have - start, max, &v)) > 0 &&
		       k < MAX_FRAMES) {
			out[k++] = v;
			start += used;
		}
		if (v.status != CONTROL_FRAME_MORE || fed == n) {
			if (k < MAX_FRAMES)
				out[k++] = v;
			break;
		}
	}
	free(buf);
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct verdict a[MAX_FRAMES], b[MAX_FRAMES];

	if (size < 2)
		return 0;
	size_t max = (size_t)16 << (data[0] % 12); /* 16 bytes .. 32 KiB */
	uint8_t seed = data[1];
	size_t n = size - 2;
	uint8_t *p = malloc(n ? n : 1);
	memcpy(p, data + 2, n);
	size_t na = whole(p, n, max, a), nb = pieces(p, n, max, seed, b);
	if (na < MAX_FRAMES && nb < MAX_FRAMES) {
		FUZZ_CHECK(na == nb);
		for (size_t i = 0; i < na; i++)
			FUZZ_CHECK(a[i].status == b[i].status && a[i].len == b[i].len &&
				   a[i].kind == b[i].kind);
	}
	free(p);
	return 0;
}
