// SPDX-License-Identifier: MIT
/*
 * rpc-abuse: feed a running armvmd malformed and hostile input and check
 * that each gets the right JSON-RPC error (or a closed connection) while the
 * daemon keeps serving other clients, within its bounds (daemon.info
 * "limits").
 *
 *   rpc-abuse [--socket PATH] [--daemon PATH] [--no-private]
 *
 * Cases that need other bounds than the running daemon's (connection caps,
 * a short idle time, few file descriptors, VM definitions to destroy) run
 * against private daemons: --daemon names the binary (default: the running
 * daemon's own, /proc/PID/exe), each with its own socket, runtime and
 * state directories under /tmp.  --no-private skips them.
 *
 * Prints one line per check ("ok", "FAIL", "skip") with the figures
 * measured (the daemon's RSS, other clients' latency) and
 * "N passed, N failed"; exit 0 iff all pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "libarmvm.h"

#define MB		(1024.0 * 1024.0)
#define RSS_MAX_MB	200	/* whatever the clients send */
#define LATENCY_MAX_S	20.0	/* "answered" (not starved), generously: TCG hosts on a
				 * loaded machine took 5.2 s once; the figure is printed */

static const char *sock_path;
static int passed, failed, skipped;
/* a sanitizer build: its RSS is mostly the allocator's quarantine, so it
 * is printed but not held to RSS_MAX_MB */
static bool sanitized;

static void check(bool ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what,
	       detail && *detail ? ": " : "", detail ? detail : "");
	if (ok)
		passed++;
	else
		failed++;
	fflush(stdout);
}

