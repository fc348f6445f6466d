/* OpenSSH authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE FORMAT").
 *
 * Loaded: "TYPE BASE64 [comment]" lines for the key types ssh/key.c supports. Skipped with a
 * warning naming file:line and a reason, never key material: lines with options (the
 * `restrict,command="..." TYPE BASE64` form), certificates and cert-authority lines, unknown
 * types, bad base64, lines longer than AUTHKEYS_LINE_MAX. Blank lines and '#' comments are
 * ignored; CRLF line endings and a missing final newline are fine. */
#include "authorized_keys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../file.h"
#include "../log.h"
#include "../ssh/key.h"
#include "../xmalloc.h"

/* OpenSSH's own limit is 16 KiB per line (SSH_MAX_PUBKEY_BYTES is the blob size). */
#define AUTHKEYS_LINE_MAX    (16 * 1024)
#define AUTHKEYS_FILE_MAX    (4 * 1024 * 1024)
#define AUTHKEYS_CERT_SUFFIX "-cert-v01@openssh.com"

struct authkeys {
	struct ssh_key **keys;
	size_t count;
	size_t cap;
	char (*fps)[SSH_KEY_FP_LEN]; /* the keys' fingerprints, sorted (authkeys_contains_fp) */
};

enum authkeys_kind {
	AUTHKEYS_KIND_NONE = 0,	       /* not a key type: options, or garbage */
	AUTHKEYS_KIND_KEY = 1,	       /* a type ssh/key.c loads */
	AUTHKEYS_KIND_CERT = 2,	       /* an OpenSSH certificate type */
	AUTHKEYS_KIND_UNSUPPORTED = 3, /* a key type we don't load (ssh-dss, sk-*) */
};

/* Classifies the token p[0..n) as a key type name. */
static enum authkeys_kind authkeys_token_kind(const char *p, size_t n)
{
	static const char *const known[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"ssh-rsa",
	};
	static const char *const unsupported[] = {
		"ssh-dss",
		"sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	size_t sl = strlen(AUTHKEYS_CERT_SUFFIX);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strlen(known[i]) == n && memcmp(p, known[i], n) == 0) {
			return AUTHKEYS_KIND_KEY;
		}
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (strlen(unsupported[i]) == n && memcmp(p, unsupported[i], n) == 0) {
			return AUTHKEYS_KIND_UNSUPPORTED;
		}
	}
	if (n > sl && memcmp(p + n - sl, AUTHKEYS_CERT_SUFFIX, sl) == 0) {
		return AUTHKEYS_KIND_CERT;
	}
	return AUTHKEYS_KIND_NONE;
}

/* Returns the end of the options field that starts at s: the first space or tab outside
 * double quotes, where \" inside quotes does not close them (as sshd parses it). NULL if a
 * quote is left open. */
static const char *authkeys_skip_options(const char *s)
{
	bool quoted = false;

	for (; *s != '\0' && (quoted || (*s != ' ' && *s != '\t')); s++) {
		if (s[0] == '\\' && s[1] == '"') {
			s++;
		} else if (*s == '"') {
			quoted = !quoted;
		}
	}
	return quoted ? NULL : s;
}

/* True if the options field s[0..n) holds the option `name` (case-insensitive, with or without
 * a value); commas inside quoted values don't split options. */
static bool authkeys_has_option(const char *s, size_t n, const char *name)
{
	size_t nl = strlen(name), start = 0;
	bool quoted = false;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] == '\\' && i + 1 < n && s[i + 1] == '"') {
			i++;
			continue;
		}
		if (i < n && s[i] == '"') {
			quoted = !quoted;
		}
		if (i == n || (!quoted && s[i] == ',')) {
			size_t len = i - start;
			if (len >= nl && strncasecmp(s + start, name, nl) == 0 &&
			    (len == nl || s[start + nl] == '=')) {
				return true;
			}
			start = i + 1;
		}
	}
	return false;
}

/* Explains a line whose first token is not a key type: an options line (skipped until options
 * are supported) or garbage. */
static void authkeys_warn_options(const char *name, size_t lineno, const char *s)
{
	const char *end = authkeys_skip_options(s);
	enum authkeys_kind kind = AUTHKEYS_KIND_NONE;

	if (end != NULL) {
		const char *t = end + strspn(end, " \t");
		kind = authkeys_token_kind(t, strcspn(t, " \t"));
	}
	if (kind == AUTHKEYS_KIND_NONE) {
		log_warn("authorized_keys: %s:%zu: unknown key type", name, lineno);
	} else if (kind == AUTHKEYS_KIND_CERT ||
		   authkeys_has_option(s, (size_t)(end - s), "cert-authority")) {
		log_warn("authorized_keys: %s:%zu: certificates and cert-authority are not "
			 "supported yet; line skipped",
			 name, lineno);
	} else {
		log_warn("authorized_keys: %s:%zu: key options are not supported yet; line skipped",
			 name, lineno);
	}
}

