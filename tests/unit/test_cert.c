/* Unit tests for the certificate parser (src/ssh/key_cert.c) and the login check
 * (src/auth/cert.c). Keys and one real certificate are made by ssh-keygen at test time; the
 * other certificates are built here and signed with the CA's private key, so that every field
 * can be forged (an unknown critical option, a NUL in a name, a host type, ...). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/cert.h"
#include "hostkey.h"
#include "ssh/buf.h"
#include "ssh/key.h"
#include "ssh/key_cert.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/alknet-test-cert-XXXXXX";
enum { K_CA, K_CA2, K_USER, K_RSA, NKEYS };
static const char *const key_args[NKEYS] = {"-t ed25519", "-t ecdsa -b 256", "-t ed25519",
					    "-t rsa -b 2048"};
static struct ssh_key *key[NKEYS];
static char *real_cert_line; /* ssh-keygen -s ca ... user.pub */

#define NOW 1700000000ull

static const char *path(const char *name)
{
	static char buf[2][256];
	static int i;

	i = (i + 1) % 2;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static char *slurp_line(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *buf = xcalloc(1, 65536);

	assert_non_null(f);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int setup(void **state)
{
	char cmd[768], name[32], err[256];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (int i = 0; i < NKEYS; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(cmd, sizeof(cmd), "ssh-keygen -q %s -N '' -f %s", key_args[i], path(name));
		if (system(cmd) != 0 || ssh_key_load_private(path(name), &key[i], err, sizeof(err)))
			return -1;
	}
	snprintf(cmd, sizeof(cmd),
		 "ssh-keygen -q -s %s/k0 -I 'id with spaces' -n me,ops -z 77 "
		 "-O source-address=127.0.0.0/8,::1 -O no-pty %s/k2.pub",
		 tmpdir, tmpdir);
	if (system(cmd) != 0)
		return -1;
	real_cert_line = slurp_line(path("k2-cert.pub"));
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	for (int i = 0; i < NKEYS; i++)
		ssh_key_free(key[i]);
	free(real_cert_line);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* What the builder writes; zero fields are sensible defaults (see spec_default). */
struct spec {
	int user, ca; /* key[] indices */
	uint32_t type;
	uint64_t serial, after, before;
	const char *key_id;
	const char *principals[4];
	size_t np;
	const char *crit[3][2]; /* name, value (NULL: empty data) */
	size_t ncrit;
	const char *ext[4];
	size_t next;
	bool bad_sig;
	const struct sbuf *ca_blob; /* written as the signature key instead of key[ca]'s */
};

static struct spec spec_default(void)
{
	return (struct spec){.user = K_USER,
			     .ca = K_CA,
			     .type = SSH_CERT_TYPE_USER,
			     .serial = 5,
			     .after = NOW - 60,
			     .before = NOW + 3600,
			     .key_id = "alice",
			     .principals = {"me"},
			     .np = 1,
			     .ext = {"permit-port-forwarding"},
			     .next = 1};
}

static void put_u64(struct sbuf *b, uint64_t v)
{
	sbuf_put_u32(b, (uint32_t)(v >> 32));
	sbuf_put_u32(b, (uint32_t)v);
}

static void put_options(struct sbuf *b, const char *const (*opts)[2], const char *const *names,
			size_t n)
{
	struct sbuf in = {0};

	for (size_t i = 0; i < n; i++) {
		const char *name = opts ? opts[i][0] : names[i];
		const char *val = opts ? opts[i][1] : NULL;
		sbuf_put_cstring(&in, name);
		if (val == NULL) {
			sbuf_put_string(&in, "", 0);
		} else {
			struct sbuf v = {0};
			sbuf_put_cstring(&v, val);
			sbuf_put_string(&in, v.data, v.len);
			sbuf_free(&v);
		}
	}
	sbuf_put_string(b, in.data, in.len);
	sbuf_free(&in);
}

/* A certificate blob as sp says, signed by key[sp->ca]; the caller frees b. */
static void build(const struct spec *sp, struct sbuf *b)
{
	struct sreader r;
	size_t kl, tn, siglen;
	const uint8_t *kb = ssh_key_blob(key[sp->user], &kl);
	const char *tname = ssh_key_type(key[sp->user]) == SSH_KEY_RSA
				    ? "ssh-rsa-cert-v01@openssh.com"
				    : "ssh-ed25519-cert-v01@openssh.com";
	uint8_t *sig;
	struct sbuf pr = {0};

	memset(b, 0, sizeof(*b));
	sreader_init(&r, kb, kl);
	(void)sreader_string(&r, &tn);
	sbuf_put_cstring(b, tname);
	sbuf_put_string(b, "0123456789abcdef0123456789abcdef", 32);
	sbuf_put(b, kb + r.off, kl - r.off);
	put_u64(b, sp->serial);
	sbuf_put_u32(b, sp->type);
	sbuf_put_cstring(b, sp->key_id);
	for (size_t i = 0; i < sp->np; i++)
		sbuf_put_cstring(&pr, sp->principals[i]);
	sbuf_put_string(b, pr.data, pr.len);
	sbuf_free(&pr);
	put_u64(b, sp->after);
	put_u64(b, sp->before);
	put_options(b, sp->crit, NULL, sp->ncrit);
	put_options(b, NULL, sp->ext, sp->next);
	sbuf_put_string(b, "", 0);
	const uint8_t *cab = ssh_key_blob(key[sp->ca], &kl);
	if (sp->ca_blob)
		sbuf_put_string(b, sp->ca_blob->data, sp->ca_blob->len);
	else
		sbuf_put_string(b, cab, kl);
	assert_int_equal(ssh_key_sign(key[sp->ca], NULL, b->data, b->len, &sig, &siglen), 0);
	if (sp->bad_sig)
		sig[siglen - 1] ^= 1;
	sbuf_put_string(b, sig, siglen);
	free(sig);
}

static struct ssh_cert *parse_ok(const struct sbuf *b)
{
	struct ssh_cert *c = NULL;
	char err[128] = "";

	assert_int_equal(ssh_cert_parse(b->data, b->len, &c, err, sizeof(err)), 0);
	return c;
}

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss = {0};

	if (strchr(s, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s, &a->sin_addr), 1);
	}
	return ss;
}

/* cert_check of the certificate sp describes, as user "me" from from at NOW with skew. */
static const char *check_spec(const struct spec *sp, const char *from, unsigned skew,
			      struct cert_grant *g)
{
	struct sbuf b;
	struct sockaddr_storage peer = addr(from);
	struct cert_ctx ctx = {.user = "me", .peer = &peer, .now = NOW, .skew = skew};

	build(sp, &b);
	struct ssh_cert *c = parse_ok(&b);
	const char *why = cert_check(c, key[K_CA], NULL, 0, &ctx, g);
	ssh_cert_free(c);
	sbuf_free(&b);
	return why;
}

static void test_real_cert_parses(void **state)
{
	struct ssh_cert *c = NULL;
	char err[128] = "", fp1[SSH_KEY_FP_LEN], fp2[SSH_KEY_FP_LEN];

	(void)state;
	assert_int_equal(ssh_cert_parse_public(real_cert_line, &c, err, sizeof(err)), 0);
	assert_string_equal(c->type_name, "ssh-ed25519-cert-v01@openssh.com");
	assert_true(ssh_key_equal(c->key, key[K_USER]));
	assert_true(ssh_key_equal(c->ca_key, key[K_CA]));
	assert_int_equal(c->serial, 77);
	assert_int_equal(c->type, SSH_CERT_TYPE_USER);
	assert_string_equal(c->key_id, "id with spaces");
	assert_int_equal(c->n_principals, 2);
	assert_string_equal(c->principals[0], "me");
	assert_string_equal(c->principals[1], "ops");
	assert_non_null(ssh_cert_option_find(c->critical, c->n_critical, "source-address"));
	assert_non_null(
		ssh_cert_option_find(c->extensions, c->n_extensions, "permit-port-forwarding"));
	assert_null(ssh_cert_option_find(c->extensions, c->n_extensions, "permit-pty"));
	assert_int_equal(ssh_cert_verify_ca(c), 0);
	ssh_cert_fingerprint(c, fp1);
	ssh_key_fingerprint(c->key, fp2);
	assert_string_not_equal(fp1, fp2);
	ssh_cert_free(c);
}

/* Every prefix of a valid certificate, and one byte more, fail to parse. */
static void test_cut_short_and_trailing(void **state)
{
	struct sbuf b;
	struct spec sp = spec_default();
	struct ssh_cert *c = NULL;
	char err[128];

	(void)state;
	sp.ncrit = 1;
	sp.crit[0][0] = "source-address";
	sp.crit[0][1] = "127.0.0.0/8";
	build(&sp, &b);
	for (size_t n = 0; n < b.len; n++) {
		assert_int_equal(ssh_cert_parse(b.data, n, &c, err, sizeof(err)), -EINVAL);
		assert_null(c);
	}
	sbuf_put_u8(&b, 0);
	assert_int_equal(ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "trailing bytes");
	sbuf_free(&b);
}

/* Lengths inside the blob that lie: each field's string made one byte longer or shorter. */
static void test_inner_lengths(void **state)
{
	struct sbuf b;
	struct spec sp = spec_default();
	struct ssh_cert *c = NULL;
	char err[128];

	(void)state;
	build(&sp, &b);
	for (size_t off = 0; off + 4 <= b.len; off++) {
		uint32_t v = get_u32be(b.data + off);
		for (int d = -1; d <= 1; d += 2) {
			put_u32be(b.data + off, v + (uint32_t)d);
			if (ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)) == 0) {
				/* only a change the signature covers can still parse: it fails */
				assert_int_not_equal(ssh_cert_verify_ca(c), 0);
				ssh_cert_free(c);
				c = NULL;
			}
		}
		put_u32be(b.data + off, v);
	}
	sbuf_free(&b);
}