static void skip(const char *what, const char *why)
{
	printf("skip %s: %s\n", what, why);
	skipped++;
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static int connect_to(const char *path, bool nonblock)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
			(nonblock ? SOCK_NONBLOCK : 0), 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* --- a connection read line by line --- */

struct lc {
	int fd;
	char *buf;
	size_t len, cap;
};

#define LC_MAX_LINE	(64u << 20)

static bool lc_open(struct lc *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = connect_to(path, false);
	return c->fd >= 0;
}

static void lc_close(struct lc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* One line within timeout_ms, parsed.  NULL on EOF (*closed), on timeout
 * or garbage (*closed false). */
static json_t *lc_read(struct lc *c, int timeout_ms, bool *closed)
{
	double deadline = now_s() + timeout_ms / 1000.0;

	*closed = false;
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			json_t *j = json_loadb(c->buf, n, JSON_DECODE_ANY, NULL);

			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return j;
		}
		if (c->len == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 65536;
			char *b = ncap <= LC_MAX_LINE ? realloc(c->buf, ncap) : NULL;

			if (!b)
				return NULL;
			c->buf = b;
			c->cap = ncap;
		}
		int left = (int)((deadline - now_s()) * 1000);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return NULL;
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*closed = true;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

/* The next answer (not a notification). */
static json_t *lc_answer(struct lc *c, int timeout_ms, bool *closed)
{
	for (;;) {
		json_t *j = lc_read(c, timeout_ms, closed);

		if (!j || !json_is_object(j) || !json_object_get(j, "method"))
			return j;
		json_decref(j);
	}
}

/* After an error: the daemon closes the connection (within timeout_ms). */
static bool lc_closed_after(struct lc *c, int timeout_ms)
{
	bool closed;
	json_t *j;

	while ((j = lc_read(c, timeout_ms, &closed)))
		json_decref(j);
	return closed;
}

static int code_of(json_t *resp)
{
	return (int)json_integer_value(json_object_get(
		json_object_get(resp, "error"), "code"));
}

static const char *limit_named(json_t *resp)
{
	const char *s = json_string_value(json_object_get(json_object_get(
		json_object_get(resp, "error"), "data"), "limit"));

	return s ? s : "";
}

/* --- the daemon --- */

static json_t *call_on(const char *path, const char *method, json_t *params,
		       int timeout_ms)
{
	struct armvm_error e = { 0 };
	json_t *result = NULL;
	int err = 0;
	struct armvm *c = armvm_connect(path, &err);

	if (!c)
		return NULL;
	if (armvm_call_timeout(c, method, params, &result, &e, timeout_ms) != ARMVM_OK) {
		json_decref(result);
		result = NULL;
	}
	armvm_error_clear(&e);
	armvm_close(c);
	return result;
}

/* The daemon answers host.info on a fresh connection through libarmvm. */
static bool serves(const char *path)
{
	json_t *r = call_on(path, "host.info", NULL, 10000);

	json_decref(r);
	return r != NULL;
}

static bool daemon_serves(void)
{
	return serves(sock_path);
}

static double limit_value(json_t *limits, const char *name, double fallback)
{
	json_t *v = json_object_get(limits, name);

	return json_is_number(v) ? json_number_value(v) : fallback;
}

/* a field of /proc/PID/status in kB; -1 when unknown */
static long proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Is the program of pid built with AddressSanitizer? */
static bool proc_sanitized(pid_t pid)
{
	static const char mark[] = "__asan_init";
	char path[64], buf[65536 + sizeof(mark)];
	size_t keep = 0;
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (!found && (n = read(fd, buf + keep, sizeof(buf) - keep)) > 0) {
		size_t len = keep + (size_t)n;

		found = memmem(buf, len, mark, sizeof(mark) - 1) != NULL;
		keep = len < sizeof(mark) ? len : sizeof(mark) - 1;
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
	return found;
}

static bool rss_ok(double mb)
{
	return sanitized || (mb >= 0 && mb < RSS_MAX_MB);
}

static double rss_mb(pid_t pid)
{
	long kb = proc_kb(pid, "VmRSS");

	return kb < 0 ? -1 : kb / 1024.0;
}

/* user + system CPU time of pid, in seconds */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long utime, stime;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after the name: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* --- private daemons --- */

struct priv {
	pid_t pid;
	char dir[64];
	char sock[128];
	char run[128];
	char state[128];
	char log[128];
};

static const char *daemon_bin;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? 0 : 0;
}

static bool write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;

	while (ok && len) {
		ssize_t n = write(fd, text, len);

		ok = n > 0;
		if (ok) {
			text += n;
			len -= (size_t)n;
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* VM definitions in STATE/vms: the daemon loads them as stopped VMs */
static bool priv_define(struct priv *p, const char *prefix, int n)
{
	char path[256], text[512];

	snprintf(path, sizeof(path), "%s/vms", p->state);
	if (mkdir(p->state, 0700) < 0 || mkdir(path, 0700) < 0)
		return false;
	for (int i = 0; i < n; i++) {
		int len = snprintf(text, sizeof(text),
			"{\"version\":1,\"name\":\"%s-%02d\",\"created_at\":%ld,"
			"\"params\":{\"kernel\":\"/nonexistent/rpc-abuse/Image\","
			"\"memory\":\"64M\"}}\n", prefix, i, (long)time(NULL));

		snprintf(path, sizeof(path), "%s/vms/%s-%02d.json", p->state, prefix, i);
		if (!write_file(path, text, (size_t)len))
			return false;
	}
	return true;
}

static void show_log(const struct priv *p, int lines)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' | sed 's/^/     | /'", lines, p->log);
	fflush(stdout);
	if (system(cmd) < 0)
		perror("system");
}

/* Lines of the daemon's log that contain what. */
static int log_count(const struct priv *p, const char *what)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(p->log, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* SIGTERM: it must exit 0, with no sanitizer report in its log. */
static void priv_stop(struct priv *p)
{
	int status = 0;
	bool clean = true;

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		for (int i = 0; i < 200; i++) {
			if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
				p->pid = 0;
				break;
			}
			sleep_s(0.05);
		}
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			clean = false;
		}
		p->pid = 0;
		clean = clean && WIFEXITED(status) && WEXITSTATUS(status) == 0;
		int reports = log_count(p, "Sanitizer") + log_count(p, "runtime error:");

		if (!clean || reports > 0) {
			check(false, "  ...the private daemon ends cleanly (exit 0, no sanitizer report)",
			      NULL);
			show_log(p, 40);
		}
	}
	if (p->dir[0])
		nftw(p->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	p->dir[0] = '\0';
}

/*
 * Start a daemon of our own with these --limit settings (NULL-terminated),
 * at most nofile descriptors (0: ours), VM definitions made by define.
 */
static bool priv_start(struct priv *p, const char *const *limits, rlim_t nofile,
		       const char *vm_prefix, int nvms)
{
	const char *argv[40];
	int argc = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/rpcab.XXXXXX");
	if (!mkdtemp(p->dir)) {
		p->dir[0] = '\0';
		return false;
	}
	snprintf(p->sock, sizeof(p->sock), "%s/armvmd.sock", p->dir);
	snprintf(p->run, sizeof(p->run), "%s/run", p->dir);
	snprintf(p->state, sizeof(p->state), "%s/state", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/armvmd.log", p->dir);
	if (nvms && !priv_define(p, vm_prefix, nvms)) {
		priv_stop(p);
		return false;
	}
	argv[argc++] = daemon_bin;
	argv[argc++] = "--socket";
	argv[argc++] = p->sock;
	argv[argc++] = "--runtime-dir";
	argv[argc++] = p->run;
	argv[argc++] = "--state-dir";
	argv[argc++] = p->state;
	argv[argc++] = "--log-level";
	argv[argc++] = "info";
	for (int i = 0; limits && limits[i] && argc < 36; i++) {
		argv[argc++] = "--limit";
		argv[argc++] = limits[i];
	}
	argv[argc] = NULL;

	fflush(stdout);
	p->pid = fork();
	if (p->pid < 0)
		return false;
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("JOURNAL_STREAM");
		if (nofile) {
			struct rlimit rl = { nofile, nofile };

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(daemon_bin, (char *const *)argv);
		fprintf(stderr, "rpc-abuse: exec %s: %s\n", daemon_bin, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int fd = connect_to(p->sock, false);

		if (fd >= 0) {
			close(fd);
			if (serves(p->sock))
				return true;
		}
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			break;
		}
		sleep_s(0.05);
	}
	printf("     (private armvmd did not come up; its log:)\n");
	show_log(p, 10);
	priv_stop(p);
	return false;
}

/* --- the cases --- */

/* One line in, expect an error code; then the same connection still works. */
static void expect_error(const char *what, const char *line, int code)
{
	struct lc c;
	bool closed;
	char detail[160];
	json_t *r;

	if (!lc_open(&c, sock_path)) {
		check(false, what, "cannot connect");
		return;
	}
	send_str(c.fd, line);
	send_str(c.fd, "\n");
	r = lc_answer(&c, 10000, &closed);
	snprintf(detail, sizeof(detail), "expected %d, got %d%s", code,
		 r ? code_of(r) : 0, closed ? " (closed)" : "");
	check(r && code_of(r) == code, what, detail);
	json_decref(r);

	send_str(c.fd, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"rpc.methods\"}\n");
	r = lc_answer(&c, 10000, &closed);
	check(r && json_is_array(json_object_get(r, "result")),
	      "  ...and the connection still serves", NULL);
	json_decref(r);
	lc_close(&c);
}

static void test_huge_line(void)
{
	size_t size = 10u << 20;
	char *big = malloc(size);
	struct lc c;
	bool closed = false, sent;
	json_t *r;

	if (!big || !lc_open(&c, sock_path)) {
		check(false, "10 MB line", "setup");
		free(big);
		return;
	}
	memset(big, ' ', size);
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"x\":\"", 48);
	big[size - 1] = '\n';
	sent = send_all(c.fd, big, size);	/* may fail once the daemon closes */
	r = lc_answer(&c, 10000, &closed);
	check((r && code_of(r) == ARMVM_E_TOO_LARGE) || closed || !sent,
	      "10 MB line gets -32001 or a closed connection", NULL);
	json_decref(r);
	lc_close(&c);
	free(big);
	check(daemon_serves(), "  ...and the daemon serves others", NULL);
}

static void test_disconnect_mid_request(void)
{
	for (int i = 0; i < 20; i++) {
		int fd = connect_to(sock_path, false);

		if (fd < 0)
			break;
		send_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth", 30);
		close(fd);
	}
	check(daemon_serves(), "clients leaving mid-request", NULL);
}

static void test_slow_client_blocks_nobody(void)
{
	int slow = connect_to(sock_path, false);

	if (slow < 0) {
		check(false, "slow client", "cannot connect");
		return;
	}
	send_all(slow, "{\"jsonrpc\":\"2.0\",", 17);
	check(daemon_serves(), "a half-sent request blocks nobody", NULL);
	close(slow);
}

static void test_flood_without_reading(void)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.methods\"}\n";
	int fd = connect_to(sock_path, false);
	int sent = 0;

	if (fd < 0) {
		check(false, "flood", "cannot connect");
		return;
	}
	/* never read: the daemon must bound what it queues for us */
	for (int i = 0; i < 20000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, 2000) <= 0 || (p.revents & (POLLERR | POLLHUP)))
			break;
		if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) <= 0)
			break;
		sent++;
	}
	check(daemon_serves(), "a client that floods and never reads", NULL);
	close(fd);
	printf("     (flood sent %d requests before blocking)\n", sent);
}

