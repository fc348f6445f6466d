/* OpenSSH user certificates (cert.h): the CA key file and the login check, after sshd's
 * auth2-pubkey.c user_cert_trusted_ca and sshkey_cert_check_authority, and PROTOCOL.certkeys
 * for the options. Reasons are fixed strings: they go to log lines as they are. */
#include "cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../addrmatch.h"
#include "../ssh/key.h"
#include "../ssh/key_cert.h"
#include "../xmalloc.h"
#include "lines.h"

struct cert_cas {
	struct ssh_key **keys;
	size_t n;
	char (*fps)[SSH_KEY_FP_LEN]; /* the keys' fingerprints, sorted */
};

static const char *cas_line(void *ctx, char *line)
{
	struct cert_cas *cas = ctx;
	struct ssh_key *k;
	char why[128];

	if (ssh_key_parse_public(line, &k, why, sizeof(why)) != 0)
		return "not a CA public key (TYPE BASE64 [comment])";
	cas->keys = xrealloc(cas->keys, (cas->n + 1) * sizeof(*cas->keys));
	cas->keys[cas->n++] = k;
	return NULL;
}

static int fp_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void cas_index(struct cert_cas *cas)
{
	cas->fps = xcalloc(cas->n ? cas->n : 1, sizeof(*cas->fps));
	for (size_t i = 0; i < cas->n; i++)
		ssh_key_fingerprint(cas->keys[i], cas->fps[i]);
	qsort(cas->fps, cas->n, sizeof(*cas->fps), fp_cmp);
}

/* Finishes a parse: the set to *out, or freed on failure. */
static int cas_done(struct cert_cas *cas, int ret, struct cert_cas **out)
{
	if (ret != 0) {
		cert_cas_free(cas);
		return ret;
	}
	cas_index(cas);
	*out = cas;
	return 0;
}

int cert_cas_parse(const char *name, const char *text, size_t len, struct cert_cas **out, char *err,
		   size_t errlen)
{
	struct cert_cas *cas = xcalloc(1, sizeof(*cas));

	return cas_done(cas, auth_lines(name, text, len, cas_line, cas, err, errlen), out);
}

int cert_cas_load(const char *path, struct cert_cas **out, char *err, size_t errlen)
{
	struct cert_cas *cas = xcalloc(1, sizeof(*cas));

	return cas_done(cas, auth_lines_file(path, cas_line, cas, err, errlen), out);
}

const struct ssh_key *cert_cas_find(const struct cert_cas *cas, const struct ssh_key *k)
{
	const struct ssh_key *found = NULL;

	for (size_t i = 0; cas != NULL && i < cas->n; i++) {
		if (ssh_key_equal(cas->keys[i], k))
			found = cas->keys[i];
	}
	return found;
}

bool cert_cas_contains_fp(const struct cert_cas *cas, const char *fp)
{
	return cas && cas->n > 0 && bsearch(fp, cas->fps, cas->n, sizeof(*cas->fps), fp_cmp);
}

size_t cert_cas_count(const struct cert_cas *cas)
{
	return cas ? cas->n : 0;
}

void cert_cas_free(struct cert_cas *cas)
{
	if (cas == NULL)
		return;
	for (size_t i = 0; i < cas->n; i++)
		ssh_key_free(cas->keys[i]);
	free(cas->keys);
	free(cas->fps);
	free(cas);
}

/* Validity: [valid_after, valid_before) widened by skew on both sides, without overflow
 * (valid_before is often "forever", 2^64 - 1). */
static const char *check_validity(const struct ssh_cert *c, const struct cert_ctx *ctx)
{
	if (c->valid_after > ctx->now && c->valid_after - ctx->now > ctx->skew)
		return "certificate not yet valid";
	if (c->valid_before <= ctx->now && ctx->now - c->valid_before >= ctx->skew)
		return "certificate expired";
	return NULL;
}

static bool has_principal(const struct ssh_cert *c, const char *name)
{
	for (size_t i = 0; i < c->n_principals; i++) {
		if (strcmp(c->principals[i], name) == 0)
			return true;
	}
	return false;
}

/* The certificate must name a principal the login allows: the user name, or one of a
 * cert-authority line's principals. */
static const char *check_principals(const struct ssh_cert *c, const char *const *principals,
				    size_t n, const char *user)
{
	if (c->n_principals == 0)
		return "certificate has no principals";
	if (principals == NULL)
		return has_principal(c, user) ? NULL : "user not in certificate principals";
	for (size_t i = 0; i < n; i++) {
		if (has_principal(c, principals[i]))
			return NULL;
	}
	return "no allowed principal in certificate";
}

/* source-address: its data is one string, a CIDR list; the client must lie in it. */
static const char *check_source(const struct ssh_cert_option *o, const struct cert_ctx *ctx)
{
	size_t n = o->len >= 4 ? (size_t)o->data[0] << 24 | (size_t)o->data[1] << 16 |
					 (size_t)o->data[2] << 8 | o->data[3]
			       : 0;
	struct addrmatch *m = NULL;
	char err[128];
	bool ok;

	if (o->len < 4 || n != o->len - 4 || memchr(o->data + 4, '\0', n) != NULL)
		return "malformed source-address";
	char *list = xstrndup((const char *)o->data + 4, n);
	int ret = addrmatch_parse(list, &m, err, sizeof(err));
	free(list);
	if (ret != 0)
		return "malformed source-address";
	ok = addrmatch_match(m, ctx->peer);
	addrmatch_free(m);
	return ok ? NULL : "source address not allowed by certificate";
}

/* Every critical option must be known and met (PROTOCOL.certkeys: refuse what we don't
 * recognise). force-command is accepted: OpenSSH would run it instead of the user's command,
 * but it doesn't stop forwarding there either (that is permit-port-forwarding's job), and
 * alknet runs no command at all; the grant notes it for the log. */
static const char *check_critical(const struct ssh_cert *c, const struct cert_ctx *ctx,
				  struct cert_grant *grant)
{
	for (size_t i = 0; i < c->n_critical; i++) {
		const struct ssh_cert_option *o = &c->critical[i];
		const char *why = NULL;
		if (strcmp(o->name, "source-address") == 0)
			why = check_source(o, ctx);
		else if (strcmp(o->name, "force-command") == 0)
			grant->force_command = true;
		else
			why = "unknown critical option in certificate";
		if (why != NULL)
			return why;
	}
	return NULL;
}

const char *cert_check(const struct ssh_cert *c, const struct ssh_key *ca,
		       const char *const *principals, size_t n, const struct cert_ctx *ctx,
		       struct cert_grant *grant)
{
	const char *why;

	memset(grant, 0, sizeof(*grant));
	if (ca == NULL || !ssh_key_equal(ca, c->ca_key))
		return "certificate CA not trusted";
	if (c->type != SSH_CERT_TYPE_USER)
		return "not a user certificate";
	if (ssh_cert_verify_ca(c) != 0)
		return "bad certificate signature";
	if ((why = check_validity(c, ctx)) != NULL ||
	    (why = check_principals(c, principals, n, ctx->user)) != NULL ||
	    (why = check_critical(c, ctx, grant)) != NULL) {
		memset(grant, 0, sizeof(*grant));
		return why;
	}
	grant->port_forwarding =
		ssh_cert_option_find(c->extensions, c->n_extensions, "permit-port-forwarding");
	return NULL;
}
