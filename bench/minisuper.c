/* minisuper: the floor of a per-connection super-server, for bench/sockets.py.
 *
 * It does what every inetd "nowait" service must do and nothing else:
 * accept a connection, fork (vfork-style clone), dup2 it onto stdin and
 * stdout, exec the server; the parent closes its copy and reaps exits.
 * No logging, no limits, no accounting, no cgroup: whatever a real
 * super-server spends beyond this is its bookkeeping.
 *
 * With MINISUPER_CGROUP=DIR (an existing cgroup v2 directory) each
 * connection's server also gets a cgroup of its own, as a service manager
 * must give it to stop the server's whole process tree: the vfork child
 * makes DIR/<its pid> and moves itself in (cgroup.procs) before its exec,
 * and a second thread of the parent removes the group once the server was
 * reaped (an rmdir can wait for the kernel to retire the group: not on the
 * accepting thread). That is the floor of a super-server with systemd's
 * per-instance groups.
 *
 * Usage: minisuper ADDR PORT SERVER [ARG...]   (e.g. 127.0.0.1 24011 /bin/cat cat)
 * Build: gcc -O2 -pthread -o minisuper minisuper.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *cgdir;
static int reaped[2]; /* the pids whose groups the remover thread removes */

static void reap(int sig)
{
	(void)sig;
	int saved = errno;
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		if (cgdir && write(reaped[1], &pid, sizeof pid) != sizeof pid)
			_exit(1);
	errno = saved;
}

static void *remover(void *arg)
{
	(void)arg;
	pid_t pid;
	while (read(reaped[0], &pid, sizeof pid) == sizeof pid) {
		char p[4096];
		snprintf(p, sizeof p, "%s/%d", cgdir, (int)pid);
		rmdir(p);
	}
	return NULL;
}

/* In the vfork child: a group of its own, joined before the exec. */
static int join_own_group(void)
{
	char p[4096];
	int n = snprintf(p, sizeof p, "%s/%d", cgdir, (int)getpid());
	if (mkdir(p, 0755) < 0)
		return -1;
	snprintf(p + n, sizeof p - n, "/cgroup.procs");
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ok = write(fd, "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
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
	cgdir = getenv("MINISUPER_CGROUP");
	if (cgdir) {
		/* Made before the handler: the thread must not take SIGCHLD. */
		sigset_t chld, old;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_t t;
		if (pipe2(reaped, O_CLOEXEC) < 0 || pthread_sigmask(SIG_BLOCK, &chld, &old) != 0 ||
		    pthread_create(&t, NULL, remover, NULL) != 0 || pthread_sigmask(SIG_SETMASK, &old, NULL) != 0) {
			perror("remover");
			return 1;
		}
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
			if (cgdir && join_own_group() < 0)
				_exit(126);
			dup2(c, 0);
			dup2(c, 1);
			execv(argv[3], argv + 4);
			_exit(127);
		}
		close(c);
	}
}