static void test_many_clients(void)
{
	enum { N = 100 };
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"host.info\"}\n";
	struct lc c[N];
	int answered = 0;
	bool closed;

	for (int i = 0; i < N; i++)
		if (lc_open(&c[i], sock_path))
			send_str(c[i].fd, req);
	for (int i = 0; i < N; i++) {
		if (c[i].fd < 0)
			continue;
		json_t *r = lc_answer(&c[i], 10000, &closed);

		if (r && json_is_object(json_object_get(r, "result")))
			answered++;
		json_decref(r);
		lc_close(&c[i]);
	}
	char detail[64];
	snprintf(detail, sizeof(detail), "%d of %d answered", answered, N);
	check(answered == N, "100 concurrent clients", detail);
}

static void test_batch(void)
{
	static const char req[] =
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\"},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"host.info\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no.such\"},7]\n";
	struct lc c;
	bool closed;
	json_t *r;

	if (!lc_open(&c, sock_path)) {
		check(false, "batch", "cannot connect");
		return;
	}
	send_str(c.fd, req);
	r = lc_answer(&c, 10000, &closed);
	check(json_is_array(r) && json_array_size(r) == 3 &&
	      code_of(json_array_get(r, 1)) == ARMVM_E_NO_METHOD &&
	      code_of(json_array_get(r, 2)) == ARMVM_E_INVALID_REQUEST,
	      "batch: results, no answer to the notification, per-item errors", NULL);
	json_decref(r);

	/* a lone notification gets nothing back */
	send_str(c.fd, "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\"}\n");
	r = lc_answer(&c, 1500, &closed);
	check(!r && !closed, "notification gets no answer", NULL);
	json_decref(r);
	lc_close(&c);
}

