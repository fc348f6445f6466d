/* OpenSSH user certificates: the trusted CA keys of --cert-authority (OpenSSH's
 * TrustedUserCAKeys format: one public key a line, '#' comments), and the check that decides
 * whether a parsed certificate (ssh/key_cert.h) may log in: the CA's signature, type user,
 * the validity window against the clock, the principals, the critical options. What it grants
 * comes back in a struct cert_grant.
 *
 * Ownership: cert_cas_parse/cert_cas_load give the caller a set it frees with cert_cas_free;
 * a settings snapshot owns the one of --cert-authority. The checks only read. */
#ifndef ALKNET_AUTH_CERT_H
#define ALKNET_AUTH_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ssh_cert;
struct ssh_key;
struct cert_cas;

/* Parses a CA key file held in text[0..len). Any line that is not blank, a comment or a plain
 * public key ("TYPE BASE64 [comment]") fails the whole file (a trust anchor file is not
 * guessed at): -EINVAL with "NAME:LINE: reason" in err. 0 and *out otherwise. */
int cert_cas_parse(const char *name, const char *text, size_t len, struct cert_cas **out, char *err,
		   size_t errlen);
/* The same on a file: also -errno when it can't be read (err says so). */
int cert_cas_load(const char *path, struct cert_cas **out, char *err, size_t errlen);
/* The trusted CA key equal to k, or NULL. NULL cas holds none. */
const struct ssh_key *cert_cas_find(const struct cert_cas *cas, const struct ssh_key *k);
/* Whether a CA key with this fingerprint (ssh_key_fingerprint) is trusted. */
bool cert_cas_contains_fp(const struct cert_cas *cas, const char *fp);
size_t cert_cas_count(const struct cert_cas *cas);
void cert_cas_free(struct cert_cas *cas);

/* What a login is checked against. */
struct cert_ctx {
	const char *user;		     /* the SSH user name */
	const struct sockaddr_storage *peer; /* the client's address (source-address) */
	uint64_t now;			     /* seconds since the epoch */
	unsigned skew;			     /* --cert-clock-skew: slack either side */
};

/* What an accepted certificate allows (and notes for the log). */
struct cert_grant {
	bool port_forwarding; /* permit-port-forwarding: direct-tcpip channels */
	bool force_command; /* force-command was set: accepted, nothing to run (alknet runs none) */
};

/* Checks certificate c against the CA key ca the caller trusts (from cert_cas_find, or a
 * cert-authority line of authorized_keys), in this order: c is signed by ca (same key, valid
 * signature), is a user certificate, ctx->now lies in [valid_after - skew, valid_before +
 * skew), it names principals and one of them is ctx->user, or, when principals is not NULL
 * (a cert-authority line's principals="..."), one of principals[0..n); its critical options
 * are all known and met: source-address holds ctx->peer; force-command is accepted (noted in
 * grant). Anything else (verify-required included: it needs FIDO keys) refuses. Returns
 * NULL and fills grant, or a short fixed reason ("certificate expired", ...). */
const char *cert_check(const struct ssh_cert *c, const struct ssh_key *ca,
		       const char *const *principals, size_t n, const struct cert_ctx *ctx,
		       struct cert_grant *grant);

#endif
