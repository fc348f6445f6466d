/* Strict RFC 8259 validation with a small extractor (json.h). One recursive-descent pass over
 * the bytes; the recursion goes one level per nested object or array and stops at
 * JSON_MAX_DEPTH, so the stack stays small whatever the input. Errors of form (syntax, UTF-8,
 * depth) end the walk at once; errors of meaning (a missing or duplicated "type") are kept
 * aside and reported only once the whole text proved to be JSON. */
#include "json.h"

#include <string.h>

enum json_role {
	ROLE_OTHER = 0,	  /* an object whose members we don't look at */
	ROLE_ROOT = 1,	  /* the envelope: "type", "payload" */
	ROLE_PAYLOAD = 2, /* the envelope's payload object: "topic" */
};

enum json_key {
	KEY_OTHER = 0,
	KEY_TYPE = 1,
	KEY_PAYLOAD = 2,
	KEY_TOPIC = 3,
};

/* A decoded string's destination: bytes past cap are counted, not stored (len > cap then
 * says it was too long). buf NULL: validate only. */
struct jstr {
	char *buf;
	size_t cap;
	size_t len;
};

struct jp {
	const uint8_t *p;
	size_t n, off;
	unsigned depth;
	int soft; /* the first error of meaning; reported when the syntax is good */
	struct json_envelope *env; /* NULL: validate only */
	bool seen_type, seen_payload, seen_topic;
};

static int parse_value(struct jp *j, enum json_role role, struct jstr *s);

static void soft_fail(struct jp *j, int err)
{
	if (j->soft == JSON_OK)
		j->soft = err;
}

static int peek(const struct jp *j)
{
	return j->off < j->n ? j->p[j->off] : -1;
}