/* A batch line of n calls of method, as long as max_len allows (n 0). */
static char *batch_line(const char *method, size_t n, size_t max_len, size_t *calls)
{
	char item[160];
	size_t ilen, len = 1, cap;
	char *line;

	ilen = (size_t)snprintf(item, sizeof(item),
				"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
	if (!n)
		n = (max_len - 3) / (ilen + 1);
	cap = n * (ilen + 1) + 3;
	line = malloc(cap);
	if (!line)
		return NULL;
	line[0] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			line[len++] = ',';
		memcpy(line + len, item, ilen);
		len += ilen;
	}
	line[len++] = ']';
	line[len++] = '\n';
	line[len] = '\0';
	*calls = n;
	return line;
}

static void test_batch_bounds(pid_t pid, json_t *limits)
{
	size_t max_line = (size_t)limit_value(limits, "max-line", 1 << 20);
	size_t max_batch = (size_t)limit_value(limits, "max-batch", 128);
	double rss0 = rss_mb(pid), rss_max = rss0;
	char detail[200];
	size_t n, ok = 0;
	bool closed;
	char *line = batch_line("host.info", 0, max_line - 1, &n);

	if (!line) {
		check(false, "1 MiB batch", "out of memory");
		return;
	}
	for (int round = 0; round < 3; round++) {
		struct lc c;
		json_t *r;

		if (!lc_open(&c, sock_path))
			continue;
		send_str(c.fd, line);
		r = lc_answer(&c, 30000, &closed);
		if (r && json_is_object(r) && code_of(r) == ARMVM_E_INVALID_REQUEST &&
		    !strcmp(limit_named(r), "max-batch"))
			ok++;
		json_decref(r);
		lc_close(&c);
		double m = rss_mb(pid);
		if (m > rss_max)
			rss_max = m;
	}
	free(line);
	snprintf(detail, sizeof(detail), "%zu calls in %zu bytes, %zu of 3 refused "
		 "with max-batch %zu; daemon RSS %.1f -> %.1f MB", n, max_line - 1, ok,
		 max_batch, rss0, rss_max);
	check(ok == 3, "a 1 MiB line of tiny batch calls is one -32600", detail);
	check(rss_ok(rss_max), "  ...and the daemon stays small",
	      sanitized ? "sanitizer build: not measured" : NULL);

	/* the longest batch allowed, of the largest answers: answered */
	line = batch_line("rpc.methods", max_batch, 0, &n);
	if (line) {
		struct lc c;
		json_t *r = NULL;

		if (lc_open(&c, sock_path)) {
			send_str(c.fd, line);
			r = lc_answer(&c, 30000, &closed);
			lc_close(&c);
		}
		snprintf(detail, sizeof(detail), "%zu answers; RSS %.1f MB", json_array_size(r),
			 rss_mb(pid));
		check(json_is_array(r) && json_array_size(r) == n,
		      "a batch of max-batch rpc.methods is answered", detail);
		json_decref(r);
		free(line);
	}
}

/*
 * A child that never reads, until killed: first a line as long as allowed
 * of rpc.methods calls (the largest answers there are), then batches of
 * max-batch of them.
 */
