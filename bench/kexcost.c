/* bench/kexcost: the server's CPU per key exchange, method by method, in-process (issue 16).
 *
 *   make build/bench/kexcost && build/bench/kexcost [N] [METHOD...]
 *
 * For each method (default: every supported one), N sessions (default 200; 20 for the
 * 4096- and 8192-bit groups) each run a first key exchange between a fresh engine (src/ssh/,
 * sharing one libcrypto cache like the sessions of a loop, an Ed25519 host key) and the unit
 * tests' client (tests/unit/sshtest_client.h), up to both NEWKEYS. Only the engine's calls are
 * timed, on the thread's CPU clock: ssh_new, feeding it the client's bytes, its events and
 * output, ssh_free. No sockets, so this is the key exchange's own cost (our KEXINIT, the
 * method's server side, the exchange hash, the host key signature, key derivation); a real
 * session adds the login (one signature check) and the kernel's share of the connection.
 *
 * Also printed: the libcrypto calls one ML-KEM-768 encapsulation makes that a per-loop cache
 * could save (fetching SHA3-256, SHA3-512, SHAKE128, SHAKE256 and a digest context), timed the
 * same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ssh/kex_methods.h"
#include "ssh/key.h"
#include "ssh/mlkem768.h"
#include "ssh/ssh.h"
#include "sshtest_client.h"

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One first key exchange; returns the engine's CPU seconds, or -1 if it failed. */
static double one_session(const struct ssh_config *cfg, const char *method)
{
	char kex[128];
	struct tc_opts o = {.kex = kex};
	struct tc c;
	struct ssh_event ev;
	double t = 0, t0 = cpu_now();
	struct ssh *s = ssh_new(cfg);

	t += cpu_now() - t0;
	snprintf(kex, sizeof(kex), "%s,ext-info-c,kex-strict-c-v00@openssh.com", method);
	tc_init(&c, &o, NULL);
	tc_start(&c);
	for (int i = 0; i < 50 && c.kex_count == 0 && c.err[0] == '\0'; i++) {
		size_t n;
		t0 = cpu_now();
		ssh_feed(s, c.out.data, c.out.len);
		while (ssh_next_event(s, &ev))
			;
		const uint8_t *out = ssh_out_data(s, &n);
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, out, n);
		ssh_out_consume(s, n);
		t += cpu_now() - t0;
		tc_out_consume(&c, c.out.len);
		tc_input(&c, copy, n);
		free(copy);
	}
	bool ok = c.kex_count == 1 && c.err[0] == '\0' && !ssh_closed(s);
	t0 = cpu_now();
	ssh_free(s);
	t += cpu_now() - t0;
	tc_free(&c);
	return ok ? t : -1;
}

static int run_method(const struct ssh_config *cfg, const char *method, int n)
{
	double sum = 0;

	if (strstr(method, "group16") || strstr(method, "group18"))
		n = n < 20 ? n : 20;
	for (int i = 0; i < 3; i++) /* warm-up: fills the libcrypto cache */
		if (one_session(cfg, method) < 0) {
			fprintf(stderr, "%s: the key exchange failed\n", method);
			return -1;
		}
	for (int i = 0; i < n; i++) {
		double t = one_session(cfg, method);
		if (t < 0)
			return -1;
		sum += t;
	}
	printf("%-36s %4d sessions  %7.3f ms engine CPU per key exchange\n", method, n,
	       sum / n * 1e3);
	return 0;
}

/* What mlkem768_encaps spends on libcrypto look-ups per call. */
static void fetch_cost(int n)
{
	static const char *const names[] = {"SHA3-256", "SHA3-512", "SHAKE128", "SHAKE256"};
	double t0 = cpu_now();

	for (int i = 0; i < n; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		for (int j = 0; j < 4; j++)
			EVP_MD_free(EVP_MD_fetch(NULL, names[j], NULL));
		EVP_MD_CTX_free(ctx);
	}
	printf("%-36s %4d calls     %7.3f ms per encapsulation\n", "ML-KEM digest fetches", n,
	       (cpu_now() - t0) / n * 1e3);
}

int main(int argc, char **argv)
{
	static const uint8_t seed[32] = {1, 2, 3};
	struct ssh_key *hk = tc_ed25519_key(seed);
	struct ssh_key *keys[1] = {hk};
	struct ssh_config cfg = {.host_keys = keys,
				 .n_host_keys = 1,
				 .crypto = ssh_crypto_new(),
				 .kex_algorithms = KEX_SUPPORTED_LIST};
	int n = argc > 1 ? atoi(argv[1]) : 200;
	int rc = 0;

	if (hk == NULL || n <= 0)
		return 2;
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			rc |= run_method(&cfg, argv[i], n);
	} else {
		char *list = strdup(KEX_SUPPORTED_LIST);
		for (char *m = strtok(list, ","); m; m = strtok(NULL, ","))
			rc |= run_method(&cfg, m, n);
		free(list);
	}
	fetch_cost(1000);
	ssh_crypto_free(cfg.crypto);
	ssh_key_free(hk);
	return rc ? 1 : 0;
}
