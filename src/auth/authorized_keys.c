/* OpenSSH authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE FORMAT").
 *
 * Loaded: "[OPTIONS] TYPE BASE64 [comment]" lines for the key types ssh/key.c supports, with
 * their options (authkeys_options.c); cert-authority lines are kept as CA entries. Skipped
 * with a warning naming file:line and a reason, never key material: options that don't parse
 * or that we don't know (fail closed), certificates listed as keys, unknown types, bad base64,
 * lines longer than AUTHKEYS_LINE_MAX. Blank lines and '#' comments are ignored; CRLF line
 * endings and a missing final newline are fine. */
#include "authorized_keys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../addrmatch.h"
#include "../file.h"
#include "../log.h"
#include "../ssh/key.h"
#include "authkeys_options.h"
#include "../xmalloc.h"

/* OpenSSH's own limit is 16 KiB per line (SSH_MAX_PUBKEY_BYTES is the blob size). */
#define AUTHKEYS_LINE_MAX    (16 * 1024)
#define AUTHKEYS_FILE_MAX    (4 * 1024 * 1024)
#define AUTHKEYS_CERT_SUFFIX "-cert-v01@openssh.com"

struct authkeys {
	struct authkeys_entry **entries; /* in file order */
	size_t count;
	size_t cap;
	size_t n_fps;
	char (*fps)[SSH_KEY_FP_LEN]; /* user keys' fingerprints, sorted (authkeys_contains_fp) */
	size_t n_ca_fps;
	char (*ca_fps)[SSH_KEY_FP_LEN]; /* cert-authority lines' CA keys, sorted */
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

static void authkeys_add(struct authkeys *a, struct authkeys_entry *e)
{
	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->entries = xrealloc(a->entries, a->cap * sizeof(*a->entries));
	}
	a->entries[a->count++] = e;
}

/* The key after the options (s: the key type onwards), into a new entry that takes opts
 * over. Warns and frees opts when the key doesn't load. */
static void authkeys_key(struct authkeys *a, const char *name, size_t lineno, const char *s,
			 struct authkeys_opts *opts)
{
	struct ssh_key *k = NULL;
	char reason[128];

	switch (authkeys_token_kind(s, strcspn(s, " \t"))) {
	case AUTHKEYS_KIND_KEY:
		if (ssh_key_parse_public(s, &k, reason, sizeof(reason)) == 0) {
			struct authkeys_entry *e = xcalloc(1, sizeof(*e));
			e->key = k;
			e->opts = *opts;
			e->line = lineno;
			authkeys_add(a, e);
			return;
		}
		log_warn("authorized_keys: %s:%zu: %s", name, lineno, reason);
		break;
	case AUTHKEYS_KIND_CERT:
		log_warn("authorized_keys: %s:%zu: a certificate is not a key for authorized_keys "
			 "(list its CA with cert-authority); line skipped",
			 name, lineno);
		break;
	case AUTHKEYS_KIND_UNSUPPORTED:
		log_warn("authorized_keys: %s:%zu: unsupported key type", name, lineno);
		break;
	case AUTHKEYS_KIND_NONE:
		log_warn("authorized_keys: %s:%zu: unknown key type", name, lineno);
		break;
	}
	authkeys_options_free(opts);
}

/* Handles one line (s is NUL-terminated, without its line ending): loads its key with its
 * options, or warns. A line whose first token is not a key type starts with options, as in
 * sshd; options that don't parse skip the line (fail closed). */