static void readless_child(const char *huge, const char *line)
{
	int small = 4096;

	alarm(60);
	for (;;) {
		int fd = connect_to(sock_path, false);

		if (fd < 0) {
			sleep_s(0.2);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		if (send_str(fd, huge))
			while (send_str(fd, line))
				;
		close(fd);	/* the daemon gave up on us: again */
	}
}

static void test_readless_clients(pid_t pid, json_t *limits)
{
	enum { KIDS = 8, CALLS = 100 };
	size_t max_batch = (size_t)limit_value(limits, "max-batch", 128), n, nhuge;
	size_t max_line = (size_t)limit_value(limits, "max-line", 1 << 20);
	double rss0 = rss_mb(pid), rss_max = rss0, lat_max = 0, lat_sum = 0;
	char *line = batch_line("rpc.methods", max_batch, 0, &n);
	char *huge = batch_line("rpc.methods", 0, max_line - 1, &nhuge);
	pid_t kids[KIDS];
	struct armvm_error e = { 0 };
	struct armvm *c = NULL;
	int answered = 0, err = 0;
	char detail[256];

	if (!line || !huge) {
		check(false, "8 clients that never read", "out of memory");
		free(line);
		free(huge);
		return;
	}
	fflush(stdout);
	for (int i = 0; i < KIDS; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			readless_child(huge, line);
	}
	sleep_s(1.5);
	c = armvm_connect(sock_path, &err);
	for (int i = 0; c && i < CALLS; i++) {
		json_t *result = NULL;
		double t = now_s();

		if (armvm_call_timeout(c, "host.info", NULL, &result, &e, 30000) == ARMVM_OK)
			answered++;
		t = now_s() - t;
		json_decref(result);
		armvm_error_clear(&e);
		lat_sum += t;
		if (t > lat_max)
			lat_max = t;
		if (i % 10 == 0) {
			double m = rss_mb(pid);

			if (m > rss_max)
				rss_max = m;
		}
	}
	double m = rss_mb(pid);
	if (m > rss_max)
		rss_max = m;
	armvm_close(c);
	for (int i = 0; i < KIDS; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	free(line);
	free(huge);
	snprintf(detail, sizeof(detail), "daemon RSS %.1f -> max %.1f MB (peak of the "
		 "process %.1f MB)", rss0, rss_max, proc_kb(pid, "VmHWM") / 1024.0);
	if (sanitized)
		strcat(detail, "; sanitizer build: not measured");
	check(rss_ok(rss_max), "8 clients that send 1 MiB of rpc.methods calls, "
	      "then batches of them, and never read", detail);
	snprintf(detail, sizeof(detail), "%d of %d host.info answered, max %.1f ms, "
		 "mean %.1f ms", answered, CALLS, lat_max * 1000,
		 answered ? lat_sum / CALLS * 1000 : 0);
	check(answered == CALLS && lat_max < LATENCY_MAX_S,
	      "  ...meanwhile another client is answered", detail);
	check(daemon_serves(), "  ...and the daemon serves once they are gone", NULL);
}

static void test_subscription_cap(json_t *limits)
{
	unsigned max = (unsigned)limit_value(limits, "max-subscriptions", 0);
	unsigned ok = 0;
	char detail[160], line[128];
	json_t *r = NULL;
	struct lc c;
	bool closed;

	if (!max || max > 100000) {
		skip("subscriptions past max-subscriptions", "the daemon names no bound");
		return;
	}
	if (!lc_open(&c, sock_path)) {
		check(false, "subscriptions past the cap", "cannot connect");
		return;
	}
	for (unsigned i = 0; i <= max; i++) {
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%u,"
			 "\"method\":\"events.subscribe\"}\n", i);
		send_str(c.fd, line);
	}
	for (unsigned i = 0; i <= max; i++) {
		json_decref(r);
		r = lc_answer(&c, 10000, &closed);
		if (!r)
			break;
		ok += json_object_get(r, "result") != NULL;
	}
	snprintf(detail, sizeof(detail), "%u of %u accepted, the next: %d %s", ok, max + 1,
		 r ? code_of(r) : 0, r ? limit_named(r) : "(nothing)");
	check(ok == max && r && code_of(r) == ARMVM_E_LIMIT &&
	      !strcmp(limit_named(r), "max-subscriptions"),
	      "one connection subscribing past max-subscriptions", detail);
	json_decref(r);
	send_str(c.fd, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"rpc.methods\"}\n");
	r = lc_answer(&c, 10000, &closed);
	check(r && json_object_get(r, "result"), "  ...and the connection still serves", NULL);
	json_decref(r);
	lc_close(&c);
}

/* vm.console with a huge bytes is answered, not dropped */
static void console_huge(const char *path, const char *vm, json_t *limits,
			 const char *what)
{
	double max = limit_value(limits, "max-console-bytes", 0);
	char line[256], detail[200];
	json_t *r, *out;
	struct lc c;
	bool closed;

	if (!lc_open(&c, path)) {
		check(false, what, "cannot connect");
		return;
	}
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.console\","
		 "\"params\":{\"name\":\"%s\",\"bytes\":9007199254740991}}\n", vm);
	send_str(c.fd, line);
	r = lc_answer(&c, 30000, &closed);
	out = json_object_get(json_object_get(r, "result"), "output");
	if (out)
		snprintf(detail, sizeof(detail), "%zu bytes of output (max-console-bytes %.0f)",
			 json_string_length(out), max);
	else
		snprintf(detail, sizeof(detail), "error %d %s%s", r ? code_of(r) : 0,
			 r ? json_string_value(json_object_get(json_object_get(r, "error"),
							       "message")) : "",
			 closed ? " (closed)" : r ? "" : "(no answer)");
	check(r && (!out || !max || json_string_length(out) <= max), what, detail);
	json_decref(r);
	lc_close(&c);
}

/* past max-clients (and per uid): the error, then the close */
static void expect_refused(const char *path, const char *limit, const char *what)
{
	char detail[160];
	json_t *r = NULL;
	struct lc c;
	bool closed = false, after = false;

	if (lc_open(&c, path)) {
		/* a request may or may not be read: the answer is the same */
		send_str(c.fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\"}\n");
		r = lc_read(&c, 10000, &closed);
		after = r && lc_closed_after(&c, 5000);
		lc_close(&c);
	}
	snprintf(detail, sizeof(detail), "got %d %s%s", r ? code_of(r) : 0,
		 r ? limit_named(r) : closed ? "(closed without an answer)" : "(nothing)",
		 r && !after ? ", not closed" : "");
	check(r && code_of(r) == ARMVM_E_LIMIT && !strcmp(limit_named(r), limit) && after,
	      what, detail);
	json_decref(r);
}

