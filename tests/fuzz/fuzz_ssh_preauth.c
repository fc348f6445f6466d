/* The SSH engine as a fresh connection sees it: arbitrary bytes from an unauthenticated peer.
 * Covers the identification line, the binary packet framing before keys, KEXINIT negotiation,
 * KEX_ECDH_INIT with every key exchange method (a real exchange and host key signature when
 * the input holds a valid C_INIT, as the captured OpenSSH seeds and the kex-* seeds do), and
 * whatever follows the first NEWKEYS (which fails the MAC, since the server's keys are fresh each
 * run).
 *
 * The input is fed in pieces of 1, 2, 3, 5, 8, ... bytes (a fixed cycle, so a run is
 * reproducible), pulling events after each piece: every "need more input" path runs. Auth
 * requests are rejected, channel opens refused, output is consumed as a socket would. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "ssh/kex_methods.h"
#include "ssh/ssh.h"

static struct ssh_key *host_keys[3];
static struct ssh_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	host_keys[0] = fuzz_load_key(fuzz_host_ed25519);
	host_keys[1] = fuzz_load_key(fuzz_host_ecdsa256);
	host_keys[2] = fuzz_load_key(fuzz_host_rsa1024);
	cfg.host_keys = host_keys;
	cfg.n_host_keys = 3;
	cfg.crypto = ssh_crypto_new(); /* one for the process, as a server has one per loop */
	cfg.kex_algorithms = KEX_SUPPORTED_LIST; /* the finite-field groups too */
	return 0;
}

/* Pulls every ready event and answers it the way a strict server would. Returns false once
 * the session is over. */
static bool drain(struct ssh *s)
{
	struct ssh_event ev;
	int guard = 0;

	while (ssh_next_event(s, &ev)) {
		FUZZ_CHECK(++guard < 100000);
		switch (ev.type) {
		case SSH_EV_AUTH_REQUEST:
			/* A host that knows no key: rejected without a signature check. */
			FUZZ_CHECK(ev.user != NULL && ev.key != NULL);
			ssh_auth_reject(s);
			FUZZ_CHECK(!ssh_auth_verify(s)); /* answered: nothing pending */
			break;
		case SSH_EV_AUTH_REFUSED:
			FUZZ_CHECK(ev.user != NULL && ev.method != NULL && ev.text != NULL);
			break;
		case SSH_EV_CHANNEL_OPEN:
			/* Unreachable before authentication; answered anyway. */
			ssh_channel_refuse(s, ev.ch, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "no");
			break;
		case SSH_EV_DISCONNECT:
			FUZZ_CHECK(ev.text != NULL);
			FUZZ_CHECK(ssh_closed(s));
			return false;
		default:
			break;
		}
	}
	size_t n;
	const uint8_t *out = ssh_out_data(s, &n);
	if (n > 0) {
		volatile uint8_t sink =
			out[0] ^ out[n - 1]; /* ASan checks the whole range is ours */
		(void)sink;
		ssh_out_consume(s, n);
	}
	FUZZ_CHECK(!ssh_authenticated(s));
	return !ssh_closed(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t steps[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 4096};
	struct ssh *s = ssh_new(&cfg);
	size_t off = 0, i = 0;

	/* The banner and our KEXINIT are queued at once. */
	size_t n;
	ssh_out_data(s, &n);
	FUZZ_CHECK(n > 0);
	while (off < size) {
		size_t step = steps[i++ % (sizeof(steps) / sizeof(steps[0]))];
		if (step > size - off)
			step = size - off;
		ssh_feed(s, data + off, step);
		off += step;
		if (!drain(s))
			break;
	}
	drain(s);
	ssh_free(s);
	return 0;
}
