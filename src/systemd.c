/* systemd integration (systemd.h). */
#include "systemd.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "net.h"

void systemd_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void systemd_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull +
			   (unsigned long long)ts.tv_nsec / 1000ull);
}

void systemd_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

int systemd_listen_fds(int *fds, int max)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return 0;
	if (n > max) {
		fprintf(stderr, "alknet: systemd passed %d sockets; at most %d are used\n", n, max);
		n = max;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			fprintf(stderr,
				"alknet: socket activation: fd %d is not a listening stream "
				"socket\n",
				fd);
			return -1;
		}
		net_set_nonblock(fd);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fds[i] = fd;
	}
	return n;
}