static bool lc_call_ok(struct lc *c, const char *method)
{
	char line[128];
	bool closed;
	json_t *r;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}\n",
		 method);
	if (!send_str(c->fd, line))
		return false;
	bool ok;

	r = lc_answer(c, 10000, &closed);
	ok = r && json_object_get(r, "result");
	json_decref(r);
	return ok;
}

static void test_connection_caps(void)
{
	enum { MAX = 6 };
	static const char *const limits[] = {
		"max-clients=6", "max-clients-per-uid=100", "idle-partial=1", NULL,
	};
	struct lc c[MAX];
	struct priv p;
	int served = 0;
	char detail[160];

	if (!priv_start(&p, limits, 0, NULL, 0)) {
		check(false, "max-clients", "cannot start a private armvmd");
		return;
	}
	for (int i = 0; i < MAX; i++)
		if (lc_open(&c[i], p.sock) && lc_call_ok(&c[i], "host.info"))
			served++;
	snprintf(detail, sizeof(detail), "%d of %d served", served, MAX);
	check(served == MAX, "connections up to max-clients (6)", detail);
	expect_refused(p.sock, "max-clients", "  ...one more gets -32009 max-clients, then the close");
	check(served == MAX && lc_call_ok(&c[1], "host.info"),
	      "  ...and those connected are still served", NULL);
	/* one leaves: room for another */
	lc_close(&c[0]);
	bool again = false;
	for (int i = 0; i < 50 && !again; i++) {
		sleep_s(0.05);
		again = lc_open(&c[0], p.sock) && lc_call_ok(&c[0], "host.info");
		if (!again)
			lc_close(&c[0]);
	}
	check(again, "  ...one leaves, another is served", NULL);

	/* an incomplete line held past idle-partial: the error, then the close */
	double t = now_s();
	bool closed = false;
	json_t *r;

	send_str(c[2].fd, "{\"jsonrpc\":\"2.0\",\"id\":1,");
	r = lc_read(&c[2], 10000, &closed);
	t = now_s() - t;
	bool after = r && lc_closed_after(&c[2], 5000);
	snprintf(detail, sizeof(detail), "got %d %s after %.2f s%s", r ? code_of(r) : 0,
		 r ? limit_named(r) : "(nothing)", t, after ? ", then the close" : "");
	check(r && code_of(r) == ARMVM_E_LIMIT && !strcmp(limit_named(r), "idle-partial") &&
	      t > 0.8 && t < 5 && after, "an incomplete line held past idle-partial (1 s)",
	      detail);
	json_decref(r);
	/* a slow but complete request is no idle line */
	send_str(c[3].fd, "\n");
	sleep_s(0.6);
	send_str(c[3].fd, "\n");
	sleep_s(0.6);
	check(lc_call_ok(&c[3], "host.info"), "  ...keep-alive lines are not idle", NULL);

	for (int i = 0; i < MAX; i++)
		lc_close(&c[i]);
	check(p.pid > 0 && kill(p.pid, 0) == 0 && serves(p.sock),
	      "  ...the private daemon still serves", NULL);
	priv_stop(&p);
}

static void test_per_uid_cap(void)
{
	enum { MAX = 3 };
	static const char *const limits[] = { "max-clients-per-uid=3", NULL };
	struct lc c[MAX];
	struct priv p;
	int served = 0;

	if (!priv_start(&p, limits, 0, NULL, 0)) {
		check(false, "max-clients-per-uid", "cannot start a private armvmd");
		return;
	}
	for (int i = 0; i < MAX; i++)
		if (lc_open(&c[i], p.sock) && lc_call_ok(&c[i], "host.info"))
			served++;
	check(served == MAX, "connections of one uid up to max-clients-per-uid (3)", NULL);
	expect_refused(p.sock, "max-clients-per-uid",
		       "  ...one more gets -32009 max-clients-per-uid, then the close");
	for (int i = 0; i < MAX; i++)
		lc_close(&c[i]);
	priv_stop(&p);
}

/*
 * Subscribers that disconnect while events are being delivered to them:
 * each round destroys VMs (a "destroyed" state event each) while sixteen
 * subscribers leave, some with a request the daemon has not read.
 */
