#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrmatch.h"
#include "alglist.h"
#include "config_file.h"
#include "diag.h"
#include "file.h"
#include "net.h"
#include "penalty.h"
#include "proxy/proxy_url.h"
#include "ssh/ssh.h"
#include "xmalloc.h"

#ifndef ALKNET_VERSION
#define ALKNET_VERSION "0"
#endif

enum {
	OPT_KEY = 256,
	OPT_AUTHKEYS,
	OPT_LISTEN,
	OPT_CONNECT_TIMEOUT,
	OPT_MAX_AUTH,
	OPT_MAX_PER_IP,
	OPT_GRACE,
	OPT_DRAIN,
	OPT_LOG_LEVEL,
	OPT_PROXY,
	OPT_PROXY_FILE,
	OPT_PROXY_TIMEOUT,
	OPT_MAX_STARTUPS,
	OPT_PER_SOURCE_STARTUPS,
	OPT_MAX_CHANNELS,
	OPT_MAX_CHANNELS_USER,
	OPT_MAX_PENDING,
	OPT_ALIVE_INTERVAL,
	OPT_ALIVE_COUNT,
	OPT_CHANNEL_IDLE,
	OPT_WINDOW,
	OPT_PENALTY,
	OPT_PENALTY_EXEMPT,
	OPT_SOURCE_PREFIX,
	OPT_USER,
	OPT_SANDBOX,
	OPT_TRANSPORT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_STEALTH,
	OPT_POLICY,
	OPT_DENY_PRIVATE,
	OPT_PROXY_PROTOCOL,
	OPT_PROXY_PROTOCOL_FROM,
	OPT_CERT_AUTHORITY,
	OPT_CERT_SKEW,
	OPT_REVOKED_KEYS,
	OPT_KEX_ALGS, /* the four lists in enum ssh_alg_kind's order */
	OPT_CIPHERS,
	OPT_MACS,
	OPT_HOSTKEY_ALGS,
	OPT_CONTROL,
	OPT_CONTROL_MAX_FRAME,
	OPT_CONTROL_MAX_QUEUE,
	OPT_LAST_SETTING, /* the options above may be set in the file too */
	OPT_CONFIG,
	OPT_CHECK,
	OPT_HELP,
	OPT_VERSION,
};

#define CONFIG_N_SETTINGS (OPT_LAST_SETTING - OPT_KEY)

static const struct option options[] = {
	{"key", required_argument, NULL, OPT_KEY},
	{"authorized-keys", required_argument, NULL, OPT_AUTHKEYS},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"max-auth-attempts", required_argument, NULL, OPT_MAX_AUTH},
	{"max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
	{"login-grace-time", required_argument, NULL, OPT_GRACE},
	{"drain-timeout", required_argument, NULL, OPT_DRAIN},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"proxy", required_argument, NULL, OPT_PROXY},
	{"proxy-file", required_argument, NULL, OPT_PROXY_FILE},
	{"proxy-timeout", required_argument, NULL, OPT_PROXY_TIMEOUT},
	{"max-startups", required_argument, NULL, OPT_MAX_STARTUPS},
	{"per-source-max-startups", required_argument, NULL, OPT_PER_SOURCE_STARTUPS},
	{"max-channels", required_argument, NULL, OPT_MAX_CHANNELS},
	{"max-channels-per-user", required_argument, NULL, OPT_MAX_CHANNELS_USER},
	{"max-pending-connects", required_argument, NULL, OPT_MAX_PENDING},
	{"unauth-timeout", required_argument, NULL, OPT_GRACE},
	{"client-alive-interval", required_argument, NULL, OPT_ALIVE_INTERVAL},
	{"client-alive-count-max", required_argument, NULL, OPT_ALIVE_COUNT},
	{"channel-idle-timeout", required_argument, NULL, OPT_CHANNEL_IDLE},
	{"window-size", required_argument, NULL, OPT_WINDOW},
	{"per-source-penalty", required_argument, NULL, OPT_PENALTY},
	{"per-source-penalty-exempt", required_argument, NULL, OPT_PENALTY_EXEMPT},
	{"per-source-prefix", required_argument, NULL, OPT_SOURCE_PREFIX},
	{"user", required_argument, NULL, OPT_USER},
	{"transport", required_argument, NULL, OPT_TRANSPORT},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"stealth", no_argument, NULL, OPT_STEALTH}, /* in the file: stealth on|off */
	{"sandbox", required_argument, NULL, OPT_SANDBOX},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"deny-private", optional_argument, NULL, OPT_DENY_PRIVATE},
	{"proxy-protocol", required_argument, NULL, OPT_PROXY_PROTOCOL},
	{"proxy-protocol-from", required_argument, NULL, OPT_PROXY_PROTOCOL_FROM},
	{"cert-authority", required_argument, NULL, OPT_CERT_AUTHORITY},
	{"cert-clock-skew", required_argument, NULL, OPT_CERT_SKEW},
	{"revoked-keys", required_argument, NULL, OPT_REVOKED_KEYS},
	{"kex-algorithms", required_argument, NULL, OPT_KEX_ALGS},
	{"ciphers", required_argument, NULL, OPT_CIPHERS},
	{"macs", required_argument, NULL, OPT_MACS},
	{"host-key-algorithms", required_argument, NULL, OPT_HOSTKEY_ALGS},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"control-max-frame", required_argument, NULL, OPT_CONTROL_MAX_FRAME},
	{"control-max-queue", required_argument, NULL, OPT_CONTROL_MAX_QUEUE},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"check", no_argument, NULL, OPT_CHECK},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Where a value came from, for messages: the command line, or FILE:LINE. */
