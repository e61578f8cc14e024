// spawnfloor: the least any supervisor can do to bring up N services.
//
// It starts N copies of a run script (the harness's "#!/bin/sh\nexec sleep")
// with one clone3 each, straight into a cgroup, keeps no state, logs
// nothing, and waits until every child has exec'd its final program. The
// children's CPU (the cgroup's cpu.stat) is the payload's cost per service,
// which no supervisor can avoid; the wall time is the floor of the
// harness's "all N running" figure on this machine.
//
// usage: spawnfloor N RUN CGROUP2-DIR FINAL-COMM
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long usage_usec(const char *dir)
{
	char path[4096], buf[4096];
	snprintf(path, sizeof path, "%s/cpu.stat", dir);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = strstr(buf, "usage_usec ");
	if (!p) {
		fprintf(stderr, "%s: no usage_usec\n", path);
		exit(1);
	}
	return atoll(p + 11);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

// running reports whether pid has exec'd the final program (its comm).
static int running(pid_t pid, const char *comm)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1; /* gone: it will not become the final program */
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return strcmp(buf, comm) == 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: spawnfloor N RUN CGROUP2-DIR FINAL-COMM\n");
		return 2;
	}
	int n = atoi(argv[1]);
	const char *run = argv[2], *cg = argv[3], *comm = argv[4];
	int cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		perror(cg);
		return 1;
	}
	pid_t *pids = calloc(n, sizeof *pids);
	long long before = usage_usec(cg);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		struct clone_args ca = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = cgfd};
		long pid = syscall(SYS_clone3, &ca, sizeof ca);
		if (pid < 0) {
			perror("clone3");
			return 1;
		}
		if (pid == 0) {
			char *av[] = {(char *)run, NULL};
			execv(run, av);
			_exit(127);
		}
		pids[i] = pid;
	}
	// Waiting in launch order: the last child to reach its final program
	// decides the figure, and a child found late only shifts the figure by
	// the poll interval.
	for (int i = 0; i < n; i++) {
		while (!running(pids[i], comm))
			usleep(200);
	}
	double all = ms_since(&t0);
	// Let the last children's exec accounting settle before reading.
	usleep(200000);
	long long cpu = usage_usec(cg) - before;
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	printf("N=%d all %.1f ms payload-cpu %.1f ms (%.3f ms/service)\n",
	       n, all, cpu / 1e3, cpu / 1e3 / n);
	return 0;
}
