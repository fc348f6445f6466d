/* Unit tests for the key module (src/ssh/key.c, key_private.c, key_sign.c). Fixtures are made
 * by ssh-keygen at test time in a temporary directory; signatures are cross-checked with
 * ssh-keygen -Y (SSHSIG) in both directions and with OpenSSL directly. */
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

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hostkey.h"
#include "ssh/buf.h"
#include "ssh/key.h"
#include "xmalloc.h"

struct fixture {
	const char *file;
	const char *args;
	enum ssh_key_type type;
	const char *name;
};

static const struct fixture fixtures[] = {
	{"ed25519", "-t ed25519", SSH_KEY_ED25519, "ssh-ed25519"},
	{"p256", "-t ecdsa -b 256", SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256"},
	{"p384", "-t ecdsa -b 384", SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384"},
	{"p521", "-t ecdsa -b 521", SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521"},
	{"rsa2048", "-t rsa -b 2048", SSH_KEY_RSA, "ssh-rsa"},
	{"rsa1024", "-t rsa -b 1024", SSH_KEY_RSA, "ssh-rsa"},
};
#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static char tmpdir[] = "/tmp/alknet-test-key-XXXXXX";

/* ---- helpers ---- */

static void run_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int vrun(const char *fmt, va_list ap)
{
	char cmd[1024];

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	return system(cmd);
}

static int run(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun(fmt, ap);
	va_end(ap);
	return rc;
}

static void run_ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun(fmt, ap);
	va_end(ap);
	assert_int_equal(rc, 0);
}

static const char *path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	char *buf = xmalloc(1 << 20);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL) {
		*len = n;
	}
	return buf;
}

static void spew(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Decodes base64 (newlines skipped). Returns an xmalloc'd buffer. */
static uint8_t *b64dec(const char *s, size_t n, size_t *outlen)
{
	char *clean = xmalloc(n + 1);
	size_t m = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n' && s[i] != '\r') {
			clean[m++] = s[i];
		}
	}
	while (pad < m && clean[m - 1 - pad] == '=') {
		pad++;
	}
	uint8_t *out = xmalloc(m / 4 * 3 + 1);
	int r = EVP_DecodeBlock(out, (unsigned char *)clean, (int)m);
	assert_true(r >= 0);
	*outlen = (size_t)r - pad;
	free(clean);
	return out;
}

/* Armours binary data between BEGIN/END lines, base64 wrapped at 70 columns. */
static char *armour(const char *what, const uint8_t *d, size_t n)
{
	size_t blen = (n + 2) / 3 * 4;
	char *b64 = xmalloc(blen + 1);
	char *out = xmalloc(blen + blen / 70 + 200);
	size_t o = 0;

	EVP_EncodeBlock((unsigned char *)b64, d, (int)n);
	o += (size_t)sprintf(out + o, "-----BEGIN %s-----\n", what);
	for (size_t i = 0; i < blen; i += 70) {
		size_t l = blen - i < 70 ? blen - i : 70;
		memcpy(out + o, b64 + i, l);
		o += l;
		out[o++] = '\n';
	}
	sprintf(out + o, "-----END %s-----\n", what);
	free(b64);
	return out;
}

/* Decoded binary of the OpenSSH private key file `name`. */
static uint8_t *key_binary(const char *name, size_t *len)
{
	char *text = slurp(path(name), NULL);
	char *b = strstr(text, "-----\n") + 6;
	char *e = strstr(b, "-----END");
	uint8_t *bin = b64dec(b, (size_t)(e - b), len);

	free(text);
	return bin;
}

static struct ssh_key *load(const char *name)
{
	struct ssh_key *k = NULL;
	char err[256] = "";

	if (ssh_key_load_private(path(name), &k, err, sizeof(err)) != 0) {
		fail_msg("%s: %s", name, err);
	}
	return k;
}

static struct ssh_key *load_pub(const char *name)
{
	char pubname[64];
	struct ssh_key *k = NULL;
	char err[256] = "";

	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	char *text = slurp(path(pubname), NULL);
	if (ssh_key_parse_public(text, &k, err, sizeof(err)) != 0) {
		fail_msg("%s: %s", pubname, err);
	}
	free(text);
	return k;
}

