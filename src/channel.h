/* Channels of one session: the generic life of a channel from CHANNEL_OPEN to the second
 * CLOSE, and a table of channel types (dropbear's struct ChanType is the model) that do the
 * type-specific work. direct-tcpip is one entry (channel_direct_tcpip.c).
 *
 * Ownership: the session embeds a struct channel_set and owns the channels in it. A channel
 * owns its type's state (c->state, allocated by the type's open, released by its release op,
 * its memory freed here). channel_release() is the only place that frees a channel; it
 * runs the type's release op at once and frees the memory after the current loop step, so a
 * callback still on the stack may look at the struct (never free an object inside its own
 * callback chain). */
#ifndef ALKNET_CHANNEL_H
#define ALKNET_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct channel;
struct channel_set;
struct policy_subject;
struct settings;
struct ssh;
struct ssh_channel;
struct ssh_event;
struct worker;

struct chan_type {
	const char *name; /* the CHANNEL_OPEN type string */
	bool uses_fd;	  /* holds a socket: counted against the process's descriptors */
	/* Optional: the type that serves an open of this name, chosen from its type-specific
	 * bytes (hostile; valid only during the call) before any budget is checked. A
	 * direct-tcpip open to alknet-control:0 is served by the control type. NULL: this one. */
	const struct chan_type *(*pick)(const uint8_t *data, size_t len);
	/* Starts a channel: answer now or later with channel_confirm() / channel_refuse().
	 * data: the type-specific bytes of the request, valid only during the call. */
	void (*open)(struct channel *c, const uint8_t *data, size_t len);
	/* Client data (valid until the end of the loop pass: ssh_in_pin), EOF, and room to send
	 * more (the client's window opened, the session output drained, a re-key ended). */
	void (*data)(struct channel *c, const uint8_t *p, size_t len);
	void (*eof)(struct channel *c);
	void (*window)(struct channel *c);
	/* The client's CLOSE arrived and the engine channel is gone. Return true to be released
	 * now, false when the type still has work (it calls channel_release() when done). */
	bool (*close)(struct channel *c);
	/* Releases the type's resources (sockets, timers); its memory is freed by channel.c. */
	void (*release)(struct channel *c);
	/* A CHANNEL_REQUEST (RFC 4254 §5.4) on a channel we have not closed: name is the engine's
	 * bounded copy, data the request-specific bytes (hostile; valid only during the call).
	 * Returns whether the request is granted; channel.c then sends SUCCESS/FAILURE when
	 * want_reply, and calls window() right after, so what the request starts (a message,
	 * exit-status, CLOSE) follows the answer. Data sent during the call goes before it.
	 * NULL: every request fails. */
	bool (*request)(struct channel *c, const char *name, const uint8_t *data, size_t len,
			bool want_reply);
};

struct channel {
	struct channel_set *set;
	struct channel *prev, *next;
	struct ssh_channel *sch; /* the engine's channel; NULL once both CLOSEs passed */
	const struct chan_type *type;
	const struct settings *settings; /* a reference to the snapshot current at the open */
	void *state;			 /* the type's */
	bool closing;			 /* we sent CLOSE */
	bool type_released;		 /* the type's release op ran */
	bool released;
};

/* What a session lends its channels, set once; outlives them all. */
struct channel_set {
	struct ssh *ssh;
	struct worker *w; /* w->set: the current settings (reloads change it) */
	uint64_t session_id;
	const struct chan_type *const *types; /* NULL-terminated */
	struct channel *list;		      /* doubly linked through next/prev */
	unsigned count;
	unsigned dialing;	  /* outbound connects in progress (types that dial count them) */
	struct worker_user *user; /* the logged-in key's counts (worker.h); set at login */
	/* Who logged in and what their authorized_keys line grants (policy.h), for the
	 * forwarding policy; set at login, kept for the session's life (a reload changes the
	 * rules for new channels, never a session's grants). */
	const struct policy_subject *subject;
	unsigned policy_refused; /* channels the policy refused, for the close line */
	bool no_port_forwarding; /* set at login: the certificate lacks permit-port-forwarding */
	const char *addr;	 /* the client's address, for INFO lines (the session's) */
	/* May this session open the control channel (alknet-control:0)? Set at login from
	 * --control; the hook for a per-key permission. The open also needs --control allow in
	 * the snapshot current then, so a reload to deny stops new control channels. */
	bool control_allowed;
	void (*output)(void *owner); /* output was queued: write it after this pass */
	void (*empty)(void *owner);  /* the last channel is gone */
	void *owner;
};

/* SSH_EV_CHANNEL_OPEN: refuses it (unknown type; shutting down, or the session's key was
 * removed by a reload: ADMINISTRATIVELY_PROHIBITED; over a channel or descriptor budget:
 * RESOURCE_SHORTAGE) or hands it to its type, with the settings current now. */
void channel_open(struct channel_set *cs, const struct ssh_event *ev);
/* SSH_EV_CHANNEL_DATA / EOF / CLOSE / WINDOW for the channel in ev (NULL-safe). */
void channel_recv_data(struct channel *c, const uint8_t *p, size_t len);
void channel_recv_eof(struct channel *c);
void channel_recv_close(struct channel *c);
void channel_recv_window(struct channel *c);
/* SSH_EV_CHANNEL_REQUEST: hands it to the channel's type, answers it when the client wants an
 * answer (FAILURE without a type op or channel). */
void channel_recv_request(struct channel_set *cs, const struct ssh_event *ev);
/* Room to send on every channel (a re-key ended, the session output drained). */
void channel_set_pump(struct channel_set *cs);
/* Session teardown: releases every channel without any SSH traffic. */
void channel_set_release(struct channel_set *cs);

/* For channel types. */
void channel_confirm(struct channel *c);
/* Sends OPEN_FAILURE and releases c. */
void channel_refuse(struct channel *c, uint32_t reason, const char *text);
/* Ends the channel from our side: releases the type's resources and sends CLOSE; the struct
 * stays until the client's CLOSE. */
void channel_close(struct channel *c);
/* Frees c (the type's release op runs now; the memory after this loop step). Idempotent. */
void channel_release(struct channel *c);
/* Asks the session to write its output after this pass. */
void channel_output(struct channel *c);
struct ssh *channel_ssh(const struct channel *c);
struct worker *channel_worker(const struct channel *c);
/* The snapshot the channel was opened with (settings.h). */
const struct settings *channel_settings(const struct channel *c);
/* For log lines: "session N channel M". */
uint64_t channel_session_id(const struct channel *c);

#endif