struct cfg_src {
	struct diag *d;
	const char *file; /* NULL: the command line */
	unsigned line;
};

/* "--name: MESSAGE" or "FILE:LINE: name: MESSAGE". */
static int __attribute__((format(printf, 3, 4)))
cfg_fail(const struct cfg_src *src, const char *opt, const char *fmt, ...)
{
	char msg[DIAG_MSG_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (src->file)
		diag_error(src->d, "%s:%u: %s: %s", src->file, src->line, opt, msg);
	else
		diag_error(src->d, "--%s: %s", opt, msg);
	return -1;
}

/* Whole non-negative decimal number within [min, max]. */
static int parse_uint(const struct cfg_src *src, const char *opt, const char *s, unsigned min,
		      unsigned max, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < min || v > max)
		return cfg_fail(src, opt, "'%s' is not a number from %u to %u", s, min, max);
	*out = (unsigned)v;
	return 0;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_s = 10;
	cfg->max_auth_attempts = 10;
	cfg->login_grace_time_s = 30;
	cfg->drain_timeout_s = 2;
	cfg->log_level = LOG_INFO;
	cfg->sandbox = true;
	cfg->proxy_timeout_s = 10;
	cfg->startups_begin = 100;
	cfg->startups_rate = 30;
	cfg->startups_full = 1000;
	cfg->per_source_startups = 10;
	cfg->max_channels = 1024;
	cfg->max_channels_per_user = 4096;
	cfg->max_pending_connects = 128;
	cfg->client_alive_interval_s = 60;
	cfg->client_alive_count_max = 3;
	cfg->channel_idle_timeout_s = 0;
	cfg->window_size = 2 * 1024 * 1024;
	penalty_cfg_default(&cfg->penalty);
	cfg->source_prefix4 = 32;
	cfg->source_prefix6 = 64;
	cfg->control_allow = false;
	cfg->control_max_frame = 1024 * 1024;
	cfg->control_max_queue = 4 * 1024 * 1024;
}

/* "N" (refuse beyond N) or "start:rate:full" with start <= full and rate <= 100. */
static int parse_startups(const struct cfg_src *src, const char *s, struct config *cfg)
{
	unsigned a, r, f;
	char tail;

	if (sscanf(s, "%u:%u:%u%c", &a, &r, &f, &tail) == 3 && a >= 1 && a <= f && r <= 100 &&
	    f <= 1000000 && strspn(s, "0123456789:") == strlen(s)) {
		cfg->startups_begin = a;
		cfg->startups_rate = r;
		cfg->startups_full = f;
		return 0;
	}
	if (strchr(s, ':') == NULL && parse_uint(src, "max-startups", s, 1, 1000000, &f) == 0) {
		cfg->startups_begin = cfg->startups_full = f;
		cfg->startups_rate = 100;
		return 0;
	}
	if (strchr(s, ':') == NULL)
		return -1; /* parse_uint said why */
	return cfg_fail(src, "max-startups", "'%s' is not N or start:rate:full (e.g. 10:30:100)",
			s);
}

