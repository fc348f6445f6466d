/* Unit tests for src/auth/authorized_keys.c. Keys are made by ssh-keygen at test time; warnings
 * are captured from stderr and checked for file:line, reason, and the absence of key material. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/authorized_keys.h"
#include "hostkey.h"
#include "ssh/key.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/alknet-test-ak-XXXXXX";

/* Public key lines ("TYPE BASE64 comment", no newline) and private keys of the fixtures. */
enum { K_ED1, K_ED2, K_P256, K_RSA, K_OUT, NKEYS };
static const char *const key_args[NKEYS] = {"-t ed25519", "-t ed25519", "-t ecdsa -b 256",
					    "-t rsa -b 2048", "-t ed25519"};
static char *publine[NKEYS];
static char *b64[NKEYS];
static struct ssh_key *key[NKEYS];

static const char *path(const char *name)
{
	static char buf[2][256];
	static int i;

	i = (i + 1) % 2;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *buf = xcalloc(1, 65536);

	assert_non_null(f);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	(void)n;
	return buf;
}

static int setup(void **state)
{
	char cmd[512], name[32], err[256];

	(void)state;
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	for (int i = 0; i < NKEYS; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(cmd, sizeof(cmd), "ssh-keygen -q %s -N '' -C c%d -f %s", key_args[i], i,
			 path(name));
		if (system(cmd) != 0 ||
		    ssh_key_load_private(path(name), &key[i], err, sizeof(err))) {
			return -1;
		}
		snprintf(name, sizeof(name), "k%d.pub", i);
		publine[i] = slurp(path(name));
		char *b = strchr(publine[i], ' ') + 1;
		b64[i] = xstrndup(b, strcspn(b, " "));
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		free(publine[i]);
		free(b64[i]);
		ssh_key_free(key[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Formats text (xmalloc'd) from fmt. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = xmalloc(200000);

	va_start(ap, f);
	vsnprintf(s, 200000, f, ap);
	va_end(ap);
	return s;
}

/* Runs authkeys_parse(name "ak") on text[0..len) with stderr captured; returns the log. */
static char *parse_capture(const char *text, size_t len, struct authkeys **out)
{
	FILE *tmp = tmpfile();
	int saved;
	char *log = xcalloc(1, 65536);

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	assert_int_equal(authkeys_parse("ak", text, len, out), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(log, 1, 65535, tmp);
	(void)n;
	fclose(tmp);
	return log;
}

/* The log never shows key material: no 20-char run of any fixture's base64. */
static void assert_no_key_material(const char *log)
{
	for (int i = 0; i < NKEYS; i++) {
		char probe[21];
		memcpy(probe, b64[i] + 20, 20);
		probe[20] = '\0';
		assert_null(strstr(log, probe));
	}
}

static void test_basic_file(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text = fmt("# a comment\n"
			 "\n"
			 "   \t\n"
			 "   # indented comment\n"
			 "%s\n"
			 "  \t%s\r\n"
			 "%s\r\n"
			 "%s",
			 publine[K_ED1], publine[K_ED2], publine[K_P256], publine[K_RSA]);
	char *log = parse_capture(text, strlen(text), &a);

	assert_string_equal(log, "");
	assert_int_equal(authkeys_count(a), 4);
	for (int i = 0; i < NKEYS; i++) {
		assert_int_equal(authkeys_contains(a, key[i]), i != K_OUT);
	}
	authkeys_free(a);
	free(log);
	free(text);
}

static void test_empty(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *log = parse_capture("", 0, &a);

	assert_int_equal(authkeys_count(a), 0);
	assert_false(authkeys_contains(a, key[K_ED1]));
	assert_false(authkeys_contains(NULL, key[K_ED1]));
	assert_int_equal(authkeys_count(NULL), 0);
	authkeys_free(a);
	authkeys_free(NULL);
	free(log);
}

static void test_options_loaded(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text = fmt("restrict,command=\"x y\" %s\n"
			 "from=\"1.2.3.4\",permitopen=\"a:1\",permitopen=\"[::1]:*\" %s\n"
			 "command=\"echo \\\"a, b\\\" c\",no-pty\t%s\n"
			 "%s\n"
			 "no-port-forwarding,bogus-option %s\n",
			 publine[K_ED1], publine[K_P256], publine[K_OUT], publine[K_ED2],
			 publine[K_RSA]);
	char *log = parse_capture(text, strlen(text), &a);

	assert_int_equal(authkeys_count(a), 4);
	const struct authkeys_entry *e = authkeys_find(a, key[K_ED1]);
	assert_non_null(e);
	assert_int_equal(e->line, 1);
	assert_false(e->opts.permits.forwarding);
	e = authkeys_find(a, key[K_P256]);
	assert_non_null(e);
	assert_true(e->opts.permits.forwarding);
	assert_non_null(e->opts.from);
	assert_int_equal(e->opts.permits.n_open, 2);
	assert_string_equal(e->opts.permits.open[0].host, "a");
	assert_int_equal(e->opts.permits.open[0].port, 1);
	assert_string_equal(e->opts.permits.open[1].host, "::1");
	assert_int_equal(e->opts.permits.open[1].port, POLICY_ANY_PORT);
	e = authkeys_find(a, key[K_OUT]);
	assert_non_null(e);
	assert_true(e->opts.permits.forwarding);
	assert_null(e->opts.from);
	assert_non_null(authkeys_find(a, key[K_ED2]));
	/* fail closed: an option we don't know skips the whole line */
	assert_null(authkeys_find(a, key[K_RSA]));
	assert_non_null(strstr(log, "authorized_keys: ak:5: bad options: unknown or misused "
				    "option; line skipped\n"));
	assert_null(strstr(log, "ak:1:"));
	assert_null(strstr(log, "ak:3:"));
	assert_no_key_material(log);
	authkeys_free(a);
	free(log);
	free(text);
}

/* from= and expiry-time decide at login (authkeys_entry_refusal). */
static void test_entry_refusal(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text =
		fmt("from=\"!10.0.0.5,10.0.0.0/8\",expiry-time=\"20300101Z\" %s\n", publine[K_ED1]);
	char *log = parse_capture(text, strlen(text), &a);
	const struct authkeys_entry *e = authkeys_find(a, key[K_ED1]);
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	assert_non_null(e);
	ss.ss_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x0a000001);
	assert_null(authkeys_entry_refusal(e, &ss, 1700000000));
	assert_string_equal(authkeys_entry_refusal(e, &ss, 1893456001), "key expired");
	assert_null(authkeys_entry_refusal(e, &ss, 1893456000)); /* the second itself */
	in->sin_addr.s_addr = htonl(0x0a000005);
	assert_non_null(strstr(authkeys_entry_refusal(e, &ss, 1700000000), "from="));
	in->sin_addr.s_addr = htonl(0x0b000001);
	assert_non_null(authkeys_entry_refusal(e, &ss, 1700000000));
	authkeys_free(a);
	free(log);
	free(text);
}

static void test_certs_and_cas(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text =
		fmt("ssh-ed25519-cert-v01@openssh.com %s c\n"
		    "cert-authority %s\n"
		    "cert-authority,principals=\"a,b\" %s\n"
		    "principals=\"x,cert-authority\",restrict %s\n"
		    "%s\n",
		    b64[K_OUT], publine[K_ED1], publine[K_RSA], publine[K_P256], publine[K_ED2]);
	char *log = parse_capture(text, strlen(text), &a);

	assert_int_equal(authkeys_count(a), 4);
	assert_true(authkeys_contains(a, key[K_ED2]));
	assert_non_null(strstr(log, "ak:1: a certificate is not a key for authorized_keys"));
	/* a CA key is no user key */
	assert_null(authkeys_find(a, key[K_ED1]));
	assert_non_null(authkeys_find_ca(a, key[K_ED1]));
	assert_null(authkeys_find_ca(a, key[K_ED1])->opts.principals);
	const struct authkeys_entry *e = authkeys_find_ca(a, key[K_RSA]);
	assert_non_null(e);
	assert_true(e->opts.cert_authority);
	assert_string_equal(e->opts.principals[0], "a");
	assert_string_equal(e->opts.principals[1], "b");
	assert_null(e->opts.principals[2]);
	/* "cert-authority" inside a quoted value is not the option */
	e = authkeys_find(a, key[K_P256]);
	assert_non_null(e);
	assert_false(e->opts.cert_authority);
	assert_null(authkeys_find_ca(a, key[K_P256]));
	char fp[SSH_KEY_FP_LEN];
	ssh_key_fingerprint(key[K_ED1], fp);
	assert_false(authkeys_contains_fp(a, fp));
	ssh_key_fingerprint(key[K_P256], fp);
	assert_true(authkeys_contains_fp(a, fp));
	assert_no_key_material(log);
	authkeys_free(a);
	free(log);
	free(text);
}

static void test_bad_lines_rest_load(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text = fmt("ssh-ed25519 !!!notbase64!!! c\n"    /* 1 */
			 "ssh-rsa %s wrongtype\n"	      /* 2 */
			 "foo bar baz\n"		      /* 3 */
			 "ssh-dss AAAAB3NzaC1kc3M= old\n"     /* 4 */
			 "%s\n"				      /* 5 */
			 "ssh-ed25519\n"		      /* 6 */
			 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n" /* 7 */
			 "command=\"unterminated %s\n"	      /* 8 */
			 "%s\n",			      /* 9 */
			 b64[K_ED1], publine[K_RSA], publine[K_OUT], publine[K_P256]);
	char *log = parse_capture(text, strlen(text), &a);

	assert_int_equal(authkeys_count(a), 2);
	assert_true(authkeys_contains(a, key[K_RSA]));
	assert_true(authkeys_contains(a, key[K_P256]));
	assert_false(authkeys_contains(a, key[K_ED1]));
	assert_non_null(strstr(log, "authorized_keys: ak:1: bad base64\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:2: key type does not match its data\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:3: unknown key type\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:4: unsupported key type\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:6: missing key data\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:7: invalid key data\n"));
	assert_non_null(strstr(log, "authorized_keys: ak:8: missing end quote in options; line "
				    "skipped\n"));
	assert_null(strstr(log, "ak:5:"));
	assert_null(strstr(log, "ak:9:"));
	assert_no_key_material(log);
	authkeys_free(a);
	free(log);
	free(text);
}

static void test_long_and_nul_lines(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *filler = xmalloc(20001);

	memset(filler, 'A', 20000);
	filler[20000] = '\0';
	char *text = fmt("ssh-ed25519 %s\n%s\nssh-ed25519 AAAA\n%s\n", filler, publine[K_ED1],
			 publine[K_ED2]);
	text[strlen(text) - strlen(publine[K_ED2]) - 2 - 4] = '\0'; /* NUL inside line 3 */
	size_t len = strlen(text + strlen(text) + 1) + strlen(text) + 1;
	char *log = parse_capture(text, len, &a);

	assert_non_null(strstr(log, "ak:1: line too long; line skipped"));
	assert_non_null(strstr(log, "ak:3: NUL byte in line; line skipped"));
	assert_int_equal(authkeys_count(a), 2);
	assert_true(authkeys_contains(a, key[K_ED1]));
	assert_true(authkeys_contains(a, key[K_ED2]));
	authkeys_free(a);
	free(log);
	free(text);
	free(filler);
}

/* Every prefix of a file parses without trouble and loads at most the complete lines. */
static void test_prefixes(void **state)
{
	(void)state;
	char *text = fmt("# c\r\nfrom=\"a b\" %s\r\n%s\r\n%s\n", publine[K_OUT], publine[K_ED1],
			 publine[K_RSA]);
	size_t len = strlen(text);

	for (size_t l = 0; l <= len; l++) {
		struct authkeys *a = NULL;
		char *log = parse_capture(text, l, &a);
		assert_true(authkeys_count(a) <= 2);
		assert_false(authkeys_contains(a, key[K_OUT]));
		authkeys_free(a);
		free(log);
	}
	free(text);
}

static void test_load_file(void **state)
{
	(void)state;
	struct authkeys *a = NULL;
	char *text = fmt("%s\n# x\n%s\n", publine[K_P256], publine[K_ED2]);
	FILE *f = fopen(path("authorized_keys"), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(authkeys_load(path("authorized_keys"), &a), 0);
	assert_int_equal(authkeys_count(a), 2);
	assert_true(authkeys_contains(a, key[K_P256]));
	assert_true(authkeys_contains(a, key[K_ED2]));
	assert_false(authkeys_contains(a, key[K_ED1]));
	authkeys_free(a);
	a = NULL;
	assert_int_equal(authkeys_load(path("missing"), &a), -ENOENT);
	assert_null(a);
	assert_int_equal(authkeys_load(tmpdir, &a), -EISDIR);
	assert_null(a);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_file),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_options_loaded),
		cmocka_unit_test(test_entry_refusal),
		cmocka_unit_test(test_certs_and_cas),
		cmocka_unit_test(test_bad_lines_rest_load),
		cmocka_unit_test(test_long_and_nul_lines),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
