/* The test client's message builders (RFC 4252, RFC 4254) and test keys; see sshtest_client.h. */
#include "sshtest_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- message builders ---- */

void tc_service_request(struct tc *c, const char *name)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_SERVICE_REQUEST);
	sbuf_put_cstring(&b, name);
	tc_send_sbuf(c, &b);
}

static void tc_auth_head(struct sbuf *b, const char *user, const char *method)
{
	sbuf_put_u8(b, TC_USERAUTH_REQUEST);
	sbuf_put_cstring(b, user);
	sbuf_put_cstring(b, "ssh-connection");
	sbuf_put_cstring(b, method);
}

void tc_auth_none(struct tc *c, const char *user)
{
	struct sbuf b = {0};

	tc_auth_head(&b, user, "none");
	tc_send_sbuf(c, &b);
}

void tc_auth_password(struct tc *c, const char *user, const char *password)
{
	struct sbuf b = {0};

	tc_auth_head(&b, user, "password");
	sbuf_put_u8(&b, 0);
	sbuf_put_cstring(&b, password);
	tc_send_sbuf(c, &b);
}

static const char *tc_default_alg(const struct ssh_key *k)
{
	return ssh_key_type(k) == SSH_KEY_RSA ? "rsa-sha2-512" : ssh_key_type_name(k);
}

void tc_auth_query(struct tc *c, const char *user, const struct ssh_key *k, const char *alg)
{
	struct sbuf b = {0};
	size_t bl;
	const uint8_t *blob = ssh_key_blob(k, &bl);

	tc_auth_head(&b, user, "publickey");
	sbuf_put_u8(&b, 0);
	sbuf_put_cstring(&b, alg ? alg : tc_default_alg(k));
	sbuf_put_string(&b, blob, bl);
	tc_send_sbuf(c, &b);
}

void tc_auth_sign_data(struct tc *c, struct sbuf *out, const char *user, const char *alg,
		       const uint8_t *blob, size_t bloblen)
{
	sbuf_put_string(out, c->session_id, c->session_id_len);
	tc_auth_head(out, user, "publickey");
	sbuf_put_u8(out, 1);
	sbuf_put_cstring(out, alg);
	sbuf_put_string(out, blob, bloblen);
}

void tc_auth_signed(struct tc *c, const char *user, const struct ssh_key *k, const char *alg)
{
	struct sbuf data = {0}, b = {0};
	size_t bl, siglen;
	uint8_t *sig = NULL;
	const uint8_t *blob = ssh_key_blob(k, &bl);

	alg = alg ? alg : tc_default_alg(k);
	tc_auth_sign_data(c, &data, user, alg, blob, bl);
	if (ssh_key_sign(k, alg, data.data, data.len, &sig, &siglen) != 0) {
		tc_fail(c, "ssh_key_sign failed");
		sbuf_free(&data);
		return;
	}
	/* The request is the signed data without the leading session id string. */
	sbuf_put(&b, data.data + 4 + c->session_id_len, data.len - 4 - c->session_id_len);
	sbuf_put_string(&b, sig, siglen);
	free(sig);
	sbuf_free(&data);
	tc_send_sbuf(c, &b);
}

void tc_global_request(struct tc *c, const char *name, bool want_reply)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_GLOBAL_REQUEST);
	sbuf_put_cstring(&b, name);
	sbuf_put_u8(&b, want_reply);
	tc_send_sbuf(c, &b);
}

void tc_open_type(struct tc *c, const char *type, uint32_t sender, uint32_t window,
		  uint32_t maxpacket)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_OPEN);
	sbuf_put_cstring(&b, type);
	sbuf_put_u32(&b, sender);
	sbuf_put_u32(&b, window);
	sbuf_put_u32(&b, maxpacket);
	tc_send_sbuf(c, &b);
}

void tc_open_direct(struct tc *c, uint32_t sender, uint32_t window, uint32_t maxpacket,
		    const char *host, uint32_t port, const char *orig, uint32_t orig_port)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_OPEN);
	sbuf_put_cstring(&b, "direct-tcpip");
	sbuf_put_u32(&b, sender);
	sbuf_put_u32(&b, window);
	sbuf_put_u32(&b, maxpacket);
	sbuf_put_cstring(&b, host);
	sbuf_put_u32(&b, port);
	sbuf_put_cstring(&b, orig);
	sbuf_put_u32(&b, orig_port);
	tc_send_sbuf(c, &b);
}

void tc_data(struct tc *c, uint32_t recipient, const void *p, size_t n)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_DATA);
	sbuf_put_u32(&b, recipient);
	sbuf_put_string(&b, p, n);
	tc_send_sbuf(c, &b);
}