/* One more listen address. The first --listen on the command line replaces the file's. */
static int add_listen(const struct cfg_src *src, const char *s, struct config *cfg)
{
	if (src->file == NULL && !cfg->listen_from_cli) {
		cfg->listen_from_cli = true;
		cfg->n_listen = 0;
	}
	if (cfg->n_listen == CONFIG_MAX_LISTEN)
		return cfg_fail(src, "listen", "more than %d addresses", CONFIG_MAX_LISTEN);
	struct config_listen *l = &cfg->listen[cfg->n_listen];
	if (net_parse_addr(s, &l->addr, &l->len) != 0)
		return cfg_fail(src, "listen", "'%s' is not ADDR:PORT (e.g. 0.0.0.0:22 or [::]:22)",
				s);
	l->str = s;
	cfg->n_listen++;
	return 0;
}

/* BYTES, BYTESK or BYTESM within [min, max]. */
static int parse_size(const struct cfg_src *src, const char *opt, const char *s, unsigned min,
		      unsigned max, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long unit = *end == 'K' || *end == 'k' ? 1024 : *end == 'M' ? 1048576 : 1;
	if (unit > 1)
		end++;
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max || v * unit < min ||
	    v * unit > max) {
		return cfg_fail(src, opt, "'%s' is not a size from %u to %u bytes", s, min, max);
	}
	*out = (unsigned)(v * unit);
	return 0;
}

/* "V4" or "V4:V6": IPv4 8..32, IPv6 16..128 (shorter blocks would let one client's
 * penalty shut out a whole provider). */
static int parse_source_prefix(const struct cfg_src *src, const char *s, struct config *cfg)
{
	unsigned v4, v6 = cfg->source_prefix6;
	int used = 0;

	if ((sscanf(s, "%u%n:%u%n", &v4, &used, &v6, &used) >= 1) && (size_t)used == strlen(s) &&
	    strspn(s, "0123456789:") == strlen(s) && v4 >= 8 && v4 <= 32 && v6 >= 16 && v6 <= 128) {
		cfg->source_prefix4 = v4;
		cfg->source_prefix6 = v6;
		return 0;
	}
	return cfg_fail(src, "per-source-prefix", "'%s' is not V4[:V6] (8-32, 16-128)", s);
}

/* --per-source-penalty and --per-source-penalty-exempt (penalty.h, addrmatch.h). */
static int parse_penalty_option(const struct cfg_src *src, int c, const char *arg,
				struct config *cfg)
{
	char err[128];

	if (c == OPT_PENALTY && penalty_parse(arg, &cfg->penalty, err, sizeof(err)) == 0)
		return 0;
	if (c == OPT_PENALTY_EXEMPT) {
		struct addrmatch *m;
		if (addrmatch_parse(arg, &m, err, sizeof(err)) == 0) {
			addrmatch_free(cfg->penalty_exempt);
			cfg->penalty_exempt = m;
			return 0;
		}
	}
	return cfg_fail(src, c == OPT_PENALTY ? "per-source-penalty" : "per-source-penalty-exempt",
			"%s", err);
}

/* --proxy-protocol off|v1|v2|any and --proxy-protocol-from CIDR,... (addrmatch.h). */
static int parse_proxy_protocol(const struct cfg_src *src, int c, const char *arg,
				struct config *cfg)
{
	static const char *const modes[] = {"off", "v1", "v2", "any"};
	char err[128];

	if (c == OPT_PROXY_PROTOCOL) {
		for (unsigned i = 0; i < 4; i++) {
			if (strcmp(arg, modes[i]) == 0) {
				cfg->proxy_protocol = i;
				return 0;
			}
		}
		return cfg_fail(src, "proxy-protocol", "'%s' is not off, v1, v2 or any", arg);
	}
	struct addrmatch *m;
	if (addrmatch_parse(arg, &m, err, sizeof(err)) != 0)
		return cfg_fail(src, "proxy-protocol-from", "%s", err);
	addrmatch_free(cfg->proxy_protocol_from);
	cfg->proxy_protocol_from = m;
	return 0;
}

_Static_assert(CONFIG_N_ALGS == SSH_ALG_KINDS && OPT_HOSTKEY_ALGS - OPT_KEX_ALGS == SSH_ALG_HOSTKEY,
	       "config.algs[] and the options follow enum ssh_alg_kind");

