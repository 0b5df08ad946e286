// SPDX-License-Identifier: MIT
/*
 * ptyrun: run a command on a terminal of its own, and type into it.
 *
 *   ptyrun [PATTERN BYTES]... -- COMMAND [ARG]...
 *
 * COMMAND gets a new pseudo-terminal as its controlling terminal, stdin,
 * stdout and stderr; what it prints is copied to ptyrun's stdout.  For each
 * pair in turn, once the output since the previous match contains PATTERN
 * (a fixed string), BYTES are typed (\r, \n, \\ and \xNN are decoded, so
 * "\x1d" is Ctrl-]).  Exit: COMMAND's status (128 + N when killed by signal
 * N); 97 when it left the terminal in raw mode (no ICANON or ECHO); 98 when
 * a PATTERN did not come within SECONDS (PTYRUN_TIMEOUT, default 300; the
 * command is then killed) or before the command ended; 1 on errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SEEN_MAX	65536

static size_t decode(const char *s, char *out)
{
	size_t n = 0;
	unsigned v;

	while (*s) {
		if (s[0] != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		switch (s[1]) {
		case 'r':
			out[n++] = '\r';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'x':
			if (sscanf(s + 2, "%2x", &v) == 1) {
				out[n++] = (char)v;
				s += 2;
				break;
			}
			/* fall through */
		default:
			out[n++] = s[1];
		}
		s += 2;
	}
	return n;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

int main(int argc, char **argv)
{
	const char *t = getenv("PTYRUN_TIMEOUT");
	long timeout = t ? atol(t) : 300, deadline;
	static char seen[SEEN_MAX + 1], send[4096];
	int dash = 1, step = 1, master, slave, status, code;
	size_t nseen = 0;
	struct termios tio;
	char buf[4096];
	pid_t pid;

	while (dash < argc && strcmp(argv[dash], "--"))
		dash++;
	if (dash >= argc - 1 || (dash - 1) % 2) {
		fprintf(stderr, "usage: ptyrun [PATTERN BYTES]... -- COMMAND [ARG]...\n");
		return 1;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		perror("ptyrun: posix_openpt");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("ptyrun: fork");
		return 1;
	}
	if (pid == 0) {
		setsid();
		slave = open(ptsname(master), O_RDWR);
		if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
			perror("ptyrun: the terminal");
			_exit(127);
		}
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		close(master);
		execvp(argv[dash + 1], argv + dash + 1);
		perror("ptyrun: exec");
		_exit(127);
	}
	/* the slave stays open here: its settings can be read after the end */
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	deadline = now_s() + timeout;
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (step < dash && now_s() > deadline) {
			fprintf(stderr, "ptyrun: no '%s' within %ld s\n", argv[step], timeout);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 98;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n <= 0)
			continue;
		write_all(STDOUT_FILENO, buf, (size_t)n);
		if (nseen + (size_t)n > SEEN_MAX)
			nseen = 0;	/* a pattern across the cut is missed */
		memcpy(seen + nseen, buf, (size_t)n);
		nseen += (size_t)n;
		seen[nseen] = '\0';
		while (step < dash && memmem(seen, nseen, argv[step], strlen(argv[step]))) {
			if (write_all(master, send, decode(argv[step + 1], send)) < 0)
				perror("ptyrun: typing");
			step += 2;
			nseen = 0;
			deadline = now_s() + timeout;
		}
	}
	/* the last output */
	while (poll(&(struct pollfd){ .fd = master, .events = POLLIN }, 1, 100) > 0) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (n <= 0)
			break;
		write_all(STDOUT_FILENO, buf, (size_t)n);
	}
	code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	if (step < dash) {
		fprintf(stderr, "ptyrun: the command ended (exit %d) before '%s'\n",
			code, argv[step]);
		return 98;
	}
	if (slave >= 0 && tcgetattr(slave, &tio) == 0 &&
	    (tio.c_lflag & (ICANON | ECHO)) != (ICANON | ECHO)) {
		fprintf(stderr, "ptyrun: the command left the terminal raw (exit %d)\n", code);
		return 97;
	}
	return code;
}
