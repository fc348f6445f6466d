/* A strict RFC 8259 JSON validator that extracts the few fields the control channel routes on
 * (channel_control.c): the top-level "type" string and, inside a top-level "payload" object,
 * its "topic" string. Nothing else is kept. C library only; no allocation: the input is
 * walked once (recursion bounded by JSON_MAX_DEPTH) and the two strings are decoded into
 * fixed buffers in the caller's struct. Every byte is hostile: the text must be UTF-8 without
 * overlong forms, surrogates or a byte-order mark, and \u escapes must pair surrogates. */
#ifndef ALKNET_JSON_H
#define ALKNET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32  /* objects and arrays nested deeper are refused */
#define JSON_NAME_MAX  255 /* longest type or topic kept (decoded bytes) */

enum json_err {
	JSON_OK = 0,
	JSON_ERR_SYNTAX = -1,	  /* not an RFC 8259 JSON text */
	JSON_ERR_UTF8 = -2,	  /* invalid UTF-8, or a lone surrogate escape */
	JSON_ERR_DEPTH = -3,	  /* nested deeper than JSON_MAX_DEPTH */
	JSON_ERR_NOT_OBJECT = -4, /* valid JSON, but not an object at the top */
	JSON_ERR_NO_TYPE = -5,	  /* no "type" member, or not a non-empty string */
	JSON_ERR_DUPLICATE = -6,  /* "type", "payload" or payload's "topic" given twice */
	JSON_ERR_LONG_NAME = -7,  /* type or topic longer than JSON_NAME_MAX bytes */
};

/* The fields of an EventEnvelope `{"type": ..., "id": ..., "payload": ...}` we route on.
 * Strings are decoded (escapes resolved) UTF-8, NUL-terminated for convenience; compare them
 * by length, since \u0000 may put a NUL inside. */
struct json_envelope {
	char type[JSON_NAME_MAX + 1];
	size_t type_len;
	bool has_topic; /* payload is an object with a string "topic" */
	char topic[JSON_NAME_MAX + 1];
	size_t topic_len;
};

/* Validates p[0..n) as one JSON text whose value is an object with a non-empty string
 * "type", and fills *out. Syntax, UTF-8 and depth errors win over the others (a text that is
 * not JSON is reported as such). Returns JSON_OK or an enum json_err. */
int json_parse_envelope(const uint8_t *p, size_t n, struct json_envelope *out);
/* Validates p[0..n) as one JSON text of any value. JSON_OK, or SYNTAX / UTF8 / DEPTH. */
int json_validate(const uint8_t *p, size_t n);
/* A short fixed text for an error (never the input's bytes). */
const char *json_err_text(int err);

#endif