/* Parses private key text and expects failure with exactly `want` (NULL: any reason). */
static void expect_private_error(const char *text, size_t len, const char *want)
{
	struct ssh_key *k = NULL;
	char err[256] = "";

	assert_true(ssh_key_parse_private(text, len, &k, err, sizeof(err)) < 0);
	assert_null(k);
	assert_true(err[0] != '\0');
	if (want != NULL) {
		assert_string_equal(err, want);
	}
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	for (size_t i = 0; i < NFIX; i++) {
		run_ok("ssh-keygen -q %s -N '' -C test-%s -f %s", fixtures[i].args,
		       fixtures[i].file, path(fixtures[i].file));
	}
	run_ok("ssh-keygen -q -t ed25519 -N '' -f %s", path("other"));
	run_ok("ssh-keygen -q -t ed25519 -N pass -f %s", path("enc"));
	run_ok("ssh-keygen -q -t rsa -b 2048 -N '' -m PEM -f %s", path("pemrsa"));
	run_ok("ssh-keygen -q -t ecdsa -N '' -m PEM -f %s", path("pemec"));
	run_ok("printf 'alknet test message\\n' > %s", path("msg"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return run("rm -rf '%s'", tmpdir) == 0 ? 0 : -1;
}

/* ---- loading ---- */

/* Blob equals the decoded .pub; type and fingerprint agree with ssh-keygen. */
static void test_load_matches_ssh_keygen(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		const struct fixture *f = &fixtures[i];
		struct ssh_key *k = load(f->file);
		char pubname[64], fp[SSH_KEY_FP_LEN], want[128];
		size_t bloblen, publen;

		assert_int_equal(ssh_key_type(k), f->type);
		assert_string_equal(ssh_key_type_name(k), f->name);
		assert_true(ssh_key_has_private(k));

		snprintf(pubname, sizeof(pubname), "%s.pub", f->file);
		char *pub = slurp(path(pubname), NULL);
		char *b = strchr(pub, ' ') + 1;
		uint8_t *dec = b64dec(b, strcspn(b, " "), &publen);
		const uint8_t *blob = ssh_key_blob(k, &bloblen);
		assert_int_equal(bloblen, publen);
		assert_memory_equal(blob, dec, publen);

		FILE *p;
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "ssh-keygen -lf %s | cut -d' ' -f2", path(pubname));
		assert_non_null(p = popen(cmd, "r"));
		assert_non_null(fgets(want, sizeof(want), p));
		pclose(p);
		want[strcspn(want, "\n")] = '\0';
		ssh_key_fingerprint(k, fp);
		assert_string_equal(fp, want);
		assert_int_equal(strlen(fp), SSH_KEY_FP_LEN - 1);

		free(dec);
		free(pub);
		ssh_key_free(k);
	}
}

/* The .pub line and the blob give public keys equal to the private one. */
static void test_public_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		struct ssh_key *k = load(fixtures[i].file);
		struct ssh_key *p = load_pub(fixtures[i].file);
		struct ssh_key *b = NULL;
		size_t len;
		const uint8_t *blob = ssh_key_blob(k, &len);

		assert_false(ssh_key_has_private(p));
		assert_true(ssh_key_equal(k, p));
		assert_int_equal(ssh_key_from_blob(blob, len, &b), 0);
		assert_true(ssh_key_equal(b, k));
		assert_int_equal(ssh_key_type(b), fixtures[i].type);
		ssh_key_free(b);
		ssh_key_free(p);
		ssh_key_free(k);
	}
}

static void test_equal_differs(void **state)
{
	(void)state;
	struct ssh_key *a = load("ed25519"), *b = load("other"), *c = load("p256");

	assert_false(ssh_key_equal(a, b));
	assert_false(ssh_key_equal(a, c));
	assert_true(ssh_key_equal(a, a));
	ssh_key_free(a);
	ssh_key_free(b);
	ssh_key_free(c);
}

static void test_encrypted_key(void **state)
{
	(void)state;
	struct ssh_key *k = NULL;
	char err[256];

	assert_int_equal(ssh_key_load_private(path("enc"), &k, err, sizeof(err)), -EINVAL);
	assert_null(k);
	assert_string_equal(err, "key is encrypted (passphrase); alknet needs an unencrypted key");
}

