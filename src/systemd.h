/* What the server tells systemd and takes from it (libsystemd): readiness notifications for a
 * Type=notify unit (sd_notify; no-ops when NOTIFY_SOCKET is unset) and the listening sockets
 * of socket activation (sd_listen_fds, LISTEN_FDS). */
#ifndef ALKNET_SYSTEMD_H
#define ALKNET_SYSTEMD_H

/* READY=1 with a STATUS= line: listening, or a reload finished. */
void systemd_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC (systemd 253's Type=notify-reload needs it). */
void systemd_reloading(void);
void systemd_stopping(void);
/* The stream sockets systemd passed (unset from the environment so children don't see them),
 * made non-blocking and close-on-exec. Returns how many (fds[0..n)), 0 when not
 * socket-activated, or -1 after printing why when a passed fd is not a listening stream
 * socket. At most max are taken. */
int systemd_listen_fds(int *fds, int max);

#endif