static void test_malformed_fields(void **state)
{
	struct sbuf b;
	struct ssh_cert *c = NULL;
	char err[128];
	struct spec sp;

	(void)state;
	sp = spec_default();
	sp.next = 2;
	sp.ext[1] = "permit-port-forwarding";
	build(&sp, &b);
	assert_int_equal(ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "option given twice");
	sbuf_free(&b);

	/* a certificate as CA key ("chained" certificates are not a thing) */
	struct sbuf inner;
	sp = spec_default();
	build(&sp, &inner);
	sp.ca_blob = &inner;
	build(&sp, &b);
	assert_int_equal(ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad signature key");
	sbuf_free(&b);
	sbuf_free(&inner);

	/* too many principals */
	sp = spec_default();
	struct sbuf many = {0};
	for (int i = 0; i <= SSH_CERT_MAX_PRINCIPALS; i++)
		sbuf_put_cstring(&many, "p");
	build(&sp, &b);
	uint8_t *pr = memmem(b.data, b.len, "\0\0\0\x06\0\0\0\x02me", 10);
	assert_non_null(pr);
	struct sbuf forged = {0};
	sbuf_put(&forged, b.data, (size_t)(pr - b.data));
	sbuf_put_string(&forged, many.data, many.len);
	sbuf_put(&forged, pr + 10, b.len - (size_t)(pr + 10 - b.data));
	assert_int_equal(ssh_cert_parse(forged.data, forged.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "too many principals");
	sbuf_free(&forged);
	sbuf_free(&many);
	sbuf_free(&b);

	/* not a certificate type, and an empty blob */
	assert_int_equal(
		ssh_cert_parse((const uint8_t *)"\0\0\0\x0bssh-ed25519", 15, &c, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(ssh_cert_parse(NULL, 0, &c, err, sizeof(err)), -EINVAL);
	uint8_t big[SSH_CERT_MAX_BLOB + 1] = {0};
	assert_int_equal(ssh_cert_parse(big, sizeof(big), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "certificate too large");
}

/* A NUL inside the key ID or a principal is refused (it would cut the name short). */
static void test_nul_in_names(void **state)
{
	struct sbuf b;
	struct spec sp = spec_default();
	struct ssh_cert *c = NULL;
	char err[128];

	(void)state;
	sp.key_id = "aXb";
	sp.principals[0] = "mYe";
	build(&sp, &b);
	uint8_t *x = memmem(b.data, b.len, "aXb", 3);
	uint8_t *y = memmem(b.data, b.len, "mYe", 3);
	x[1] = '\0';
	assert_int_equal(ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad key id");
	x[1] = 'X';
	y[1] = '\0';
	assert_int_equal(ssh_cert_parse(b.data, b.len, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "malformed principal");
	sbuf_free(&b);
}

static void test_check_valid(void **state)
{
	struct spec sp = spec_default();
	struct cert_grant g;

	(void)state;
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
	assert_true(g.port_forwarding);
	assert_false(g.force_command);
	sp.next = 0;
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
	assert_false(g.port_forwarding);
}

static void test_check_validity_and_skew(void **state)
{
	struct spec sp = spec_default();
	struct cert_grant g;

	(void)state;
	sp.before = NOW;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "certificate expired");
	assert_null(check_spec(&sp, "127.0.0.1", 1, &g));
	sp.before = NOW - 10;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 10, &g), "certificate expired");
	assert_null(check_spec(&sp, "127.0.0.1", 11, &g));
	sp = spec_default();
	sp.after = NOW + 30;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 29, &g), "certificate not yet valid");
	assert_null(check_spec(&sp, "127.0.0.1", 30, &g));
	sp.after = 0;
	sp.before = UINT64_MAX; /* "forever" */
	assert_null(check_spec(&sp, "127.0.0.1", 86400, &g));
}

static void test_check_principals(void **state)
{
	struct spec sp = spec_default();
	struct cert_grant g;
	struct sbuf b;
	struct sockaddr_storage peer = addr("127.0.0.1");
	struct cert_ctx ctx = {.user = "me", .peer = &peer, .now = NOW};
	const char *allowed[] = {"x", "ops"};

	(void)state;
	sp.principals[0] = "other";
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g),
			    "user not in certificate principals");
	sp.np = 0;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "certificate has no principals");
	/* a cert-authority line's principals="x,ops" instead of the user name */
	sp = spec_default();
	sp.principals[0] = "ops";
	build(&sp, &b);
	struct ssh_cert *c = parse_ok(&b);
	assert_null(cert_check(c, key[K_CA], allowed, 2, &ctx, &g));
	assert_string_equal(cert_check(c, key[K_CA], allowed, 1, &ctx, &g),
			    "no allowed principal in certificate");
	ssh_cert_free(c);
	sbuf_free(&b);
}