void tc_ext_data(struct tc *c, uint32_t recipient, uint32_t code, const void *p, size_t n)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_EXTENDED_DATA);
	sbuf_put_u32(&b, recipient);
	sbuf_put_u32(&b, code);
	sbuf_put_string(&b, p, n);
	tc_send_sbuf(c, &b);
}

void tc_window_adjust(struct tc *c, uint32_t recipient, uint32_t n)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_WINDOW_ADJUST);
	sbuf_put_u32(&b, recipient);
	sbuf_put_u32(&b, n);
	tc_send_sbuf(c, &b);
}

static void tc_chan_msg(struct tc *c, uint8_t msg, uint32_t recipient)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, msg);
	sbuf_put_u32(&b, recipient);
	tc_send_sbuf(c, &b);
}

void tc_eof(struct tc *c, uint32_t recipient)
{
	tc_chan_msg(c, TC_CHANNEL_EOF, recipient);
}

void tc_close(struct tc *c, uint32_t recipient)
{
	tc_chan_msg(c, TC_CHANNEL_CLOSE, recipient);
}

void tc_channel_request(struct tc *c, uint32_t recipient, const char *name, bool want_reply)
{
	tc_channel_request_data(c, recipient, name, want_reply, NULL, 0);
}

void tc_channel_request_data(struct tc *c, uint32_t recipient, const char *name, bool want_reply,
			     const void *data, size_t len)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_CHANNEL_REQUEST);
	sbuf_put_u32(&b, recipient);
	sbuf_put_cstring(&b, name);
	sbuf_put_u8(&b, want_reply);
	sbuf_put(&b, data, len);
	tc_send_sbuf(c, &b);
}

void tc_ignore(struct tc *c, size_t n)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_IGNORE);
	sbuf_put_u32(&b, (uint32_t)n);
	memset(sbuf_append_space(&b, n), 'i', n);
	tc_send_sbuf(c, &b);
}

void tc_debug(struct tc *c)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, TC_DEBUG);
	sbuf_put_u8(&b, 0);
	sbuf_put_cstring(&b, "debug message");
	sbuf_put_cstring(&b, "");
	tc_send_sbuf(c, &b);
}

/* ---- keys ---- */

struct ssh_key *tc_ed25519_key(const uint8_t seed[32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	uint8_t pub[32];
	size_t publen = 32;
	struct sbuf blob = {0}, priv = {0}, file = {0}, text = {0};
	struct ssh_key *k = NULL;
	char err[128];

	if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1)
		goto out;
	sbuf_put_cstring(&blob, "ssh-ed25519");
	sbuf_put_string(&blob, pub, 32);
	/* PROTOCOL.key: the unencrypted private section, padded to 8 with 1, 2, 3, ... */
	sbuf_put_u32(&priv, 0x5eed5eed);
	sbuf_put_u32(&priv, 0x5eed5eed);
	sbuf_put_cstring(&priv, "ssh-ed25519");
	sbuf_put_string(&priv, pub, 32);
	sbuf_put_u32(&priv, 64);
	sbuf_put(&priv, seed, 32);
	sbuf_put(&priv, pub, 32);
	sbuf_put_cstring(&priv, "sshtest");
	for (uint8_t i = 1; priv.len % 8 != 0; i++)
		sbuf_put_u8(&priv, i);
	sbuf_put(&file, "openssh-key-v1", 15);
	sbuf_put_cstring(&file, "none");
	sbuf_put_cstring(&file, "none");
	sbuf_put_cstring(&file, "");
	sbuf_put_u32(&file, 1);
	sbuf_put_string(&file, blob.data, blob.len);
	sbuf_put_string(&file, priv.data, priv.len);

	char *b64 = malloc(file.len * 4 / 3 + 8);
	int b64len = EVP_EncodeBlock((unsigned char *)b64, file.data, (int)file.len);
	const char *head = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
	sbuf_put(&text, head, strlen(head));
	for (int i = 0; i < b64len; i += 70) {
		sbuf_put(&text, b64 + i, (size_t)(b64len - i < 70 ? b64len - i : 70));
		sbuf_put_u8(&text, '\n');
	}
	const char *tail = "-----END OPENSSH PRIVATE KEY-----\n";
	sbuf_put(&text, tail, strlen(tail));
	free(b64);
	if (ssh_key_parse_private((const char *)text.data, text.len, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "tc_ed25519_key: %s\n", err);
		k = NULL;
	}
out:
	EVP_PKEY_free(pk);
	sbuf_free(&blob);
	sbuf_free(&priv);
	sbuf_free(&file);
	sbuf_free(&text);
	return k;
}
