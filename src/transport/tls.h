/* TLS below SSH (--transport tls): a transport layered over another one (TCP, or TCP behind a
 * PROXY header), with OpenSSL doing the records through a BIO that reads and writes the lower
 * transport. SSH bytes are the TLS application data. */
#ifndef ALKNET_TRANSPORT_TLS_H
#define ALKNET_TRANSPORT_TLS_H

#include <openssl/ssl.h>

#include "transport.h"

struct loop;

/* The server context for --tls-cert (a PEM chain, leaf first) and --tls-key: TLS 1.2 and 1.3
 * only, forward-secret AEAD suites, no compression, no renegotiation, no session tickets
 * kept across reloads. NULL with a reason in err. */
SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Takes lower over (closed with it) and starts the server handshake; the owner's callback is
 * set afterwards (tr->cb/ctx). addr names the client in the handshake-failure log line.
 * The first callback comes once the handshake is done. */
struct transport *transport_tls_new(struct loop *l, struct transport *lower, SSL_CTX *ctx,
				    const char *addr);

#endif