static void test_check_ca_type_signature(void **state)
{
	struct spec sp = spec_default();
	struct cert_grant g;

	(void)state;
	sp.ca = K_CA2;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "certificate CA not trusted");
	sp = spec_default();
	sp.type = SSH_CERT_TYPE_HOST;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "not a user certificate");
	sp = spec_default();
	sp.bad_sig = true;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "bad certificate signature");
	assert_false(g.port_forwarding);
	/* an RSA certified key, and the CA key as found in a CA set */
	sp = spec_default();
	sp.user = K_RSA;
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
}

static void test_check_critical_options(void **state)
{
	struct spec sp = spec_default();
	struct cert_grant g;

	(void)state;
	sp.ncrit = 1;
	sp.crit[0][0] = "source-address";
	sp.crit[0][1] = "10.0.0.0/8";
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g),
			    "source address not allowed by certificate");
	sp.crit[0][1] = "10.0.0.0/8,127.0.0.0/8,::1";
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
	assert_null(check_spec(&sp, "::1", 0, &g));
	assert_string_equal(check_spec(&sp, "::2", 0, &g),
			    "source address not allowed by certificate");
	sp.crit[0][1] = "not-an-address";
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "malformed source-address");
	sp.crit[0][1] = NULL; /* empty data */
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g), "malformed source-address");
	sp.crit[0][0] = "force-command";
	sp.crit[0][1] = "/bin/true";
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
	assert_true(g.force_command);
	assert_true(g.port_forwarding);
	sp.crit[0][0] = "unknown@example.com";
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g),
			    "unknown critical option in certificate");
	sp.crit[0][0] = "verify-required";
	sp.crit[0][1] = NULL;
	assert_string_equal(check_spec(&sp, "127.0.0.1", 0, &g),
			    "unknown critical option in certificate");
	/* unknown extensions are ignored */
	sp = spec_default();
	sp.next = 2;
	sp.ext[1] = "whatever@example.com";
	assert_null(check_spec(&sp, "127.0.0.1", 0, &g));
}

