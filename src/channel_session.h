/* The session channel type (RFC 4254 §6), made harmless: nothing is ever executed. It exists so
 * that `ssh -D`/`ssh -L` without -N keep their tunnels: a shell request is granted with a short
 * message and the channel stays open until the client closes it; exec gets a message on stderr
 * and exit-status 1; subsystems (sftp) are refused. The state is the channel's (c->state). */
#ifndef ALKNET_CHANNEL_SESSION_H
#define ALKNET_CHANNEL_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct chan_type;

/* The type's entry for a session's table (channel.h). */
extern const struct chan_type chan_session;

/* The fields of a pty-req (RFC 4254 §6.2), after want_reply. */
struct sesschan_pty {
	size_t term_len; /* TERM is checked, not kept */
	uint32_t cols, rows, width_px, height_px;
	size_t modes_len;
};

/* Parses a pty-req's fields: string TERM, four uint32, string of encoded terminal modes
 * (RFC 4254 §8: opcodes 1..159 take a uint32, 0 ends the list, 160..255 stop parsing; a list
 * without its end is accepted, as paramiko sends an empty one), nothing after. Returns 0, or
 * -EBADMSG. */
int sesschan_parse_pty(const uint8_t *p, size_t n, struct sesschan_pty *out);
/* Parses a request whose only field is one string (exec's command, subsystem's name), nothing
 * after. Returns 0 and the string's length in *len (never its text: a command is not logged),
 * or -EBADMSG. */
int sesschan_parse_string(const uint8_t *p, size_t n, size_t *len);

#endif