static void authkeys_line(struct authkeys *a, const char *name, size_t lineno, const char *s)
{
	struct authkeys_opts opts;
	char reason[128];

	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#') {
		return;
	}
	if (authkeys_token_kind(s, strcspn(s, " \t")) != AUTHKEYS_KIND_NONE) {
		authkeys_options_parse(s, 0, &opts, NULL, 0);
		authkeys_key(a, name, lineno, s, &opts);
		return;
	}
	const char *end = authkeys_skip_options(s);
	if (end == NULL) {
		log_warn("authorized_keys: %s:%zu: missing end quote in options; line skipped",
			 name, lineno);
		return;
	}
	const char *k = end + strspn(end, " \t");
	if (authkeys_token_kind(k, strcspn(k, " \t")) == AUTHKEYS_KIND_NONE) {
		log_warn("authorized_keys: %s:%zu: unknown key type", name, lineno);
		return;
	}
	if (authkeys_options_parse(s, (size_t)(end - s), &opts, reason, sizeof(reason)) != 0) {
		log_warn("authorized_keys: %s:%zu: bad options: %s; line skipped", name, lineno,
			 reason);
		authkeys_options_free(&opts);
		return;
	}
	authkeys_key(a, name, lineno, k, &opts);
}

static int fp_cmp(const void *x, const void *y)
{
	return strcmp(x, y);
}

/* The sorted fingerprint list of the user keys (not the CAs), for looking up keys of sessions
 * that logged in earlier. */
static void authkeys_index(struct authkeys *a)
{
	a->fps = xcalloc(a->count ? a->count : 1, sizeof(*a->fps));
	a->ca_fps = xcalloc(a->count ? a->count : 1, sizeof(*a->ca_fps));
	for (size_t i = 0; i < a->count; i++) {
		if (!a->entries[i]->opts.cert_authority)
			ssh_key_fingerprint(a->entries[i]->key, a->fps[a->n_fps++]);
		else
			ssh_key_fingerprint(a->entries[i]->key, a->ca_fps[a->n_ca_fps++]);
	}
	qsort(a->fps, a->n_fps, sizeof(*a->fps), fp_cmp);
	qsort(a->ca_fps, a->n_ca_fps, sizeof(*a->ca_fps), fp_cmp);
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

/* Compares against every entry of the kind without stopping early, so the time taken doesn't
 * tell which entry matched; the first matching line wins. */
static const struct authkeys_entry *authkeys_lookup(const struct authkeys *a,
						    const struct ssh_key *key, bool ca)
{
	const struct authkeys_entry *found = NULL;

	if (a == NULL || key == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < a->count; i++) {
		const struct authkeys_entry *e = a->entries[i];
		bool hit = ssh_key_equal(e->key, key) && e->opts.cert_authority == ca;
		if (hit && found == NULL) {
			found = e;
		}
	}
	return found;
}

const struct authkeys_entry *authkeys_find(const struct authkeys *a, const struct ssh_key *key)
{
	return authkeys_lookup(a, key, false);
}

const struct authkeys_entry *authkeys_find_ca(const struct authkeys *a,
					      const struct ssh_key *ca_key)
{
	return authkeys_lookup(a, ca_key, true);
}

bool authkeys_contains(const struct authkeys *a, const struct ssh_key *key)
{
	return authkeys_find(a, key) != NULL;
}

bool authkeys_contains_fp(const struct authkeys *a, const char *fp)
{
	return a && a->n_fps > 0 && bsearch(fp, a->fps, a->n_fps, sizeof(*a->fps), fp_cmp);
}

bool authkeys_contains_ca_fp(const struct authkeys *a, const char *fp)
{
	return a && a->n_ca_fps > 0 &&
	       bsearch(fp, a->ca_fps, a->n_ca_fps, sizeof(*a->ca_fps), fp_cmp);
}

const char *authkeys_entry_refusal(const struct authkeys_entry *e,
				   const struct sockaddr_storage *peer, int64_t now)
{
	if (e->opts.expiry != 0 && now > e->opts.expiry) {
		return "key expired";
	}
	if (e->opts.from != NULL && !addrmatch_patterns_match(e->opts.from, peer)) {
		return "source address not allowed by from=";
	}
	return NULL;
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
		ssh_key_free(a->entries[i]->key);
		authkeys_options_free(&a->entries[i]->opts);
		free(a->entries[i]);
	}
	free(a->entries);
	free(a->fps);
	free(a->ca_fps);
	free(a);
}