static void skip_ws(struct jp *j)
{
	int c;

	while ((c = peek(j)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		j->off++;
}

static void put(struct jstr *s, const uint8_t *b, size_t k)
{
	if (s == NULL || s->buf == NULL)
		return;
	if (k <= s->cap && s->len <= s->cap - k)
		memcpy(s->buf + s->len, b, k);
	s->len += k; /* bounded by the input's length */
}

/* One UTF-8 sequence whose first byte is >= 0x80: its length, or 0 when it is not the
 * shortest form of a scalar value (RFC 3629: no overlong forms, surrogates or > U+10FFFF). */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	uint32_t cp, min;
	size_t k;

	if (c >= 0xc2 && c <= 0xdf) {
		k = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

static size_t utf8_put(uint8_t *b, uint32_t cp)
{
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (uint8_t)(0xf0 | cp >> 18);
	b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

static int hex4(const uint8_t *p, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* After a backslash: one escape, decoded into s. A high surrogate must be followed by an
 * escaped low one; a lone surrogate is refused as invalid UTF-8. */
static int parse_escape(struct jp *j, struct jstr *s)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	uint32_t cp, lo;
	uint8_t b[4];

	if (j->off >= j->n)
		return JSON_ERR_SYNTAX;
	uint8_t c = j->p[j->off++];
	if (c != 'u') {
		const char *hit = memchr(from, c, sizeof(from) - 1);
		if (hit == NULL)
			return JSON_ERR_SYNTAX;
		b[0] = (uint8_t)to[hit - from];
		put(s, b, 1);
		return JSON_OK;
	}
	if (hex4(j->p + j->off, j->n - j->off, &cp) != 0)
		return JSON_ERR_SYNTAX;
	j->off += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return JSON_ERR_UTF8;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->n - j->off < 2 || j->p[j->off] != '\\' || j->p[j->off + 1] != 'u')
			return JSON_ERR_UTF8;
		if (hex4(j->p + j->off + 2, j->n - j->off - 2, &lo) != 0)
			return JSON_ERR_SYNTAX;
		if (lo < 0xdc00 || lo > 0xdfff)
			return JSON_ERR_UTF8;
		j->off += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	put(s, b, utf8_put(b, cp));
	return JSON_OK;
}

/* At the opening quote: the string up to its closing quote, decoded into s (NULL: checked
 * only). Runs of plain ASCII are copied at once. */
static int parse_string(struct jp *j, struct jstr *s)
{
	j->off++;
	while (j->off < j->n) {
		size_t start = j->off;
		uint8_t c;
		while (j->off < j->n && (c = j->p[j->off]) >= 0x20 && c < 0x80 && c != '"' &&
		       c != '\\')
			j->off++;
		put(s, j->p + start, j->off - start);
		if (j->off == j->n)
			break;
		c = j->p[j->off];
		if (c == '"') {
			j->off++;
			return JSON_OK;
		}
		if (c < 0x20)
			return JSON_ERR_SYNTAX; /* control characters must be escaped */
		if (c == '\\') {
			j->off++;
			int r = parse_escape(j, s);
			if (r != JSON_OK)
				return r;
			continue;
		}
		size_t k = utf8_len(j->p + j->off, j->n - j->off);
		if (k == 0)
			return JSON_ERR_UTF8;
		put(s, j->p + j->off, k);
		j->off += k;
	}
	return JSON_ERR_SYNTAX;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool digits(struct jp *j)
{
	if (!is_digit(peek(j)))
		return false;
	while (is_digit(peek(j)))
		j->off++;
	return true;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(struct jp *j)
{
	if (peek(j) == '-')
		j->off++;
	if (peek(j) == '0')
		j->off++;
	else if (!digits(j))
		return JSON_ERR_SYNTAX;
	if (peek(j) == '.') {
		j->off++;
		if (!digits(j))
			return JSON_ERR_SYNTAX;
	}
	if (peek(j) == 'e' || peek(j) == 'E') {
		j->off++;
		if (peek(j) == '+' || peek(j) == '-')
			j->off++;
		if (!digits(j))
			return JSON_ERR_SYNTAX;
	}
	return JSON_OK;
}

static int parse_literal(struct jp *j, const char *lit)
{
	size_t k = strlen(lit);

	if (j->n - j->off < k || memcmp(j->p + j->off, lit, k) != 0)
		return JSON_ERR_SYNTAX;
	j->off += k;
	return JSON_OK;
}

static enum json_key key_of(enum json_role role, const struct jstr *k)
{
	if (k->len > k->cap)
		return KEY_OTHER;
	if (role == ROLE_ROOT && k->len == 4 && memcmp(k->buf, "type", 4) == 0)
		return KEY_TYPE;
	if (role == ROLE_ROOT && k->len == 7 && memcmp(k->buf, "payload", 7) == 0)
		return KEY_PAYLOAD;
	if (role == ROLE_PAYLOAD && k->len == 5 && memcmp(k->buf, "topic", 5) == 0)
		return KEY_TOPIC;
	return KEY_OTHER;
}

/* "type": a second one is ambiguous; anything but a string of 1..JSON_NAME_MAX bytes leaves
 * type_len 0 (reported as no type). */
static int parse_type(struct jp *j)
{
	struct json_envelope *e = j->env;
	struct jstr s = {e->type, JSON_NAME_MAX, 0};

	if (j->seen_type)
		soft_fail(j, JSON_ERR_DUPLICATE);
	j->seen_type = true;
	if (peek(j) != '"')
		return parse_value(j, ROLE_OTHER, NULL);
	int r = parse_string(j, &s);
	if (r != JSON_OK)
		return r;
	if (s.len > JSON_NAME_MAX) {
		soft_fail(j, JSON_ERR_LONG_NAME);
		s.len = 0;
	}
	e->type[s.len] = '\0';
	e->type_len = s.len;
	return JSON_OK;
}

/* payload's "topic": kept only when it is the one string "topic" of at most JSON_NAME_MAX
 * bytes; an ordinary event's payload may hold anything, so nothing here is an error. */
static int parse_topic(struct jp *j)
{
	struct json_envelope *e = j->env;
	struct jstr s = {e->topic, JSON_NAME_MAX, 0};
	bool again = j->seen_topic;

	j->seen_topic = true;
	e->has_topic = false;
	if (peek(j) != '"')
		return parse_value(j, ROLE_OTHER, NULL);
	int r = parse_string(j, &s);
	if (r != JSON_OK || again || s.len > JSON_NAME_MAX)
		return r;
	e->topic[s.len] = '\0';
	e->topic_len = s.len;
	e->has_topic = true;
	return JSON_OK;
}

static int parse_member(struct jp *j, enum json_role role)
{
	char kbuf[8];
	struct jstr key = {kbuf, sizeof(kbuf), 0};

	skip_ws(j);
	if (peek(j) != '"')
		return JSON_ERR_SYNTAX;
	int r = parse_string(j, &key);
	if (r != JSON_OK)
		return r;
	skip_ws(j);
	if (peek(j) != ':')
		return JSON_ERR_SYNTAX;
	j->off++;
	skip_ws(j);
	switch (key_of(role, &key)) {
	case KEY_TYPE:
		return parse_type(j);
	case KEY_PAYLOAD:
		if (j->seen_payload)
			soft_fail(j, JSON_ERR_DUPLICATE);
		j->seen_payload = true;
		return parse_value(j, peek(j) == '{' ? ROLE_PAYLOAD : ROLE_OTHER, NULL);
	case KEY_TOPIC:
		return parse_topic(j);
	default:
		return parse_value(j, ROLE_OTHER, NULL);
	}
}

/* At '{' or '[': members or elements up to the closing bracket. */
static int parse_container(struct jp *j, enum json_role role)
{
	int close = peek(j) == '{' ? '}' : ']';

	if (++j->depth > JSON_MAX_DEPTH)
		return JSON_ERR_DEPTH;
	j->off++;
	skip_ws(j);
	if (peek(j) == close) {
		j->off++;
		j->depth--;
		return JSON_OK;
	}
	for (;;) {
		int r = close == '}' ? parse_member(j, role) : parse_value(j, ROLE_OTHER, NULL);
		if (r != JSON_OK)
			return r;
		skip_ws(j);
		int c = peek(j);
		if (c != ',' && c != close)
			return JSON_ERR_SYNTAX;
		j->off++;
		if (c == close)
			break;
	}
	j->depth--;
	return JSON_OK;
}

/* One value after optional whitespace; a string goes to s (NULL: checked only), an object is
 * read in role. */
static int parse_value(struct jp *j, enum json_role role, struct jstr *s)
{
	skip_ws(j);
	switch (peek(j)) {
	case '{':
	case '[':
		return parse_container(j, role);
	case '"':
		return parse_string(j, s);
	case 't':
		return parse_literal(j, "true");
	case 'f':
		return parse_literal(j, "false");
	case 'n':
		return parse_literal(j, "null");
	default:
		return parse_number(j);
	}
}

/* ws value ws, and nothing after. */
static int parse_text(struct jp *j, enum json_role role)
{
	skip_ws(j);
	if (j->off == j->n)
		return JSON_ERR_SYNTAX;
	int r = parse_value(j, role, NULL);
	if (r != JSON_OK)
		return r;
	skip_ws(j);
	return j->off == j->n ? JSON_OK : JSON_ERR_SYNTAX;
}

int json_validate(const uint8_t *p, size_t n)
{
	struct jp j = {.p = p, .n = n};

	return parse_text(&j, ROLE_OTHER);
}

int json_parse_envelope(const uint8_t *p, size_t n, struct json_envelope *out)
{
	struct jp j = {.p = p, .n = n, .env = out};

	memset(out, 0, sizeof(*out));
	int r = parse_text(&j, ROLE_ROOT);
	if (r != JSON_OK)
		return r;
	j.off = 0;
	skip_ws(&j); /* the text is valid: what starts it? */
	if (peek(&j) != '{')
		return JSON_ERR_NOT_OBJECT;
	if (j.soft != JSON_OK)
		return j.soft;
	return out->type_len > 0 ? JSON_OK : JSON_ERR_NO_TYPE;
}

const char *json_err_text(int err)
{
	switch (err) {
	case JSON_OK:
		return "ok";
	case JSON_ERR_SYNTAX:
		return "invalid JSON";
	case JSON_ERR_UTF8:
		return "invalid UTF-8 in JSON";
	case JSON_ERR_DEPTH:
		return "JSON nested too deep";
	case JSON_ERR_NOT_OBJECT:
		return "JSON is not an object";
	case JSON_ERR_NO_TYPE:
		return "missing type";
	case JSON_ERR_DUPLICATE:
		return "duplicate envelope field";
	case JSON_ERR_LONG_NAME:
		return "type too long";
	default:
		return "unknown error";
	}
}
