/* The configuration of `alknet serve`: the command line over the --config file, parsed into a
 * struct config that nothing changes afterwards. A reload (SIGHUP) parses both again into a
 * new struct; the settings snapshot that holds it owns it (settings.h). Problems are reported
 * through a struct diag (diag.h) as "FILE:LINE: ..." or "--option: ...". */
#ifndef ALKNET_CONFIG_H
#define ALKNET_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"
#include "penalty.h"

struct addrmatch;
struct proxy_url;
struct diag;

#define CONFIG_MAX_LISTEN 16
/* Algorithm lists, indexed by enum ssh_alg_kind (ssh/ssh.h): kex, ciphers, MACs, host key. */
#define CONFIG_N_ALGS 4

struct config_listen {
	const char *str;
	struct sockaddr_storage addr;
	socklen_t len;
};

struct config {
	const char *config_path; /* --config */
	bool check;		 /* --check: validate and exit */
	const char *key_path;
	const char *authorized_keys_path; /* NULL only with cert_authority_path */
	const char *cert_authority_path;  /* --cert-authority: trusted user CA keys */
	const char *revoked_keys_path;	  /* --revoked-keys */
	unsigned cert_clock_skew_s;	  /* --cert-clock-skew */
	const char *user;		  /* --user: switch to it after start-up; NULL: stay */
	bool tls;			  /* --transport tls (else tcp) */
	bool stealth; /* --stealth: wait for the client's SSH banner, else act as nginx */
	const char *tls_cert, *tls_key;
	bool sandbox;		 /* --sandbox on (default): seccomp, Landlock (sandbox.h) */
	const char *policy_path; /* --policy: forwarding rules (policy_rules.h); NULL: none */
	bool deny_private;	 /* --deny-private: the private-network preset */
	struct config_listen listen[CONFIG_MAX_LISTEN];
	unsigned n_listen;
	bool listen_from_cli; /* a --listen was given: the file's listen lines don't count */
	char *file_text;      /* the config file (the file's values point into it); wiped */
	size_t file_len;
	unsigned connect_timeout_s;
	unsigned max_auth_attempts;
	unsigned max_connections_per_ip;
	unsigned login_grace_time_s;
	unsigned drain_timeout_s;
	enum log_level log_level;
	const char *proxy_str; /* --proxy, else the --proxy-file content, else $ALKNET_PROXY */
	const char *proxy_file;
	char *proxy_file_text;
	struct proxy_url *proxy; /* parsed; NULL for direct connections */
	unsigned proxy_timeout_s;
	/* Unauthenticated connections (OpenSSH's MaxStartups start:rate:full): from `start` on,
	 * new ones are refused with probability rate %, rising to 100 % at `full`. */
	unsigned startups_begin, startups_rate, startups_full;
	unsigned per_source_startups;	/* unauthenticated ones per source block; 0: no limit */
	unsigned max_channels;		/* open channels per session */
	unsigned max_channels_per_user; /* over all sessions of one key */
	unsigned max_pending_connects;	/* connects in progress per session */
	/* Dead peers and idle tunnels (OpenSSH ClientAliveInterval / ClientAliveCountMax,
	 * ChannelTimeout direct-tcpip=) and the window granted per channel. */
	unsigned client_alive_interval_s; /* silence before a keepalive probe; 0: none */
	unsigned client_alive_count_max;  /* unanswered probes before the drop; 0: never */
	unsigned channel_idle_timeout_s;  /* a tunnel without traffic is closed; 0: never */
	unsigned window_size;		  /* bytes granted per channel */
	/* Per-source penalties (OpenSSH PerSourcePenalties, PerSourcePenaltyExemptList,
	 * PerSourceNetBlockSize; penalty.h). The prefix lengths group addresses into the source
	 * blocks of the penalties and of --per-source-max-startups. */
	struct penalty_cfg penalty;
	struct addrmatch *penalty_exempt; /* parsed; NULL: nobody is exempt */
	unsigned source_prefix4, source_prefix6;
	/* --proxy-protocol: 0 off, else the versions accepted as a mask, 1 v1 and 2 v2 (the
	 * values of proxy_header.h's enum), from the senders in --proxy-protocol-from only. */
	unsigned proxy_protocol;
	struct addrmatch *proxy_protocol_from; /* parsed; NULL: none */
	/* --kex-algorithms, --ciphers, --macs, --host-key-algorithms: the effective lists
	 * (alglist.h applied to the engine's defaults), owned; NULL: the engine's default. */
	char *algs[CONFIG_N_ALGS];
	/* The control channel (alknet-control:0, channel_control.c): whether sessions may open
	 * it, the largest frame accepted, and how many bytes may wait for one subscriber. */
	bool control_allow;
	unsigned control_max_frame;
	unsigned control_max_queue;
};

enum config_result {
	CONFIG_RUN = 0,	  /* start the server */
	CONFIG_EXIT = 1,  /* --help / --version printed: exit 0 */
	CONFIG_ERROR = 2, /* message printed to stderr: exit 2 */
};

/* Parses argv (argv[0] is the program, argv[1] should be "serve") and the --config file it
 * names; options on the command line override the file. Every problem goes to d (the parse
 * goes on after one, so --check can list them all); CONFIG_ERROR if there was any. argv must
 * outlive cfg (its strings are borrowed). config_free is due whatever the result. */
enum config_result config_parse(int argc, char **argv, struct config *cfg, struct diag *d);
void config_usage(FILE *out);
void config_free(struct config *cfg);
/* The file's part of config_parse, on text in memory (tests, fuzzers): applies the settings
 * of text[0..len) (xmalloc'd, with a NUL after it; cfg takes it over and config_free wipes
 * it) to cfg, after config_defaults. name is the FILE of messages. */
void config_defaults(struct config *cfg);
void config_apply_text(struct config *cfg, const char *name, char *text, size_t len,
		       struct diag *d);
/* --check's report of the effective algorithm lists, one "keyword list" line each (like
 * `sshd -T`), as a new string the caller frees. */
char *config_algorithms_text(const struct config *cfg);
/* The listen addresses as one word, "A,B" (for log lines). */
void config_listen_str(const struct config *cfg, char *out, size_t outlen);

#endif