static void authkeys_add(struct authkeys *a, struct ssh_key *k)
{
	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->keys = xrealloc(a->keys, a->cap * sizeof(*a->keys));
	}
	a->keys[a->count++] = k;
}

/* Handles one line (s is NUL-terminated, without its line ending): loads its key or warns. */
static void authkeys_line(struct authkeys *a, const char *name, size_t lineno, const char *s)
{
	struct ssh_key *k = NULL;
	char reason[128];
	size_t tn;

	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#') {
		return;
	}
	tn = strcspn(s, " \t");
	switch (authkeys_token_kind(s, tn)) {
	case AUTHKEYS_KIND_KEY:
		if (ssh_key_parse_public(s, &k, reason, sizeof(reason)) == 0) {
			authkeys_add(a, k);
		} else {
			log_warn("authorized_keys: %s:%zu: %s", name, lineno, reason);
		}
		break;
	case AUTHKEYS_KIND_CERT:
		log_warn(
			"authorized_keys: %s:%zu: certificates are not supported yet; line skipped",
			name, lineno);
		break;
	case AUTHKEYS_KIND_UNSUPPORTED:
		log_warn("authorized_keys: %s:%zu: unsupported key type", name, lineno);
		break;
	case AUTHKEYS_KIND_NONE:
		authkeys_warn_options(name, lineno, s);
		break;
	}
}

static int fp_cmp(const void *x, const void *y)
{
	return strcmp(x, y);
}

/* The sorted fingerprint list, for looking up keys of sessions that logged in earlier. */
static void authkeys_index(struct authkeys *a)
{
	a->fps = xcalloc(a->count ? a->count : 1, sizeof(*a->fps));
	for (size_t i = 0; i < a->count; i++)
		ssh_key_fingerprint(a->keys[i], a->fps[i]);
	qsort(a->fps, a->count, sizeof(*a->fps), fp_cmp);
}

/* Splits text into lines (LF or CRLF) and hands each to authkeys_line. Never fails: bad lines
 * are warned about and skipped. */
int authkeys_parse(const char *name, const char *text, size_t len, struct authkeys **out)
{
	struct authkeys *a = xcalloc(1, sizeof(*a));
	size_t off = 0, lineno = 0;

	while (off < len) {
		const char *p = text + off;
		const char *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;

		off += n + (nl != NULL);
		lineno++;
		if (n > 0 && p[n - 1] == '\r') {
			n--;
		}
		if (n > AUTHKEYS_LINE_MAX) {
			log_warn("authorized_keys: %s:%zu: line too long; line skipped", name,
				 lineno);
		} else if (memchr(p, '\0', n) != NULL) {
			log_warn("authorized_keys: %s:%zu: NUL byte in line; line skipped", name,
				 lineno);
		} else {
			char *line = xstrndup(p, n);
			authkeys_line(a, name, lineno, line);
			free(line);
		}
	}
	authkeys_index(a);
	*out = a;
	return 0;
}

int authkeys_load(const char *path, struct authkeys **out)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int ret = file_read_small(path, AUTHKEYS_FILE_MAX, &text, &len);

	if (ret == 0) {
		ret = authkeys_parse(path, (const char *)text, len, out);
	}
	free(text); /* public keys only */
	return ret;
}

/* Compares against every loaded key without stopping early, so the time taken doesn't tell
 * which entry matched. */
bool authkeys_contains(const struct authkeys *a, const struct ssh_key *key)
{
	bool found = false;

	if (a == NULL || key == NULL) {
		return false;
	}
	for (size_t i = 0; i < a->count; i++) {
		found |= ssh_key_equal(a->keys[i], key);
	}
	return found;
}

bool authkeys_contains_fp(const struct authkeys *a, const char *fp)
{
	return a && a->count > 0 && bsearch(fp, a->fps, a->count, sizeof(*a->fps), fp_cmp);
}

size_t authkeys_count(const struct authkeys *a)
{
	return a ? a->count : 0;
}

void authkeys_free(struct authkeys *a)
{
	if (a == NULL) {
		return;
	}
	for (size_t i = 0; i < a->count; i++) {
		ssh_key_free(a->keys[i]);
	}
	free(a->keys);
	free(a->fps);
	free(a);
}
