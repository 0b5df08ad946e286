// SPDX-License-Identifier: MIT
/*
 * fake-worker: pretend to be the worker of a running VM, for daemon tests
 * that need a worker without KVM (natively) or one that misbehaves.
 *
 *   fake-worker [--proto N | --no-proto] [--pidfile FILE] RUNTIME NAME
 *
 * Writes RUNTIME/vms/NAME/spec.json (a definition whose kernel does not
 * exist: the daemon only rebuilds it) and serves JSON-RPC 2.0 on
 * RUNTIME/vms/NAME/control.sock, any number of requests per connection and
 * several connections at once, the way a worker does:
 *
 *   worker.info       {"pid", "running", "paused", "uptime", "proto"}
 *                     ("proto" is N, default 2; left out with --no-proto,
 *                     like a worker of the first release)
 *   worker.subscribe  {"subscribed": true}; the connection then gets
 *                     worker.event notifications (paused, resumed)
 *   worker.console    {"output": "", "total_bytes": 0}
 *   worker.pause/resume/start/reboot/set   a result, the state follows
 *   worker.stop       {"state": "stopped"}, then exit.json (code 0) and exit 0
 *   anything else     {} (a result)
 *
 * A daemon started with --runtime-dir RUNTIME re-adopts it.  The tests stop
 * it with SIGSTOP to play a hung worker.  SIGTERM/SIGINT end it like
 * worker.stop.  Prints one "fake-worker: ..." line when it is serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_CONNS	64
#define MAX_LINE	(1 << 20)

struct conn {
	int fd;
	bool subscribed;
	size_t len;
	char *buf;
};

static struct conn conns[MAX_CONNS];
static char dir[4096], sock_path[4200];
static int proto = 2;
static bool running = true, paused;
static struct timespec t0;
static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	quit = sig;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

static int write_json(const char *name, json_t *j)
{
	char path[4200], tmp[4300];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	r = json_dump_file(j, tmp, JSON_COMPACT);
	if (r == 0 && rename(tmp, path) < 0)
		r = -1;
	json_decref(j);
	return r;
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

static bool send_json(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	bool ok = s && send_all(fd, s, strlen(s)) && send_all(fd, "\n", 1);

	free(s);
	return ok;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	*c = (struct conn){ .fd = -1 };
}

static void emit(const char *kind)
{
	json_t *msg = json_pack("{s:s, s:s, s:{s:s}}", "jsonrpc", "2.0",
				"method", "worker.event", "params", "kind", kind);

	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].subscribed && !send_json(conns[i].fd, msg))
			conn_close(&conns[i]);
	json_decref(msg);
}

static double uptime(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return 1.0 + (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
}

static void finish(const char *reason)
{
	unlink(sock_path);
	write_json("exit.json", json_pack("{s:i, s:s}", "code", 0, "reason", reason));
	exit(0);
}

/* The result of one method; *stop set when the worker is to end after it. */
static json_t *handle(struct conn *c, const char *method, json_t *params, bool *stop)
{
	if (!strcmp(method, "worker.info")) {
		json_t *r = json_pack("{s:i, s:b, s:b, s:f, s:s, s:s}",
				      "pid", (int)getpid(), "running", running && !paused,
				      "paused", paused, "uptime", uptime(),
				      "on_poweroff", "stop", "on_reboot", "restart");

		if (proto > 0)
			json_object_set_new(r, "proto", json_integer(proto));
		return r;
	}
	if (!strcmp(method, "worker.subscribe")) {
		c->subscribed = true;
		return json_pack("{s:b}", "subscribed", 1);
	}
	if (!strcmp(method, "worker.console"))
		return json_pack("{s:s, s:i}", "output", "", "total_bytes", 0);
	if (!strcmp(method, "worker.pause")) {
		if (!paused) {
			paused = true;
			emit("paused");
		}
		return json_pack("{s:s}", "state", "paused");
	}
	if (!strcmp(method, "worker.resume")) {
		if (paused) {
			paused = false;
			emit("resumed");
		}
		return json_pack("{s:s}", "state", "running");
	}
	if (!strcmp(method, "worker.start")) {
		running = true;
		return json_pack("{s:s}", "state", "running");
	}
	if (!strcmp(method, "worker.reboot"))
		return json_pack("{s:s}", "state", "rebooting");
	if (!strcmp(method, "worker.set")) {
		json_t *r = json_object();

		if (json_is_object(params))
			json_object_update(r, params);
		return r;
	}
	if (!strcmp(method, "worker.stop")) {
		*stop = true;
		return json_pack("{s:s}", "state", "stopped");
	}
	return json_object();
}