static void test_ca_file(void **state)
{
	struct cert_cas *cas = NULL;
	char err[256], fp[SSH_KEY_FP_LEN];
	FILE *f = fopen(path("k0.pub"), "r");
	char line[1024];

	(void)state;
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	char *text = xmalloc(4096);
	snprintf(text, 4096, "# CAs\n\n  %s\r\n", line);
	assert_int_equal(cert_cas_parse("cas", text, strlen(text), &cas, err, sizeof(err)), 0);
	assert_int_equal(cert_cas_count(cas), 1);
	assert_non_null(cert_cas_find(cas, key[K_CA]));
	assert_null(cert_cas_find(cas, key[K_CA2]));
	ssh_key_fingerprint(key[K_CA], fp);
	assert_true(cert_cas_contains_fp(cas, fp));
	cert_cas_free(cas);
	snprintf(text, 4096, "%s\ncert-authority %s", line, line);
	assert_int_equal(cert_cas_parse("cas", text, strlen(text), &cas, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "cas:2: "));
	snprintf(text, 4096, "%s", real_cert_line);
	assert_int_equal(cert_cas_parse("cas", text, strlen(text), &cas, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "cas:1: "));
	assert_int_equal(cert_cas_load(path("missing"), &cas, err, sizeof(err)), -ENOENT);
	assert_null(cert_cas_find(NULL, key[K_CA]));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_cert_parses),
		cmocka_unit_test(test_cut_short_and_trailing),
		cmocka_unit_test(test_inner_lengths),
		cmocka_unit_test(test_malformed_fields),
		cmocka_unit_test(test_nul_in_names),
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_check_validity_and_skew),
		cmocka_unit_test(test_check_principals),
		cmocka_unit_test(test_check_ca_type_signature),
		cmocka_unit_test(test_check_critical_options),
		cmocka_unit_test(test_ca_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
