/* Command line of `alknet serve`: parsed once at start into a read-only struct config. */
#ifndef ALKNET_CONFIG_H
#define ALKNET_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"
#include "penalty.h"

struct addrmatch;
struct proxy_url;

struct config {
	const char *key_path;
	const char *authorized_keys_path;
	const char *listen_str;
	struct sockaddr_storage listen_addr;
	socklen_t listen_len;
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
};

enum config_result {
	CONFIG_RUN = 0,	  /* start the server */
	CONFIG_EXIT = 1,  /* --help / --version printed: exit 0 */
	CONFIG_ERROR = 2, /* message printed to stderr: exit 2 */
};

/* Parses argv (argv[0] is the program, argv[1] should be "serve"). */
enum config_result config_parse(int argc, char **argv, struct config *cfg);
void config_usage(FILE *out);
void config_free(struct config *cfg);

#endif