/* The answer to one request (NULL for a notification). */
static json_t *answer(struct conn *c, json_t *req, bool *stop)
{
	json_t *id = json_object_get(req, "id");
	const char *method = json_string_value(json_object_get(req, "method"));
	json_t *res;

	if (!json_is_object(req) || !method)
		return json_pack("{s:s, s:{s:i, s:s}, s:n}", "jsonrpc", "2.0", "error",
				 "code", -32600, "message", "not a request", "id");
	res = handle(c, method, json_object_get(req, "params"), stop);
	if (!id) {
		json_decref(res);
		return NULL;
	}
	return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", res, "id", id);
}

static void line(struct conn *c, const char *text)
{
	json_error_t jerr;
	json_t *req = json_loads(text, JSON_DECODE_ANY, &jerr), *out = NULL;
	bool stop = false;

	if (!req) {
		out = json_pack("{s:s, s:{s:i, s:s}, s:n}", "jsonrpc", "2.0", "error",
				"code", -32700, "message", jerr.text, "id");
	} else if (json_is_array(req)) {
		size_t i;
		json_t *r, *a;

		out = json_array();
		json_array_foreach(req, i, r)
			if ((a = answer(c, r, &stop)))
				json_array_append_new(out, a);
		if (!json_array_size(out)) {
			json_decref(out);
			out = NULL;
		}
	} else {
		out = answer(c, req, &stop);
	}
	json_decref(req);
	if (out && !send_json(c->fd, out))
		conn_close(c);
	json_decref(out);
	if (stop)
		finish("stopped on request (fake worker)");
}

static void conn_read(struct conn *c)
{
	char *nl;
	ssize_t n;

	if (!c->buf && !(c->buf = malloc(MAX_LINE + 1))) {
		conn_close(c);
		return;
	}
	n = recv(c->fd, c->buf + c->len, MAX_LINE - c->len, 0);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t used = (size_t)(nl - c->buf) + 1;

		*nl = '\0';
		if (nl > c->buf)
			line(c, c->buf);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		c->buf[c->len] = '\0';
	}
	if (c->fd >= 0 && c->len == MAX_LINE)
		conn_close(c);		/* a line too long for any worker */
}

static void usage(void)
{
	fprintf(stderr, "usage: fake-worker [--proto N | --no-proto] [--pidfile FILE] RUNTIME NAME\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "proto", required_argument, NULL, 'p' },
		{ "no-proto", no_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *pidfile = NULL;
	json_t *spec;
	int o, lfd;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': proto = atoi(optarg); break;
		case 'n': proto = 0; break;
		case 'f': pidfile = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 2)
		usage();
	snprintf(dir, sizeof(dir), "%s/vms/%s", argv[optind], argv[optind + 1]);
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "fake-worker: %s: path too long for a socket\n", sock_path);
		return 2;
	}
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mkdir_p(dir) < 0) {
		fprintf(stderr, "fake-worker: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	spec = json_pack("{s:{s:s, s:s, s:s, s:i}, s:{}}", "params", "name", argv[optind + 1],
			 "kernel", "/nonexistent", "memory", "16M", "cpus", 1, "host");
	if (write_json("spec.json", spec) < 0) {
		fprintf(stderr, "fake-worker: cannot write %s/spec.json\n", dir);
		return 1;
	}
	unlink(sock_path);
	strcpy(addr.sun_path, sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 16) < 0) {
		fprintf(stderr, "fake-worker: %s: %s\n", sock_path, strerror(errno));
		return 1;
	}
	chmod(sock_path, 0600);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	printf("fake-worker: %s pid %d proto %d on %s\n", argv[optind + 1], (int)getpid(),
	       proto, sock_path);
	fflush(stdout);

	while (!quit) {
		struct pollfd p[MAX_CONNS + 1];
		int idx[MAX_CONNS + 1], n = 0;

		p[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		idx[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
			idx[n++] = i;
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("fake-worker: poll");
			return 1;
		}
		for (int k = 1; k < n; k++)
			if (p[k].revents && conns[idx[k]].fd == p[k].fd)
				conn_read(&conns[idx[k]]);
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int i;

			for (i = 0; fd >= 0 && i < MAX_CONNS && conns[i].fd >= 0; i++)
				;
			if (fd >= 0 && i == MAX_CONNS)
				close(fd);
			else if (fd >= 0)
				conns[i] = (struct conn){ .fd = fd };
		}
	}
	finish(quit == SIGTERM ? "ended by SIGTERM (fake worker)" : "ended by a signal (fake worker)");
	return 0;
}
