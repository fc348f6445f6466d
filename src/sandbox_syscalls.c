/* The seccomp allowlist (sandbox.h): every system call the server makes once it runs, each
 * with who needs it. Anything else kills the whole process (SECCOMP_RET_KILL_PROCESS; the
 * kernel logs it to the audit log). Never allowed: execve/execveat, ptrace, fork/clone (the
 * resolver threads exist before the filter goes in), opening a file for writing, executable
 * memory, and every privileged or administrative call. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* Calls allowed with any arguments. */
static const int plain_calls[] = {
	/* the loop and the relay: sockets and the epoll set */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(accept4),
	SCMP_SYS(shutdown),
	SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(fcntl),
	/* outbound connections (direct and through a proxy); the resolver's DNS queries */
	SCMP_SYS(connect),
	SCMP_SYS(bind),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(sendmmsg),
	SCMP_SYS(recvmmsg),
	/* reload: reading files (openat is filtered below), their status and real path */
	SCMP_SYS(newfstatat),
	SCMP_SYS(fstat),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(statx),
	SCMP_SYS(lseek),
	SCMP_SYS(pread64),
	SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
	SCMP_SYS(getcwd),
	SCMP_SYS(getdents64),
	SCMP_SYS(faccessat),
	SCMP_SYS(access),
	/* memory (mmap and mprotect are filtered below) */
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(madvise),
	/* threads: the resolver pool's queue, and time */
	SCMP_SYS(futex),
	SCMP_SYS(sched_yield),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	/* signals: the signalfd's mask, abort() on a broken invariant */
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(sigaltstack), /* the sanitizers' thread teardown */
	/* identity: file mode checks on reload, sd_notify, OpenSSL */
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(uname),
	/* randomness: OpenSSL's DRBG, the engine's padding and cookies */
	SCMP_SYS(getrandom),
	/* glibc's start of a thread (the resolver's may still be starting when the filter goes
	 * in) */
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	/* the end */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

static int add(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *args)
{
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, args);
}

/* Opening only for reading (reload, the resolver's /etc files): no write access, no
 * creating, no truncating. */
static int add_open(scmp_filter_ctx ctx)
{
	const scmp_datum_t bad = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE;
	struct scmp_arg_cmp at = SCMP_A2(SCMP_CMP_MASKED_EQ, bad, O_RDONLY);
	struct scmp_arg_cmp plain = SCMP_A1(SCMP_CMP_MASKED_EQ, bad, O_RDONLY);

	return add(ctx, SCMP_SYS(openat), 1, &at) | add(ctx, SCMP_SYS(open), 1, &plain);
}

/* Memory that is never executable: no new code can be mapped or made runnable. */
static int add_memory(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);

	return add(ctx, SCMP_SYS(mmap), 1, &noexec) | add(ctx, SCMP_SYS(mprotect), 1, &noexec);
}

/* Sockets of the families the server uses: TCP and UDP over IPv4/IPv6 (tunnels, proxies,
 * DNS), Unix datagrams (sd_notify), and netlink routing (getaddrinfo's AI_ADDRCONFIG). */
static int add_sockets(scmp_filter_ctx ctx)
{
	static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
	int r = 0;

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		struct scmp_arg_cmp fam = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]);
		r |= add(ctx, SCMP_SYS(socket), 1, &fam);
	}
	struct scmp_arg_cmp nl[] = {SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				    SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE)};
	return r | add(ctx, SCMP_SYS(socket), 2, nl);
}

/* ioctl: only asking how much is readable, non-blocking mode, and stdio's "is it a tty". */
static int add_ioctl(scmp_filter_ctx ctx)
{
	static const unsigned long reqs[] = {FIONREAD, FIONBIO, TCGETS};
	int r = 0;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct scmp_arg_cmp req = SCMP_A1(SCMP_CMP_EQ, reqs[i]);
		r |= add(ctx, SCMP_SYS(ioctl), 1, &req);
	}
	return r;
}

/* abort() signals its own thread group, and nothing else may be signalled; prlimit only
 * reads limits. */
static int add_self(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	struct scmp_arg_cmp readonly = SCMP_A2(SCMP_CMP_EQ, 0);

	return add(ctx, SCMP_SYS(tgkill), 1, &self) | add(ctx, SCMP_SYS(prlimit64), 1, &readonly);
}

int sandbox_install_filter(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < sizeof(plain_calls) / sizeof(plain_calls[0]); i++)
		r = add(ctx, plain_calls[i], 0, NULL);
	if (r == 0)
		r = add_open(ctx) | add_memory(ctx) | add_sockets(ctx) | add_ioctl(ctx) |
		    add_self(ctx);
	/* Every thread: the resolver's were started before. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(-r));
		return -1;
	}
	return 0;
}
