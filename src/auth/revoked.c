/* The --revoked-keys list (revoked.h): fingerprints, serials and key IDs, each kept sorted
 * for bsearch. */
#include "revoked.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ssh/key.h"
#include "../ssh/key_cert.h"
#include "../xmalloc.h"
#include "lines.h"

struct revoked {
	char (*fps)[SSH_KEY_FP_LEN];
	size_t n_fps;
	uint64_t *serials;
	size_t n_serials;
	char **key_ids;
	size_t n_key_ids;
};

static void add_fp(struct revoked *r, const struct ssh_key *k)
{
	r->fps = xrealloc(r->fps, (r->n_fps + 1) * sizeof(*r->fps));
	ssh_key_fingerprint(k, r->fps[r->n_fps++]);
}

/* "N": decimal, 1 to 2^64 - 1. */
static const char *add_serial(struct revoked *r, const char *s)
{
	uint64_t v = 0;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return "serial:N needs a decimal number";
	for (; *s; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return "serial out of range (at most 18446744073709551615)";
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v == 0)
		return "serial 0 means a certificate without serial; revoke it by key or key-id";
	r->serials = xrealloc(r->serials, (r->n_serials + 1) * sizeof(*r->serials));
	r->serials[r->n_serials++] = v;
	return NULL;
}

static const char *add_key_id(struct revoked *r, const char *s)
{
	if (*s == '\0')
		return "key-id:ID needs an ID";
	if (strlen(s) > SSH_CERT_MAX_KEY_ID)
		return "key id too long";
	r->key_ids = xrealloc(r->key_ids, (r->n_key_ids + 1) * sizeof(*r->key_ids));
	r->key_ids[r->n_key_ids++] = xstrdup(s);
	return NULL;
}

/* A key line, or a certificate line (its key is revoked). */
static const char *add_key_line(struct revoked *r, const char *line)
{
	struct ssh_key *k;
	struct ssh_cert *c;
	char why[128];
	size_t tn = strcspn(line, " \t");

	if (ssh_cert_is_cert_type((const uint8_t *)line, tn)) {
		if (ssh_cert_parse_public(line, &c, why, sizeof(why)) != 0)
			return "not a valid certificate line";
		add_fp(r, c->key);
		ssh_cert_free(c);
		return NULL;
	}
	if (ssh_key_parse_public(line, &k, why, sizeof(why)) != 0)
		return "not a public key, serial:N or key-id:ID";
	add_fp(r, k);
	ssh_key_free(k);
	return NULL;
}

static const char *revoked_line(void *ctx, char *line)
{
	struct revoked *r = ctx;

	if (strncasecmp(line, "serial:", 7) == 0)
		return add_serial(r, line + 7 + strspn(line + 7, " \t"));
	if (strncasecmp(line, "key-id:", 7) == 0)
		return add_key_id(r, line + 7 + strspn(line + 7, " \t"));
	return add_key_line(r, line);
}

static int fp_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int serial_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int revoked_done(struct revoked *r, int ret, struct revoked **out)
{
	if (ret != 0) {
		revoked_free(r);
		return ret;
	}
	/* qsort's pointer may not be NULL, even for no elements */
	if (r->n_fps > 0)
		qsort(r->fps, r->n_fps, sizeof(*r->fps), fp_cmp);
	if (r->n_serials > 0)
		qsort(r->serials, r->n_serials, sizeof(*r->serials), serial_cmp);
	if (r->n_key_ids > 0)
		qsort(r->key_ids, r->n_key_ids, sizeof(*r->key_ids), str_cmp);
	*out = r;
	return 0;
}

int revoked_parse(const char *name, const char *text, size_t len, struct revoked **out, char *err,
		  size_t errlen)
{
	struct revoked *r = xcalloc(1, sizeof(*r));

	return revoked_done(r, auth_lines(name, text, len, revoked_line, r, err, errlen), out);
}

int revoked_load(const char *path, struct revoked **out, char *err, size_t errlen)
{
	struct revoked *r = xcalloc(1, sizeof(*r));

	return revoked_done(r, auth_lines_file(path, revoked_line, r, err, errlen), out);
}

bool revoked_key_fp(const struct revoked *r, const char *fp)
{
	return r && r->n_fps > 0 && bsearch(fp, r->fps, r->n_fps, sizeof(*r->fps), fp_cmp);
}

bool revoked_key(const struct revoked *r, const struct ssh_key *k)
{
	char fp[SSH_KEY_FP_LEN];

	if (r == NULL || r->n_fps == 0)
		return false;
	ssh_key_fingerprint(k, fp);
	return revoked_key_fp(r, fp);
}

bool revoked_serial(const struct revoked *r, uint64_t serial)
{
	return r && r->n_serials > 0 &&
	       bsearch(&serial, r->serials, r->n_serials, sizeof(*r->serials), serial_cmp);
}

bool revoked_key_id(const struct revoked *r, const char *key_id)
{
	return r && r->n_key_ids > 0 &&
	       bsearch(&key_id, r->key_ids, r->n_key_ids, sizeof(*r->key_ids), str_cmp);
}

const char *revoked_cert(const struct revoked *r, const struct ssh_cert *c)
{
	if (revoked_key(r, c->key))
		return "certificate key revoked";
	if (revoked_key(r, c->ca_key))
		return "certificate CA revoked";
	if (c->serial != 0 && revoked_serial(r, c->serial))
		return "certificate serial revoked";
	if (revoked_key_id(r, c->key_id))
		return "certificate key id revoked";
	return NULL;
}

size_t revoked_count(const struct revoked *r)
{
	return r ? r->n_fps + r->n_serials + r->n_key_ids : 0;
}

void revoked_free(struct revoked *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_key_ids; i++)
		free(r->key_ids[i]);
	free(r->key_ids);
	free(r->serials);
	free(r->fps);
	free(r);
}
