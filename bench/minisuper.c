/* minisuper: the floor of a per-connection super-server, for bench/sockets.py.
 *
 * It does what every inetd "nowait" service must do and nothing else:
 * accept a connection, fork (vfork-style clone), dup2 it onto stdin and
 * stdout, exec the server; the parent closes its copy and reaps exits.
 * No logging, no limits, no accounting, no cgroup: whatever a real
 * super-server spends beyond this is its bookkeeping.
 *
 * Usage: minisuper ADDR PORT SERVER [ARG...]   (e.g. 127.0.0.1 24011 /bin/cat cat)
 * Build: gcc -O2 -o minisuper minisuper.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig)
{
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s ADDR PORT SERVER [ARG...]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	int one = 1;
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
		perror("listen");
		return 1;
	}
	struct sigaction act = { .sa_handler = reap, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
	sigaction(SIGCHLD, &act, NULL);
	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept4");
			return 1;
		}
		pid_t pid = vfork();
		if (pid == 0) {
			dup2(c, 0);
			dup2(c, 1);
			execv(argv[3], argv + 4);
			_exit(127);
		}
		close(c);
	}
}