static const char *const alg_option_names[CONFIG_N_ALGS] = {"kex-algorithms", "ciphers", "macs",
							    "host-key-algorithms"};

/* --kex-algorithms, --ciphers, --macs, --host-key-algorithms: OpenSSH's list syntax applied
 * to the engine's default (alglist.h). A later setting replaces an earlier one (the command
 * line's the file's). */
static int parse_algs(const struct cfg_src *src, int c, const char *arg, struct config *cfg)
{
	enum ssh_alg_kind kind = (enum ssh_alg_kind)(c - OPT_KEX_ALGS);
	char *list, err[160];

	if (alglist_edit(ssh_alg_default(kind), ssh_alg_supported(kind), arg, &list, err,
			 sizeof(err)) != 0)
		return cfg_fail(src, alg_option_names[kind], "%s", err);
	free(cfg->algs[kind]);
	cfg->algs[kind] = list;
	return 0;
}

char *config_algorithms_text(const struct config *cfg)
{
	size_t len = 1;

	for (int k = 0; k < CONFIG_N_ALGS; k++) {
		const char *l = cfg->algs[k] ? cfg->algs[k] : ssh_alg_default((enum ssh_alg_kind)k);
		len += strlen(alg_option_names[k]) + 1 + strlen(l) + 1;
	}
	char *out = xmalloc(len);
	size_t o = 0;
	for (int k = 0; k < CONFIG_N_ALGS; k++) {
		const char *l = cfg->algs[k] ? cfg->algs[k] : ssh_alg_default((enum ssh_alg_kind)k);
		o += (size_t)snprintf(out + o, len - o, "%s %s\n", alg_option_names[k], l);
	}
	return out;
}

/* --control, --control-max-frame, --control-max-queue (channel_control.c). */
static int parse_control_option(const struct cfg_src *src, int c, const char *arg,
				struct config *cfg)
{
	if (c == OPT_CONTROL_MAX_FRAME)
		return parse_size(src, "control-max-frame", arg, 64, 64 * 1048576,
				  &cfg->control_max_frame);
	if (c == OPT_CONTROL_MAX_QUEUE)
		return parse_size(src, "control-max-queue", arg, 65536, 1024 * 1048576,
				  &cfg->control_max_queue);
	if (strcmp(arg, "allow") == 0 || strcmp(arg, "deny") == 0) {
		cfg->control_allow = strcmp(arg, "allow") == 0;
		return 0;
	}
	return cfg_fail(src, "control", "'%s' is not allow or deny", arg);
}