static void test_events_disconnect(void)
{
	enum { ROUNDS = 10, PER_ROUND = 4, SUBS = 16, NVMS = ROUNDS * PER_ROUND };
	struct priv p;
	struct lc watcher, ctl, subs[SUBS];
	json_t *info, *limits, *list;
	int destroyed = 0, events = 0, answered_rounds = 0;
	char line[1024], detail[200];
	bool closed;

	if (!priv_start(&p, NULL, 0, "abuse", NVMS)) {
		check(false, "disconnect during event delivery", "cannot start a private armvmd");
		return;
	}
	info = call_on(p.sock, "daemon.info", NULL, 10000);
	limits = json_object_get(info, "limits");
	list = call_on(p.sock, "vm.list", NULL, 10000);
	if (json_array_size(list) != NVMS) {
		snprintf(detail, sizeof(detail), "%zu of %d definitions loaded",
			 json_array_size(list), NVMS);
		skip("disconnect during event delivery", detail);
		json_decref(list);
		json_decref(info);
		priv_stop(&p);
		return;
	}
	json_decref(list);

	/* vm.console on a VM whose log grew huge (8 MiB) */
	json_t *params = json_pack("{s:s}", "name", "abuse-00");
	json_t *vm = call_on(p.sock, "vm.info", params, 10000);
	const char *log = json_string_value(json_object_get(vm, "console_log"));

	json_decref(params);
	if (log) {
		char dir[256], *slash;
		size_t big = 8u << 20;
		char *text = malloc(big);

		snprintf(dir, sizeof(dir), "%s", log);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		mkdir(p.run, 0755);
		snprintf(line, sizeof(line), "%s/vms", p.run);
		mkdir(line, 0755);
		mkdir(dir, 0755);
		for (size_t i = 0; text && i < big; i++)
			text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
		if (text && write_file(log, text, big))
			console_huge(p.sock, "abuse-00", limits,
				     "vm.console with a huge bytes on an 8 MiB log is answered");
		else
			skip("vm.console on an 8 MiB log", "cannot write the log");
		free(text);
	} else {
		skip("vm.console on an 8 MiB log", "vm.info names no console_log");
	}
	json_decref(vm);

	if (!lc_open(&watcher, p.sock) || !lc_call_ok(&watcher, "events.subscribe") ||
	    !lc_open(&ctl, p.sock)) {
		check(false, "disconnect during event delivery", "cannot subscribe");
		json_decref(info);
		priv_stop(&p);
		return;
	}
	for (int round = 0; round < ROUNDS; round++) {
		size_t len = 0;

		for (int i = 0; i < SUBS; i++) {
			if (!lc_open(&subs[i], p.sock))
				continue;
			lc_call_ok(&subs[i], "events.subscribe");
			if (i % 2)
				lc_call_ok(&subs[i], "events.subscribe");
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, "[");
		for (int k = 0; k < PER_ROUND; k++)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
				"%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"vm.destroy\","
				"\"params\":{\"name\":\"abuse-%02d\"}}", k ? "," : "", k,
				round * PER_ROUND + k);
		snprintf(line + len, sizeof(line) - len, "]\n");
		/* the events race the subscribers' leaving: both orders */
		if (round % 2)
			send_str(ctl.fd, line);
		for (int i = 0; i < SUBS; i++) {
			if (subs[i].fd < 0)
				continue;
			if (i % 3 == 0)
				send_str(subs[i].fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"rpc.methods\"}\n");
			if (i % 4 == 1)
				shutdown(subs[i].fd, SHUT_WR);
			lc_close(&subs[i]);
		}
		if (!(round % 2))
			send_str(ctl.fd, line);
		json_t *r = lc_answer(&ctl, 10000, &closed);

		if (json_is_array(r)) {
			answered_rounds++;
			for (size_t k = 0; k < json_array_size(r); k++)
				destroyed += json_object_get(json_array_get(r, k), "result") != NULL;
		}
		json_decref(r);
	}
	/* the watcher saw every VM go */
	for (;;) {
		json_t *ev = lc_read(&watcher, 3000, &closed);

		if (!ev)
			break;
		json_t *pr = json_object_get(ev, "params");
		const char *st = json_string_value(json_object_get(pr, "state"));

		events += st && !strcmp(st, "destroyed");
		json_decref(ev);
		if (events == NVMS)
			break;
	}
	snprintf(detail, sizeof(detail), "%d rounds, %d VMs destroyed, %d events seen by "
		 "a subscriber that stayed, %d subscribers came and went; RSS %.1f MB",
		 answered_rounds, destroyed, events, ROUNDS * SUBS, rss_mb(p.pid));
	check(answered_rounds == ROUNDS && destroyed == NVMS && events == NVMS &&
	      kill(p.pid, 0) == 0 && waitpid(p.pid, NULL, WNOHANG) == 0,
	      "subscribers disconnecting during event delivery", detail);
	check(serves(p.sock), "  ...and the daemon serves", NULL);
	lc_close(&watcher);
	lc_close(&ctl);
	json_decref(info);
	priv_stop(&p);
}

/*
 * Out of descriptors: a daemon with 64 gets 150 connections.  It must not
 * spin on accept (its CPU time over 2 s stays small), must serve the
 * clients it has, and must serve new ones once the others leave.
 */
