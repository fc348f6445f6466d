/* Unit tests for the seccomp allowlist (src/sandbox_syscalls.c): a forked child installs the
 * server's filter through the same function, then tries one thing; what the filter forbids
 * must end it with SIGSYS, and what a tunnel server needs must still work. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

enum attempt {
	TRY_NOTHING = 0,
	TRY_EXECVE = 1,
	TRY_PTRACE = 2,
	TRY_OPEN_WRITE = 3,
	TRY_OPEN_CREATE = 4,
	TRY_EXEC_MEMORY = 5,
	TRY_FORK = 6,
	TRY_RAW_SOCKET = 7,
	TRY_ALLOWED = 8,
};

static void attempt(enum attempt what)
{
	char *argv[] = {"/bin/true", NULL};
	int fds[2];

	switch (what) {
	case TRY_EXECVE:
		execve("/bin/true", argv, NULL);
		break;
	case TRY_PTRACE:
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case TRY_OPEN_WRITE:
		open("/dev/null", O_WRONLY);
		break;
	case TRY_OPEN_CREATE:
		open("/tmp/alknet-sandbox-test", O_RDONLY | O_CREAT, 0600);
		break;
	case TRY_EXEC_MEMORY:
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case TRY_FORK:
		fork();
		break;
	case TRY_RAW_SOCKET:
		socket(AF_PACKET, SOCK_RAW, 0);
		break;
	case TRY_ALLOWED: {
		/* What the loop and a reload do: read a file, sockets, memory, time. */
		int fd = open("/etc/hosts", O_RDONLY);
		char buf[64];
		if (fd >= 0 && read(fd, buf, sizeof(buf)) < 0)
			_exit(3);
		close(fd);
		int one = 1;
		fds[0] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		fds[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0 || fds[1] < 0 ||
		    setsockopt(fds[0], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0)
			_exit(4);
		close(fds[0]);
		close(fds[1]);
		void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED || munmap(p, 1 << 20) != 0)
			_exit(5);
		free(malloc(1 << 22));
		break;
	}
	case TRY_NOTHING:
		break;
	}
}

/* How the child ended: the signal that killed it, or 1000 + its exit status. */
static int run_sandboxed(enum attempt what)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		if (sandbox_install_filter(err, sizeof(err)) != 0)
			_exit(2);
		attempt(what);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status);
}

static void test_allowed_calls_work(void **state)
{
	(void)state;
	assert_int_equal(run_sandboxed(TRY_NOTHING), 1000);
	assert_int_equal(run_sandboxed(TRY_ALLOWED), 1000);
}

static void test_forbidden_calls_kill(void **state)
{
	(void)state;
	static const enum attempt forbidden[] = {TRY_EXECVE,	  TRY_PTRACE,	   TRY_OPEN_WRITE,
						 TRY_OPEN_CREATE, TRY_EXEC_MEMORY, TRY_FORK,
						 TRY_RAW_SOCKET};
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		print_message("attempt %d\n", (int)forbidden[i]);
		assert_int_equal(run_sandboxed(forbidden[i]), SIGSYS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_calls_work),
		cmocka_unit_test(test_forbidden_calls_kill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
