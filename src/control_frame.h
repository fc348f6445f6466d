/* The control channel's wire format (alknet ADR-018): frames of a 4-byte big-endian length
 * and that many bytes of UTF-8 JSON, an EventEnvelope `{"type": ..., "id": ..., "payload":
 * ...}`. `__subscribe` and `__unsubscribe` with `payload.topic` are control envelopes for the
 * hub; any other envelope is published on the topic named by its type. Pure: bytes in, a
 * verdict out (C library and json.c only). */
#ifndef ALKNET_CONTROL_FRAME_H
#define ALKNET_CONTROL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define CONTROL_FRAME_HDR 4

enum control_frame_status {
	CONTROL_FRAME_OK = 0,
	CONTROL_FRAME_MORE = 1,	     /* not a whole frame yet: wait for more bytes */
	CONTROL_FRAME_EMPTY = -1,    /* length 0 */
	CONTROL_FRAME_TOO_BIG = -2,  /* length over the cap */
	CONTROL_FRAME_BAD_JSON = -3, /* not an envelope (json_err in the frame says why) */
	CONTROL_FRAME_NO_TOPIC = -4, /* a control envelope without a usable payload.topic */
};

enum control_kind {
	CONTROL_PUBLISH = 0, /* env.type is the topic */
	CONTROL_SUBSCRIBE = 1,
	CONTROL_UNSUBSCRIBE = 2,
};

struct control_frame {
	size_t len; /* the whole frame, header included (CONTROL_FRAME_OK) */
	enum control_kind kind;
	int json_err; /* CONTROL_FRAME_BAD_JSON: the enum json_err */
	struct json_envelope env;
};

/* Looks at the first frame in p[0..n): a length over max_frame is refused as soon as the
 * header is in, without waiting for the body. On CONTROL_FRAME_OK, out->len bytes make the
 * frame. Returns an enum control_frame_status. */
int control_frame_parse(const uint8_t *p, size_t n, size_t max_frame, struct control_frame *out);
/* A short fixed reason for a refused frame, for the log and the client (never its bytes). */
const char *control_frame_reason(int status, const struct control_frame *f);

#endif