static void test_emfile(void)
{
	enum { N = 150, NOFILE = 64 };
	static const char *const limits[] = { "max-clients=1000", "max-clients-per-uid=1000", NULL };
	int fds[N], connected = 0;
	struct priv p;
	struct lc pre;
	char detail[200];

	if (!priv_start(&p, limits, NOFILE, NULL, 0)) {
		check(false, "EMFILE", "cannot start a private armvmd");
		return;
	}
	if (!lc_open(&pre, p.sock) || !lc_call_ok(&pre, "host.info")) {
		check(false, "EMFILE", "the first client is not served");
		lc_close(&pre);
		priv_stop(&p);
		return;
	}
	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(p.sock, true);
		connected += fds[i] >= 0;
	}
	sleep_s(0.5);
	double cpu0 = proc_cpu_s(p.pid), t0 = now_s();

	sleep_s(2);
	double cpu = proc_cpu_s(p.pid) - cpu0, t = now_s() - t0;
	bool pre_ok = lc_call_ok(&pre, "host.info");
	int lines = log_count(&p, "accept:");

	snprintf(detail, sizeof(detail), "%d connections to a daemon with %d fds: CPU "
		 "%.2f s in %.1f s, %d accept messages logged", connected, NOFILE, cpu, t,
		 lines);
	check(cpu >= 0 && cpu < 0.3 && lines >= 0 && lines <= 5,
	      "out of descriptors, the daemon does not spin", detail);
	check(pre_ok, "  ...and serves the clients it has", NULL);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	bool again = false;
	double t1 = now_s();

	for (int i = 0; i < 100 && !again; i++) {
		again = serves(p.sock);
		if (!again)
			sleep_s(0.1);
	}
	snprintf(detail, sizeof(detail), "after %.2f s", now_s() - t1);
	check(again, "  ...and serves new ones once they close", detail);
	lc_close(&pre);
	priv_stop(&p);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "daemon", required_argument, NULL, 'D' },
		{ "no-private", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static char exe[4096];
	bool private = true;
	json_t *info, *limits;
	pid_t pid;
	int c;

	sock_path = armvm_default_socket();
	while ((c = getopt_long(argc, argv, "s:D:n", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'D':
			daemon_bin = optarg;
			break;
		case 'n':
			private = false;
			break;
		default:
			fprintf(stderr, "usage: rpc-abuse [--socket PATH] [--daemon PATH] "
				"[--no-private]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);

	check(daemon_serves(), "daemon answers host.info", sock_path);
	info = call_on(sock_path, "daemon.info", NULL, 10000);
	limits = json_object_get(info, "limits");
	pid = (pid_t)json_integer_value(json_object_get(info, "pid"));
	if (!limits)
		printf("     (daemon.info names no limits: the defaults are assumed)\n");
	if (!daemon_bin && pid > 0) {
		char path[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (!strstr(exe, " (deleted)"))
				daemon_bin = exe;
		}
	}
	sanitized = pid > 0 && proc_sanitized(pid);
	printf("     (daemon pid %d, RSS %.1f MB%s)\n", (int)pid, rss_mb(pid),
	       sanitized ? ", a sanitizer build: RSS not held to a bound" : "");

	expect_error("not JSON", "this is not json", ARMVM_E_PARSE);
	expect_error("binary garbage", "\x01\x02\xff\xfe{{", ARMVM_E_PARSE);
	expect_error("JSON, not JSON-RPC", "{\"hello\":\"world\"}", ARMVM_E_INVALID_REQUEST);
	expect_error("a bare number", "42", ARMVM_E_INVALID_REQUEST);
	expect_error("wrong version",
		     "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"host.info\"}",
		     ARMVM_E_INVALID_REQUEST);
	expect_error("empty batch", "[]", ARMVM_E_INVALID_REQUEST);
	expect_error("unknown method",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.explode\"}",
		     ARMVM_E_NO_METHOD);
	expect_error("unknown parameter",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"params\":{\"verbose\":true}}",
		     ARMVM_E_INVALID_PARAMS);
	expect_error("params of the wrong kind",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"params\":\"all\"}",
		     ARMVM_E_INVALID_REQUEST);
	test_batch();
	test_huge_line();
	test_disconnect_mid_request();
	test_slow_client_blocks_nobody();
	test_flood_without_reading();
	test_many_clients();
	test_batch_bounds(pid, limits);
	test_readless_clients(pid, limits);
	test_subscription_cap(limits);
	console_huge(sock_path, "rpc-abuse-no-such-vm", limits,
		     "vm.console with a huge bytes is answered");

	if (!private) {
		skip("private daemons", "--no-private");
	} else if (!daemon_bin) {
		skip("private daemons", "no daemon binary (--daemon PATH)");
	} else {
		printf("     (private daemons: %s)\n", daemon_bin);
		test_connection_caps();
		test_per_uid_cap();
		test_events_disconnect();
		test_emfile();
	}

	check(daemon_serves(), "daemon still answers at the end", NULL);
	printf("     (daemon RSS at the end %.1f MB, peak %.1f MB)\n", rss_mb(pid),
	       proc_kb(pid, "VmHWM") / 1024.0);
	json_decref(info);

	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