static int config_option(int c, const char *arg, struct config *cfg, const struct cfg_src *src)
{
	switch (c) {
	case OPT_KEY:
		cfg->key_path = arg;
		return 0;
	case OPT_AUTHKEYS:
		cfg->authorized_keys_path = arg;
		return 0;
	case OPT_LISTEN:
		return add_listen(src, arg, cfg);
	case OPT_CONNECT_TIMEOUT:
		return parse_uint(src, "connect-timeout", arg, 1, 3600, &cfg->connect_timeout_s);
	case OPT_MAX_AUTH:
		return parse_uint(src, "max-auth-attempts", arg, 1, 1000, &cfg->max_auth_attempts);
	case OPT_MAX_PER_IP:
		return parse_uint(src, "max-connections-per-ip", arg, 0, 1000000,
				  &cfg->max_connections_per_ip);
	case OPT_GRACE:
		return parse_uint(src, "login-grace-time", arg, 1, 3600, &cfg->login_grace_time_s);
	case OPT_DRAIN:
		return parse_uint(src, "drain-timeout", arg, 0, 3600, &cfg->drain_timeout_s);
	case OPT_PROXY:
		cfg->proxy_str = arg;
		return 0;
	case OPT_PROXY_FILE:
		cfg->proxy_file = arg;
		return 0;
	case OPT_PROXY_TIMEOUT:
		return parse_uint(src, "proxy-timeout", arg, 1, 3600, &cfg->proxy_timeout_s);
	case OPT_MAX_STARTUPS:
		return parse_startups(src, arg, cfg);
	case OPT_PER_SOURCE_STARTUPS:
		return parse_uint(src, "per-source-max-startups", arg, 0, 1000000,
				  &cfg->per_source_startups);
	case OPT_MAX_CHANNELS:
		return parse_uint(src, "max-channels", arg, 1, 65536, &cfg->max_channels);
	case OPT_MAX_CHANNELS_USER:
		return parse_uint(src, "max-channels-per-user", arg, 1, 1000000,
				  &cfg->max_channels_per_user);
	case OPT_MAX_PENDING:
		return parse_uint(src, "max-pending-connects", arg, 1, 65536,
				  &cfg->max_pending_connects);
	case OPT_ALIVE_INTERVAL:
		return parse_uint(src, "client-alive-interval", arg, 0, 86400,
				  &cfg->client_alive_interval_s);
	case OPT_ALIVE_COUNT:
		return parse_uint(src, "client-alive-count-max", arg, 0, 1000,
				  &cfg->client_alive_count_max);
	case OPT_CHANNEL_IDLE:
		return parse_uint(src, "channel-idle-timeout", arg, 0, 604800,
				  &cfg->channel_idle_timeout_s);
	case OPT_WINDOW:
		return parse_size(src, "window-size", arg, 32768, 16777216, &cfg->window_size);
	case OPT_PENALTY:
	case OPT_PENALTY_EXEMPT:
		return parse_penalty_option(src, c, arg, cfg);
	case OPT_SOURCE_PREFIX:
		return parse_source_prefix(src, arg, cfg);
	case OPT_PROXY_PROTOCOL:
	case OPT_PROXY_PROTOCOL_FROM:
		return parse_proxy_protocol(src, c, arg, cfg);
	case OPT_USER:
		cfg->user = arg;
		return 0;
	case OPT_TRANSPORT:
		if (strcmp(arg, "tcp") == 0 || strcmp(arg, "tls") == 0) {
			cfg->tls = strcmp(arg, "tls") == 0;
			return 0;
		}
		return cfg_fail(src, "transport", "'%s' is not tcp or tls", arg);
	case OPT_TLS_CERT:
		cfg->tls_cert = arg;
		return 0;
	case OPT_TLS_KEY:
		cfg->tls_key = arg;
		return 0;
	case OPT_STEALTH:
		if (arg == NULL || strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
			cfg->stealth = arg == NULL || strcmp(arg, "on") == 0;
			return 0;
		}
		return cfg_fail(src, "stealth", "'%s' is not on or off", arg);
	case OPT_POLICY:
		cfg->policy_path = arg;
		return 0;
	case OPT_DENY_PRIVATE:
		if (arg == NULL || strcmp(arg, "yes") == 0 || strcmp(arg, "no") == 0) {
			cfg->deny_private = arg == NULL || strcmp(arg, "yes") == 0;
			return 0;
		}
		return cfg_fail(src, "deny-private", "'%s' is not yes or no", arg);
	case OPT_CERT_AUTHORITY:
		cfg->cert_authority_path = arg;
		return 0;
	case OPT_CERT_SKEW:
		return parse_uint(src, "cert-clock-skew", arg, 0, 86400, &cfg->cert_clock_skew_s);
	case OPT_REVOKED_KEYS:
		cfg->revoked_keys_path = arg;
		return 0;
	case OPT_SANDBOX:
		if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
			cfg->sandbox = strcmp(arg, "on") == 0;
			return 0;
		}
		return cfg_fail(src, "sandbox", "'%s' is not on or off", arg);
	case OPT_KEX_ALGS:
	case OPT_CIPHERS:
	case OPT_MACS:
	case OPT_HOSTKEY_ALGS:
		return parse_algs(src, c, arg, cfg);
	case OPT_CONTROL:
	case OPT_CONTROL_MAX_FRAME:
	case OPT_CONTROL_MAX_QUEUE:
		return parse_control_option(src, c, arg, cfg);
	case OPT_LOG_LEVEL:
		if (log_parse_level(arg, &cfg->log_level) == 0)
			return 0;
		return cfg_fail(src, "log-level", "'%s' is not one of error, warn, info, debug",
				arg);
	default:
		return -1;
	}
}