static void test_pem_keys(void **state)
{
	(void)state;
	const char *names[] = {"pemrsa", "pemec"};
	for (int i = 0; i < 2; i++) {
		struct ssh_key *k = NULL;
		char err[256];
		assert_int_equal(ssh_key_load_private(path(names[i]), &k, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(
			err, "PEM keys are not supported; convert with ssh-keygen -p -f KEY");
	}
}

static void test_public_key_as_private(void **state)
{
	(void)state;
	struct ssh_key *k = NULL;
	char err[256];

	assert_int_equal(ssh_key_load_private(path("ed25519.pub"), &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "this is a public key; pass the private key file");
	expect_private_error("hello world\n", 12, "file is not a private key");
	expect_private_error("", 0, "file is not a private key");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct ssh_key *k = NULL;
	char err[256];

	assert_int_equal(ssh_key_load_private(path("nonexistent"), &k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_null(k);

	char *big = xcalloc(1, 70000);
	memset(big, '#', 69999);
	spew(path("big"), big, 70000);
	free(big);
	assert_int_equal(ssh_key_load_private(path("big"), &k, err, sizeof(err)), -EFBIG);
	assert_string_equal(err, "cannot read key file: file too large for a key");
	assert_int_equal(ssh_key_load_private(tmpdir, &k, err, sizeof(err)), -EISDIR);
	assert_null(k);
}

/* A container claiming two keys, and one whose public and private halves differ. */
static void test_container_checks(void **state)
{
	(void)state;
	size_t n1, n2;
	uint8_t *a = key_binary("ed25519", &n1);
	uint8_t *b = key_binary("other", &n2);
	char *text;

	/* magic(15) string "none"(8) string "none"(8) string ""(4) -> nkeys at 35 */
	a[38] = 2;
	text = armour("OPENSSH PRIVATE KEY", a, n1);
	expect_private_error(text, strlen(text), "key file holds 2 keys; alknet needs exactly one");
	free(text);
	a[38] = 1;

	/* public blob (4 + 51 bytes) follows nkeys: take the other key's */
	memcpy(a + 39, b + 39, 55);
	text = armour("OPENSSH PRIVATE KEY", a, n1);
	expect_private_error(text, strlen(text),
			     "public and private parts of the key do not match");
	free(text);

	/* check bytes after the private section's length */
	uint8_t *ab = key_binary("ed25519", &n1);
	ab[94 + 4] ^= 1;
	text = armour("OPENSSH PRIVATE KEY", ab, n1);
	expect_private_error(text, strlen(text), NULL);
	free(text);
	free(ab);
	free(a);
	free(b);
}

/* Every prefix of every decoded key and of the text, re-armoured, fails cleanly. */
static void test_truncated_private(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		size_t n, tlen;
		uint8_t *bin = key_binary(fixtures[i].file, &n);
		char *full = slurp(path(fixtures[i].file), &tlen);

		for (size_t l = 0; l < n; l++) {
			char *text = armour("OPENSSH PRIVATE KEY", bin, l);
			expect_private_error(text, strlen(text), NULL);
			free(text);
		}
		/* text prefixes that cut the END line or the body */
		for (size_t l = 0; l + 34 < tlen; l += (l < 100 ? 1 : 37)) {
			expect_private_error(full, l, NULL);
		}
		free(full);
		free(bin);
	}
}

/* Flipping any single byte never crashes; a key that still loads is the same key. */
static void test_bitflips_private(void **state)
{
	(void)state;
	const char *names[] = {"ed25519", "p256"};
	for (int f = 0; f < 2; f++) {
		struct ssh_key *orig = load(names[f]);
		size_t n;
		uint8_t *bin = key_binary(names[f], &n);
		for (size_t i = 0; i < n; i++) {
			struct ssh_key *k = NULL;
			char err[256];
			bin[i] ^= 0x41;
			char *text = armour("OPENSSH PRIVATE KEY", bin, n);
			if (ssh_key_parse_private(text, strlen(text), &k, err, sizeof(err)) == 0) {
				assert_true(ssh_key_equal(k, orig));
				ssh_key_free(k);
			}
			free(text);
			bin[i] ^= 0x41;
		}
		free(bin);
		ssh_key_free(orig);
	}
}

/* ---- public blobs and lines ---- */

static void test_blob_prefixes_and_flips(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		struct ssh_key *k = load(fixtures[i].file), *b = NULL;
		size_t len;
		const uint8_t *blob = ssh_key_blob(k, &len);
		uint8_t *copy = xmalloc(len + 1);

		memcpy(copy, blob, len);
		for (size_t l = 0; l < len; l++) {
			assert_int_equal(ssh_key_from_blob(copy, l, &b), -EINVAL);
		}
		copy[len] = 0;
		assert_int_equal(ssh_key_from_blob(copy, len + 1, &b), -EINVAL); /* trailing byte */
		for (size_t j = 0; j < len; j++) {
			copy[j] ^= 0x10;
			if (ssh_key_from_blob(copy, len, &b) == 0) {
				ssh_key_free(b);
			}
			copy[j] ^= 0x10;
		}
		free(copy);
		ssh_key_free(k);
	}
}

/* ECDSA points off the curve and wrong curve names are refused. */
static void test_blob_invalid_ecdsa(void **state)
{
	(void)state;
	struct ssh_key *k = load("p256"), *b = NULL;
	size_t len;
	const uint8_t *blob = ssh_key_blob(k, &len);
	uint8_t *copy = xmalloc(len);

	memcpy(copy, blob, len);
	copy[len - 1] ^= 1; /* Y off by one: not on the curve */
	assert_int_equal(ssh_key_from_blob(copy, len, &b), -EINVAL);
	copy[len - 1] ^= 1;
	copy[4 + 19 + 4 + 7] = '4'; /* "nistp254" */
	assert_int_equal(ssh_key_from_blob(copy, len, &b), -EINVAL);
	copy[4 + 19 + 4 + 7] = '6';
	copy[4 + 19 + 4 + 8 + 4] = 0x02; /* compressed point */
	assert_int_equal(ssh_key_from_blob(copy, len, &b), -EINVAL);
	free(copy);
	ssh_key_free(k);
}

static void test_parse_public_errors(void **state)
{
	(void)state;
	struct ssh_key *k = NULL, *e = load("ed25519");
	char err[128], line[512], b64[256];
	size_t len;
	const uint8_t *blob = ssh_key_blob(e, &len);

	EVP_EncodeBlock((unsigned char *)b64, blob, (int)len);
	assert_int_equal(ssh_key_parse_public("ssh-dss AAAA", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key type");
	assert_int_equal(ssh_key_parse_public("ssh-ed25519 AA*A", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad base64");
	assert_int_equal(ssh_key_parse_public("ssh-ed25519 AAA", &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad base64");
	snprintf(line, sizeof(line), "ssh-rsa %s comment", b64);
	assert_int_equal(ssh_key_parse_public(line, &k, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "key type does not match its data");
	snprintf(line, sizeof(line), "  \tssh-ed25519\t%s  some comment here\r\n", b64);
	assert_int_equal(ssh_key_parse_public(line, &k, err, sizeof(err)), 0);
	assert_true(ssh_key_equal(k, e));
	ssh_key_free(k);
	ssh_key_free(e);
}

/* ---- signatures ---- */

static const uint8_t msg[] = "the quick brown fox";

static void sign_verify(const struct ssh_key *k, const char *alg, const char *want_alg)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	struct sreader r;
	size_t an;

	assert_int_equal(ssh_key_sign(k, alg, msg, sizeof(msg), &sig, &siglen), 0);
	sreader_init(&r, sig, siglen);
	const uint8_t *a = sreader_string(&r, &an);
	assert_true(sreader_string_eq(a, an, want_alg));
	assert_int_equal(
		ssh_key_verify(k, want_alg, strlen(want_alg), sig, siglen, msg, sizeof(msg)), 0);
	/* different data */
	assert_int_equal(
		ssh_key_verify(k, want_alg, strlen(want_alg), sig, siglen, msg, sizeof(msg) - 1),
		-1);
	/* any flipped byte in the signature bytes, and every prefix */
	for (size_t i = 4 + an; i < siglen; i++) {
		sig[i] ^= 0x01;
		assert_int_equal(ssh_key_verify(k, want_alg, strlen(want_alg), sig, siglen, msg,
						sizeof(msg)),
				 -1);
		sig[i] ^= 0x01;
	}
	for (size_t l = 0; l < siglen; l++) {
		assert_int_equal(
			ssh_key_verify(k, want_alg, strlen(want_alg), sig, l, msg, sizeof(msg)),
			-1);
	}
	/* alg named in the request differs from the blob's */
	assert_int_equal(ssh_key_verify(k, "ssh-ed448", 9, sig, siglen, msg, sizeof(msg)), -1);
	free(sig);
}

static void test_sign_verify_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		struct ssh_key *k = load(fixtures[i].file);
		struct ssh_key *pub = load_pub(fixtures[i].file);
		uint8_t *sig;
		size_t siglen;

		if (fixtures[i].type == SSH_KEY_RSA) {
			sign_verify(k, NULL, "rsa-sha2-512");
			sign_verify(k, "rsa-sha2-256", "rsa-sha2-256");
			sign_verify(k, "rsa-sha2-512", "rsa-sha2-512");
			assert_int_equal(
				ssh_key_sign(k, "ssh-rsa", msg, sizeof(msg), &sig, &siglen), -1);
		} else {
			sign_verify(k, NULL, fixtures[i].name);
			assert_int_equal(ssh_key_sign(k, "rsa-sha2-256", msg, 3, &sig, &siglen),
					 -1);
		}
		/* a public-only key can verify but not sign */
		assert_int_equal(ssh_key_sign(pub, NULL, msg, sizeof(msg), &sig, &siglen), -1);
		assert_int_equal(ssh_key_sign(k, NULL, msg, sizeof(msg), &sig, &siglen), 0);
		const char *alg =
			fixtures[i].type == SSH_KEY_RSA ? "rsa-sha2-512" : fixtures[i].name;
		assert_int_equal(
			ssh_key_verify(pub, alg, strlen(alg), sig, siglen, msg, sizeof(msg)), 0);
		free(sig);
		ssh_key_free(pub);
		ssh_key_free(k);
	}
}

static void test_alg_ok(void **state)
{
	(void)state;
	struct ssh_key *r = load("rsa2048"), *e = load("ed25519"), *p = load("p384");

	assert_true(ssh_key_alg_ok(r, "rsa-sha2-256", 12));
	assert_true(ssh_key_alg_ok(r, "rsa-sha2-512", 12));
	assert_false(ssh_key_alg_ok(r, "ssh-rsa", 7));
	assert_false(ssh_key_alg_ok(r, "rsa-sha2-5", 10));
	assert_true(ssh_key_alg_ok(e, "ssh-ed25519", 11));
	assert_false(ssh_key_alg_ok(e, "ecdsa-sha2-nistp384", 19));
	assert_true(ssh_key_alg_ok(p, "ecdsa-sha2-nistp384", 19));
	assert_false(ssh_key_alg_ok(p, "ecdsa-sha2-nistp256", 19));
	ssh_key_free(r);
	ssh_key_free(e);
	ssh_key_free(p);
}

/* A signature made with an rsa-sha2-256 request can't be passed off as rsa-sha2-512. */
static void test_rsa_alg_confusion(void **state)
{
	(void)state;
	struct ssh_key *k = load("rsa2048");
	uint8_t *sig;
	size_t siglen;

	assert_int_equal(ssh_key_sign(k, "rsa-sha2-256", msg, sizeof(msg), &sig, &siglen), 0);
	assert_int_equal(ssh_key_verify(k, "rsa-sha2-512", 12, sig, siglen, msg, sizeof(msg)), -1);
	memcpy(sig + 4 + 9, "512", 3); /* relabel the blob */
	assert_int_equal(ssh_key_verify(k, "rsa-sha2-512", 12, sig, siglen, msg, sizeof(msg)), -1);
	free(sig);
	ssh_key_free(k);
}

/* OpenSSH drops leading zero bytes of an RSA signature on some paths; verify pads them back. */
static void test_rsa_short_signature(void **state)
{
	(void)state;
	struct ssh_key *k = load("rsa2048");
	int found = 0;

	for (uint32_t i = 0; i < 20000 && !found; i++) {
		uint8_t data[4], *sig;
		size_t siglen;
		put_u32be(data, i);
		assert_int_equal(ssh_key_sign(k, "rsa-sha2-256", data, 4, &sig, &siglen), 0);
		/* string alg (4 + 12), uint32 len, sig[256] */
		assert_int_equal(siglen, 16 + 4 + 256);
		if (sig[20] == 0) {
			found = 1;
			memmove(sig + 20, sig + 21, 255);
			put_u32be(sig + 16, 255);
			assert_int_equal(
				ssh_key_verify(k, "rsa-sha2-256", 12, sig, siglen - 1, data, 4), 0);
		}
		free(sig);
	}
	assert_true(found);
	ssh_key_free(k);
}

/* Signatures made by OpenSSL directly with the PEM key: rsa-sha2-256 verifies, a SHA-1
 * "ssh-rsa" signature is refused under any name. */
static void test_rsa_openssl_signatures(void **state)
{
	(void)state;
	FILE *f = fopen(path("pemrsa"), "r");
	EVP_PKEY *pkey;
	struct ssh_key *pub = load_pub("pemrsa");
	const char *mds[] = {"SHA256", "SHA1"};

	assert_non_null(f);
	assert_non_null(pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	for (int m = 0; m < 2; m++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		uint8_t raw[512];
		size_t rawlen = sizeof(raw);
		assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, mds[m], NULL, NULL, pkey, NULL),
				 1);
		assert_int_equal(EVP_DigestSign(ctx, raw, &rawlen, msg, sizeof(msg)), 1);
		EVP_MD_CTX_free(ctx);
		const char *names[] = {"rsa-sha2-256", "ssh-rsa"};
		for (int n = 0; n < 2; n++) {
			struct sbuf b = {0};
			sbuf_put_cstring(&b, names[n]);
			sbuf_put_string(&b, raw, rawlen);
			int want = (m == 0 && n == 0) ? 0 : -1;
			assert_int_equal(ssh_key_verify(pub, names[n], strlen(names[n]), b.data,
							b.len, msg, sizeof(msg)),
					 want);
			sbuf_free(&b);
		}
	}
	EVP_PKEY_free(pkey);
	ssh_key_free(pub);
}

/* ---- interop with ssh-keygen -Y (SSHSIG, see openssh PROTOCOL.sshsig) ---- */

/* The data an SSHSIG signature covers, for namespace "file" and sha512. */
static void sshsig_signed_data(struct sbuf *sd, const char *m, size_t mlen)
{
	uint8_t h[64];

	EVP_Digest(m, mlen, h, NULL, EVP_sha512(), NULL);
	sbuf_put(sd, "SSHSIG", 6);
	sbuf_put_cstring(sd, "file");
	sbuf_put_cstring(sd, "");
	sbuf_put_cstring(sd, "sha512");
	sbuf_put_string(sd, h, sizeof(h));
}

/* Our signature, wrapped as SSHSIG, verifies with ssh-keygen -Y check-novalidate. */
static void our_sig_ssh_keygen_checks(const char *file, const char *alg)
{
	struct ssh_key *k = load(file);
	struct sbuf sd = {0}, out = {0};
	size_t mlen, bloblen, siglen;
	char *m = slurp(path("msg"), &mlen);
	const uint8_t *blob = ssh_key_blob(k, &bloblen);
	uint8_t *sig;

	sshsig_signed_data(&sd, m, mlen);
	assert_int_equal(ssh_key_sign(k, alg, sd.data, sd.len, &sig, &siglen), 0);
	sbuf_put(&out, "SSHSIG", 6);
	sbuf_put_u32(&out, 1);
	sbuf_put_string(&out, blob, bloblen);
	sbuf_put_cstring(&out, "file");
	sbuf_put_cstring(&out, "");
	sbuf_put_cstring(&out, "sha512");
	sbuf_put_string(&out, sig, siglen);
	char *text = armour("SSH SIGNATURE", out.data, out.len);
	spew(path("our.sig"), text, strlen(text));
	run_ok("ssh-keygen -Y check-novalidate -n file -s %s < %s > /dev/null 2>&1",
	       path("our.sig"), path("msg"));
	/* and a tampered one is refused by ssh-keygen too */
	sig[siglen - 2] ^= 1;
	free(text);
	out.len -= siglen + 4;
	sbuf_put_string(&out, sig, siglen);
	text = armour("SSH SIGNATURE", out.data, out.len);
	spew(path("our.sig"), text, strlen(text));
	assert_int_not_equal(
		run("ssh-keygen -Y check-novalidate -n file -s %s < %s > /dev/null 2>&1",
		    path("our.sig"), path("msg")),
		0);
	free(text);
	free(sig);
	free(m);
	sbuf_free(&sd);
	sbuf_free(&out);
	ssh_key_free(k);
}

static void test_ssh_keygen_verifies_ours(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		if (fixtures[i].type == SSH_KEY_RSA) {
			our_sig_ssh_keygen_checks(fixtures[i].file, "rsa-sha2-256");
			our_sig_ssh_keygen_checks(fixtures[i].file, "rsa-sha2-512");
		} else {
			our_sig_ssh_keygen_checks(fixtures[i].file, NULL);
		}
	}
}

/* A signature made by ssh-keygen -Y sign verifies with ssh_key_verify. */
static void test_we_verify_ssh_keygen(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFIX; i++) {
		struct ssh_key *k = load_pub(fixtures[i].file);
		struct sbuf sd = {0};
		struct sreader r;
		size_t mlen, n, siglen, an, pn, x;

		run("rm -f %s.sig", path("msg"));
		run_ok("ssh-keygen -q -Y sign -f %s -n file %s > /dev/null 2>&1",
		       path(fixtures[i].file), path("msg"));
		char *m = slurp(path("msg"), &mlen);
		char *text = slurp(path("msg.sig"), NULL);
		char *b = strstr(text, "-----\n") + 6;
		uint8_t *bin = b64dec(b, (size_t)(strstr(b, "-----END") - b), &n);

		sreader_init(&r, bin, n);
		assert_memory_equal(sreader_bytes(&r, 6), "SSHSIG", 6);
		assert_int_equal(sreader_u32(&r), 1);
		sreader_string(&r, &pn);
		sreader_string(&r, &x);
		sreader_string(&r, &x);
		const uint8_t *hash = sreader_string(&r, &x);
		assert_true(sreader_string_eq(hash, x, "sha512"));
		const uint8_t *sig = sreader_string(&r, &siglen);
		assert_false(r.err);
		struct sreader sr;
		sreader_init(&sr, sig, siglen);
		const char *alg = (const char *)sreader_string(&sr, &an);
		sshsig_signed_data(&sd, m, mlen);
		assert_int_equal(ssh_key_verify(k, alg, an, sig, siglen, sd.data, sd.len), 0);
		sd.data[sd.len - 1] ^= 1;
		assert_int_equal(ssh_key_verify(k, alg, an, sig, siglen, sd.data, sd.len), -1);
		sbuf_free(&sd);
		free(bin);
		free(text);
		free(m);
		ssh_key_free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_matches_ssh_keygen),
		cmocka_unit_test(test_public_forms),
		cmocka_unit_test(test_equal_differs),
		cmocka_unit_test(test_encrypted_key),
		cmocka_unit_test(test_pem_keys),
		cmocka_unit_test(test_public_key_as_private),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_container_checks),
		cmocka_unit_test(test_truncated_private),
		cmocka_unit_test(test_bitflips_private),
		cmocka_unit_test(test_blob_prefixes_and_flips),
		cmocka_unit_test(test_blob_invalid_ecdsa),
		cmocka_unit_test(test_parse_public_errors),
		cmocka_unit_test(test_sign_verify_all),
		cmocka_unit_test(test_alg_ok),
		cmocka_unit_test(test_rsa_alg_confusion),
		cmocka_unit_test(test_rsa_short_signature),
		cmocka_unit_test(test_rsa_openssl_signatures),
		cmocka_unit_test(test_ssh_keygen_verifies_ours),
		cmocka_unit_test(test_we_verify_ssh_keygen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
