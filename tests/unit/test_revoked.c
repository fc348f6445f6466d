/* Unit tests for the --revoked-keys parser and lookups (src/auth/revoked.c). Keys and a
 * certificate are made by ssh-keygen at test time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/revoked.h"
#include "hostkey.h"
#include "ssh/key.h"
#include "ssh/key_cert.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/alknet-test-revoked-XXXXXX";
static char *ca_line, *user_line, *cert_line, *other_line;
static struct ssh_cert *cert; /* user's certificate, signed by ca, serial 9, id "bob" */
static struct ssh_key *other; /* a key in no file */

static char *slurp_line(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
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
	char cmd[768], err[128];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && ssh-keygen -q -t ed25519 -N '' -f ca && "
		 "ssh-keygen -q -t ecdsa -N '' -f user && ssh-keygen -q -t ed25519 -N '' -f other "
		 "&& "
		 "ssh-keygen -q -s ca -I bob -n me -z 9 user.pub",
		 tmpdir);
	if (system(cmd) != 0)
		return -1;
	ca_line = slurp_line("ca.pub");
	user_line = slurp_line("user.pub");
	cert_line = slurp_line("user-cert.pub");
	other_line = slurp_line("other.pub");
	if (ssh_cert_parse_public(cert_line, &cert, err, sizeof(err)) != 0 ||
	    ssh_key_parse_public(other_line, &other, err, sizeof(err)) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	free(ca_line);
	free(user_line);
	free(cert_line);
	free(other_line);
	ssh_cert_free(cert);
	ssh_key_free(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* revoked_parse of the text, expected to succeed. */
static struct revoked *parse(const char *text)
{
	struct revoked *r = NULL;
	char err[256] = "";

	assert_int_equal(revoked_parse("rk", text, strlen(text), &r, err, sizeof(err)), 0);
	return r;
}

/* revoked_parse of the text, expected to fail with err containing want. */
static void parse_fails(const char *text, const char *want)
{
	struct revoked *r = NULL;
	char err[256] = "";

	assert_int_equal(revoked_parse("rk", text, strlen(text), &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_empty_and_comments(void **state)
{
	(void)state;
	struct revoked *r = parse("# nothing\n\n   \r\n\t# more\n");
	assert_int_equal(revoked_count(r), 0);
	assert_null(revoked_cert(r, cert));
	assert_false(revoked_key(r, other));
	revoked_free(r);
	assert_null(revoked_cert(NULL, cert));
	assert_false(revoked_serial(NULL, 9));
	revoked_free(NULL);
}

static void test_serial_and_key_id(void **state)
{
	(void)state;
	struct revoked *r = parse("serial:3\nSERIAL: 9\nserial:18446744073709551615\n");
	assert_int_equal(revoked_count(r), 3);
	assert_true(revoked_serial(r, 9));
	assert_true(revoked_serial(r, UINT64_MAX));
	assert_false(revoked_serial(r, 4));
	assert_string_equal(revoked_cert(r, cert), "certificate serial revoked");
	revoked_free(r);

	r = parse("key-id:alice smith  \nkey-id: bob\n");
	assert_true(revoked_key_id(r, "alice smith"));
	assert_false(revoked_key_id(r, "alice"));
	assert_string_equal(revoked_cert(r, cert), "certificate key id revoked");
	revoked_free(r);
}

static void test_keys_ca_and_cert_lines(void **state)
{
	char text[8192];

	(void)state;
	snprintf(text, sizeof(text), "%s\n", ca_line);
	struct revoked *r = parse(text);
	assert_string_equal(revoked_cert(r, cert), "certificate CA revoked");
	revoked_free(r);
	snprintf(text, sizeof(text), "%s\n", user_line);
	r = parse(text);
	assert_string_equal(revoked_cert(r, cert), "certificate key revoked");
	assert_true(revoked_key(r, cert->key));
	assert_false(revoked_key(r, other));
	revoked_free(r);
	/* a certificate line revokes its key (what OpenSSH does with a plain list) */
	snprintf(text, sizeof(text), "%s\n%s\n", cert_line, other_line);
	r = parse(text);
	assert_string_equal(revoked_cert(r, cert), "certificate key revoked");
	assert_true(revoked_key(r, other));
	char fp[SSH_KEY_FP_LEN];
	ssh_key_fingerprint(other, fp);
	assert_true(revoked_key_fp(r, fp));
	revoked_free(r);
}

static void test_bad_lines(void **state)
{
	char text[8192];

	(void)state;
	parse_fails("serial:\n", "rk:1: serial:N needs a decimal number");
	parse_fails("# c\nserial:12a\n", "rk:2: ");
	parse_fails("serial:-1\n", "rk:1: ");
	parse_fails("serial:0\n", "rk:1: serial 0");
	parse_fails("serial:18446744073709551616\n", "rk:1: serial out of range");
	parse_fails("key-id:\n", "rk:1: key-id:ID needs an ID");
	parse_fails("what is this\n", "rk:1: not a public key, serial:N or key-id:ID");
	parse_fails("ssh-ed25519 AAAA!!!\n", "rk:1: ");
	parse_fails("ssh-ed25519-cert-v01@openssh.com AAAA\n", "rk:1: not a valid certificate");
	char *big = xmalloc(SSH_CERT_MAX_KEY_ID + 16);
	memset(big, 'x', SSH_CERT_MAX_KEY_ID + 15);
	memcpy(big, "key-id:", 7);
	big[SSH_CERT_MAX_KEY_ID + 15] = '\0';
	parse_fails(big, "rk:1: key id too long");
	free(big);
	/* a NUL inside a line */
	struct revoked *r = NULL;
	char err[128];
	assert_int_equal(revoked_parse("rk", "serial:1\nser\0ial:2\n", 20, &r, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "rk:2: NUL byte"));
	/* a good line before a bad one doesn't survive */
	snprintf(text, sizeof(text), "%s\nbogus\n", user_line);
	parse_fails(text, "rk:2: ");
}

static void test_load_file(void **state)
{
	char p[256], err[256];
	struct revoked *r = NULL;

	(void)state;
	snprintf(p, sizeof(p), "%s/rk", tmpdir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("serial:9\n", f);
	fclose(f);
	assert_int_equal(revoked_load(p, &r, err, sizeof(err)), 0);
	assert_true(revoked_serial(r, 9));
	revoked_free(r);
	snprintf(p, sizeof(p), "%s/missing", tmpdir);
	assert_int_equal(revoked_load(p, &r, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_serial_and_key_id),
		cmocka_unit_test(test_keys_ca_and_cert_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