/* The first line of the proxy file that is not blank or a # comment, trimmed. */
static int read_proxy_file(struct config *cfg, struct diag *d)
{
	FILE *f = fopen(cfg->proxy_file, "r");
	char line[4096];

	if (f == NULL) {
		diag_error(d, "%s: cannot read the proxy file: %s", cfg->proxy_file,
			   strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = '\0';
		size_t n = strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			p[--n] = '\0';
		if (n == 0 || p[0] == '#')
			continue;
		cfg->proxy_file_text = xstrdup(p);
		break;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (cfg->proxy_file_text == NULL) {
		diag_error(d, "%s: no proxy URL in the proxy file", cfg->proxy_file);
		return -1;
	}
	cfg->proxy_str = cfg->proxy_file_text;
	return 0;
}

/* --proxy wins over --proxy-file, which wins over $ALKNET_PROXY. */
static int config_proxy(struct config *cfg, struct diag *d)
{
	char err[160];
	const char *from = "--proxy";

	if (cfg->proxy_str == NULL && cfg->proxy_file) {
		from = cfg->proxy_file;
		if (file_check_mode(cfg->proxy_file, d) != 0 || read_proxy_file(cfg, d) != 0)
			return -1;
	}
	if (cfg->proxy_str == NULL && getenv("ALKNET_PROXY") && *getenv("ALKNET_PROXY")) {
		from = "ALKNET_PROXY";
		cfg->proxy_str = getenv("ALKNET_PROXY");
	}
	if (cfg->proxy_str == NULL)
		return 0;
	if (proxy_url_parse(cfg->proxy_str, &cfg->proxy, err, sizeof(err)) != 0) {
		diag_error(d, "%s: invalid proxy URL: %s", from, err);
		return -1;
	}
	return 0;
}

void config_free(struct config *cfg)
{
	proxy_url_free(cfg->proxy);
	cfg->proxy = NULL;
	if (cfg->proxy_file_text)
		freezero(cfg->proxy_file_text, strlen(cfg->proxy_file_text));
	cfg->proxy_file_text = NULL;
	if (cfg->file_text)
		freezero(cfg->file_text, cfg->file_len + 1); /* may hold proxy credentials */
	cfg->file_text = NULL;
	addrmatch_free(cfg->penalty_exempt);
	cfg->penalty_exempt = NULL;
	addrmatch_free(cfg->proxy_protocol_from);
	cfg->proxy_protocol_from = NULL;
	for (int k = 0; k < CONFIG_N_ALGS; k++) {
		free(cfg->algs[k]);
		cfg->algs[k] = NULL;
	}
}

void config_listen_str(const struct config *cfg, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < cfg->n_listen && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "",
				      cfg->listen[i].str);
}

/* The file's settings: what the command line can set, each once (listen: any number). */
struct file_ctx {
	struct config *cfg;
	struct cfg_src src;
	unsigned seen[CONFIG_N_SETTINGS]; /* line of the first setting of each, 0: none */
};

static void file_syntax_error(void *ctx, unsigned line, const char *msg)
{
	struct file_ctx *fc = ctx;

	diag_error(fc->src.d, "%s:%u: %s", fc->src.file, line, msg);
}

static int file_setting(void *ctx, unsigned line, const char *kw, const char *val)
{
	struct file_ctx *fc = ctx;
	const struct option *o = options;

	fc->src.line = line;
	while (o->name && strcasecmp(o->name, kw) != 0)
		o++;
	if (o->name == NULL) {
		diag_error(fc->src.d, "%s:%u: unknown keyword '%.64s' (see alknet --help)",
			   fc->src.file, line, kw);
		return 0;
	}
	if (o->val >= OPT_LAST_SETTING) {
		diag_error(fc->src.d, "%s:%u: '%s' is a command-line option only", fc->src.file,
			   line, o->name);
		return 0;
	}
	unsigned *seen = &fc->seen[o->val - OPT_KEY];
	if (*seen != 0 && o->val != OPT_LISTEN) {
		diag_error(fc->src.d, "%s:%u: %s given twice (first on line %u)", fc->src.file,
			   line, o->name, *seen);
		return 0;
	}
	*seen = line;
	config_option(o->val, val, fc->cfg, &fc->src);
	return 0;
}

static void read_config_file(struct config *cfg, struct diag *d)
{
	uint8_t *text;
	size_t len;

	if (file_check_mode(cfg->config_path, d) != 0)
		return;
	int ret = file_read_small(cfg->config_path, CONFIG_FILE_MAX, &text, &len);
	if (ret != 0) {
		diag_error(d, "%s: cannot read the configuration: %s", cfg->config_path,
			   ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		return;
	}
	config_apply_text(cfg, cfg->config_path, (char *)text, len, d);
}

void config_apply_text(struct config *cfg, const char *name, char *text, size_t len, struct diag *d)
{
	struct file_ctx fc = {.cfg = cfg, .src = {.d = d, .file = name}};

	cfg->file_text = text;
	cfg->file_len = len;
	config_file_parse(text, len, file_setting, file_syntax_error, &fc);
}

/* Checks what single options can't: required ones, a default listener, the proxy. */
static void config_check(struct config *cfg, struct diag *d)
{
	const char *where = cfg->config_path ? cfg->config_path : "command line";

	if (cfg->key_path == NULL)
		diag_error(d, "%s: no host key: set --key (the host private key)", where);
	if (cfg->authorized_keys_path == NULL && cfg->cert_authority_path == NULL)
		diag_error(d, "%s: no authorized keys: set --authorized-keys (or --cert-authority)",
			   where);
	if (cfg->tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL))
		diag_error(d, "%s: --transport tls needs --tls-cert and --tls-key", where);
	if (!cfg->tls && (cfg->tls_cert || cfg->tls_key))
		diag_error(d, "%s: --tls-cert and --tls-key need --transport tls", where);
	if (cfg->stealth && !cfg->tls)
		diag_error(d,
			   "%s: --stealth on needs --transport tls (stealth hides SSH inside TLS)",
			   where);
	if (cfg->n_listen == 0) {
		struct cfg_src src = {.d = d};
		add_listen(&src, "0.0.0.0:22", cfg);
	}
	if (cfg->proxy_protocol != 0 && cfg->proxy_protocol_from == NULL)
		diag_error(d,
			   "%s: proxy-protocol: needs proxy-protocol-from (the addresses of the "
			   "load balancers allowed to send the header)",
			   where);
	/* A subscriber must be able to hold a largest frame while the one before it drains. */
	if (cfg->control_max_queue / 2 < cfg->control_max_frame)
		diag_error(d, "%s: control-max-queue: %u is less than twice control-max-frame (%u)",
			   where, cfg->control_max_queue, cfg->control_max_frame);
	config_proxy(cfg, d);
}

static void print_version(void)
{
	printf("alknet %s\n", ALKNET_VERSION);
}

/* First pass over argv: --help, --version, --config, --check, and unknown options. */
static enum config_result scan_args(int argc, char **argv, struct config *cfg, struct diag *d)
{
	int c;

	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		if (c == OPT_HELP || c == OPT_VERSION) {
			c == OPT_HELP ? config_usage(stdout) : print_version();
			return CONFIG_EXIT;
		}
		if (c == '?' || c == ':') {
			diag_error(d, "%s '%s' (see alknet --help)",
				   c == ':' ? "missing value for option" : "unknown option",
				   argv[optind - 1]);
			return CONFIG_ERROR;
		}
		if (c == OPT_CONFIG)
			cfg->config_path = optarg;
		if (c == OPT_CHECK)
			cfg->check = true;
	}
	if (optind < argc) {
		diag_error(d, "unexpected argument '%s' (see alknet --help)", argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

/* Second pass: the command line's settings, over the file's. */
static void apply_args(int argc, char **argv, struct config *cfg, struct diag *d)
{
	struct cfg_src src = {.d = d};
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		if (c < OPT_LAST_SETTING)
			config_option(c, optarg, cfg, &src);
	}
}

enum config_result config_parse(int argc, char **argv, struct config *cfg, struct diag *d)
{
	config_defaults(cfg);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		config_usage(stdout);
		return CONFIG_EXIT;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		print_version();
		return CONFIG_EXIT;
	}
	if (argc < 2 || strcmp(argv[1], "serve") != 0) {
		diag_error(d, "expected the command 'serve' (see alknet --help)");
		return CONFIG_ERROR;
	}
	unsigned before = d->errors;
	enum config_result r = scan_args(argc, argv, cfg, d);
	if (r != CONFIG_RUN)
		return r;
	if (cfg->config_path)
		read_config_file(cfg, d);
	apply_args(argc, argv, cfg, d);
	config_check(cfg, d);
	return d->errors == before ? CONFIG_RUN : CONFIG_ERROR;
}
