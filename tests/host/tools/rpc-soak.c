// SPDX-License-Identifier: MIT
/*
 * rpc-soak: many clients at once against a live armvmd, then check that
 * the daemon gave back the descriptors and memory they cost.
 *
 *   rpc-soak [--socket PATH] [--clients N] [--calls N] [--subscribers N]
 *            [--cycles N --kernel IMG [--kernel IMG2]... [--memory SIZE]]
 *            [--vm-name NAME] [--toggle VM] [--pid PID] [--settle SEC]
 *            [--rss-slack KIB] [--timeout SEC]
 *
 * Phases, with N subscribers (default 4) connecting, calling
 * events.subscribe and disconnecting in a loop all along (closing at once,
 * after the answer, after a half-close, or with a VM filter):
 *
 *   cold      the daemon's fd count (/proc/PID/fd) and RSS (Rss of
 *             /proc/PID/smaps_rollup: VmRSS, counted exactly)
 *   warm-up   every client makes a few calls, two VM cycles: the daemon's
 *             allocator reaches its working size; then the baseline
 *   cycles    --cycles times vm.create (start false), vm.start and
 *             vm.destroy of --vm-name (default soakvm) with the --kernel
 *             images in turn (bare-metal payloads; none by default)
 *   calls     --clients (50) threads make --calls (10000) calls in all over
 *             their own connections (a new one every 50 calls): host.info,
 *             vm.list, daemon.info, rpc.methods, a batch, and bad requests
 *             (not JSON, not a request, no such method, bad params, no such
 *             VM) that must get their error codes; with --toggle VM, one
 *             more thread pauses and resumes VM meanwhile
 *   after     once every client is gone, fds and RSS again (retried for up
 *             to --settle seconds, default 10)
 *
 * PID is daemon.info's pid unless given.  Fails (exit 1) when an answer is
 * not the one expected, a call gets no answer within --timeout seconds
 * (default 60; 180 for the VM calls), the fd count differs from the
 * baseline, or RSS grew more than --rss-slack KiB (default 1024; -1: not
 * checked, for sanitizer builds).  Prints "FIGURE soak ..." lines with the
 * figures and a last line "rpc-soak: PASS" or "rpc-soak: FAIL (why)".
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_KERNELS	4
#define RECONNECT_EVERY	50

static struct {
	const char *sock;
	int clients, subscribers;
	long calls, cycles;
	const char *kernels[MAX_KERNELS];
	int nkernels;
	const char *memory, *vm_name, *toggle;
	int pid;
	double settle_s, timeout_s;
	long rss_slack_kib, warmup;
} opt = {
	.clients = 50, .subscribers = 4, .calls = 10000, .memory = "16M",
	.vm_name = "soakvm", .settle_s = 10, .timeout_s = 60, .rss_slack_kib = 1024,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long n_ok, n_expected_err, n_unexpected, n_sub_cycles, n_events, n_toggles;
static volatile int subs_stop, toggle_stop;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void count(long *what, long n)
{
	pthread_mutex_lock(&lock);
	*what += n;
	pthread_mutex_unlock(&lock);
}

/* An unexpected answer: counted, the first 20 printed. */
static void unexpected(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lock);
	if (++n_unexpected <= 20) {
		printf("unexpected: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		fflush(stdout);
	}
	pthread_mutex_unlock(&lock);
}

/* ---- a raw line client ---- */

struct link {
	int fd;
	char *buf;
	size_t len, cap;
};

static int link_open(struct link *l)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	l->len = 0;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", opt.sock);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (connect(l->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(l->fd);
		l->fd = -1;
		return -e;
	}
	return 0;
}

static void link_close(struct link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->len = 0;
}

static bool link_send(struct link *l, const char *text)
{
	size_t len = strlen(text);

	while (len) {
		ssize_t n = send(l->fd, text, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* Next JSON line within timeout_s: 1 and *msg, 0 timeout, -1 closed, -2 not JSON. */
static int link_read(struct link *l, double timeout_s, json_t **msg)
{
	double deadline = now_s() + timeout_s;

	for (;;) {
		char *nl = l->len ? memchr(l->buf, '\n', l->len) : NULL;

		if (nl) {
			size_t used = (size_t)(nl - l->buf) + 1;

			*nl = '\0';
			*msg = json_loads(l->buf, JSON_DECODE_ANY, NULL);
			memmove(l->buf, l->buf + used, l->len - used);
			l->len -= used;
			return *msg ? 1 : -2;
		}
		if (l->cap - l->len < 65536) {
			char *b = realloc(l->buf, l->cap * 2 + 65536);

			if (!b)
				return -1;
			l->buf = b;
			l->cap = l->cap * 2 + 65536;
		}
		double left = deadline - now_s();
		struct pollfd p = { .fd = l->fd, .events = POLLIN };
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : 0;
		ssize_t n = recv(l->fd, l->buf + l->len, l->cap - l->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		l->len += (size_t)n;
	}
}

/* The answer to the request just sent (notifications skipped), or NULL. */
static json_t *link_answer(struct link *l, double timeout_s, const char *what)
{
	double deadline = now_s() + timeout_s;
	json_t *m;

	for (;;) {
		int r = link_read(l, deadline - now_s(), &m);

		if (r == 0) {
			unexpected("%s: no answer within %.0f s", what, timeout_s);
			return NULL;
		}
		if (r < 0) {
			unexpected("%s: %s", what, r == -2 ? "an answer that is not JSON"
				   : "connection closed without an answer");
			return NULL;
		}
		if (json_is_object(m) && json_object_get(m, "method") &&
		    !json_object_get(m, "id")) {
			json_decref(m);		/* an event */
			continue;
		}
		return m;
	}
}

static int error_code(json_t *m)
{
	json_t *e = json_object_get(m, "error");

	return e ? (int)json_integer_value(json_object_get(e, "code")) : 0;
}

/* ---- one call and its check ---- */

enum { EXPECT_RESULT = 0 };

struct kind {
	const char *what;
	const char *tmpl;	/* request line; # = its id */
	int expect;		/* 0: a result; else the error code */
	int batch;		/* an array of this many answers */
};

static const struct kind kinds[] = {
	{ "host.info", "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\",\"id\":#}\n", 0, 0 },
	{ "vm.list", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":#}\n", 0, 0 },
	{ "daemon.info", "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":#}\n", 0, 0 },
	{ "vm.list", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"params\":{},\"id\":#}\n", 0, 0 },
	{ "host.info", "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\",\"id\":#}\n", 0, 0 },
	{ "rpc.methods", "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.methods\",\"id\":#}\n", 0, 0 },
	{ "daemon.info", "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":#}\n", 0, 0 },
	{ "vm.list", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":#}\n", 0, 0 },
	{ "batch", "[{\"jsonrpc\":\"2.0\",\"method\":\"host.info\",\"id\":#},"
	  "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":\"b\"},"
	  "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\",\"id\":\"c\"}]\n", 0, 3 },
	{ "host.info", "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\",\"id\":#}\n", 0, 0 },
	{ "vm.list", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":#}\n", 0, 0 },
	{ "not JSON", "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\",\"id\":#,\n", -32700, 0 },
	{ "not a request", "{\"jsonrpc\":\"2.0\",\"method\":42,\"id\":#}\n", -32600, 0 },
	{ "no such method", "{\"jsonrpc\":\"2.0\",\"method\":\"no.such.method\",\"id\":#}\n",
	  -32601, 0 },
	{ "bad params", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.info\",\"params\":{\"name\":5},"
	  "\"id\":#}\n", -32602, 0 },
	{ "no such VM", "{\"jsonrpc\":\"2.0\",\"method\":\"vm.info\","
	  "\"params\":{\"name\":\"no-such-soak-vm\"},\"id\":#}\n", -32002, 0 },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* tmpl with each # replaced by id */
static void fill(char *out, size_t size, const char *tmpl, long id)
{
	size_t n = 0;

	for (; *tmpl && n + 24 < size; tmpl++) {
		if (*tmpl == '#')
			n += (size_t)snprintf(out + n, size - n, "%ld", id);
		else
			out[n++] = *tmpl;
	}
	out[n] = '\0';
}

/* One call of kind k on l; its latency in *ms.  false when the link is lost. */
static bool one_call(struct link *l, const struct kind *k, long id, double *ms)
{
	char line[1024];
	double t0 = now_s();
	json_t *m;
	bool ok;

	fill(line, sizeof(line), k->tmpl, id);
	if (!link_send(l, line)) {
		unexpected("%s: send failed: %s", k->what, strerror(errno));
		return false;
	}
	m = link_answer(l, opt.timeout_s, k->what);
	*ms = (now_s() - t0) * 1e3;
	if (!m)
		return false;
	if (k->batch) {
		ok = json_is_array(m) && json_array_size(m) == (size_t)k->batch &&
		     json_object_get(json_array_get(m, 0), "result") &&
		     json_object_get(json_array_get(m, 1), "result") &&
		     error_code(json_array_get(m, 2)) == -32601;
	} else if (k->expect == EXPECT_RESULT) {
		ok = json_object_get(m, "result") &&
		     json_integer_value(json_object_get(m, "id")) == id;
	} else {
		ok = error_code(m) == k->expect;
	}
	if (!ok) {
		char *txt = json_dumps(m, JSON_COMPACT);

		if (txt && strlen(txt) > 300)
			strcpy(txt + 297, "...");
		unexpected("%s: expected %s%d, got %s", k->what,
			   k->expect ? "error " : "a result", k->expect, txt ? txt : "?");
		free(txt);
	} else {
		count(k->expect ? &n_expected_err : &n_ok, 1);
	}
	json_decref(m);
	return true;
}

struct client {
	pthread_t thread;
	int index;
	long calls;
	double *lat;
	long nlat;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct link l = { .fd = -1 };

	for (long i = 0; i < c->calls; i++) {
		if (l.fd < 0 || i % RECONNECT_EVERY == 0) {
			int r;

			link_close(&l);
			r = link_open(&l);
			if (r < 0) {
				unexpected("client %d: connect: %s", c->index, strerror(-r));
				continue;
			}
		}
		double ms;

		if (!one_call(&l, &kinds[((size_t)c->index + (size_t)i) % NKINDS],
			      (long)c->index * 1000000 + i + 1, &ms))
			link_close(&l);
		c->lat[c->nlat++] = ms;
	}
	link_close(&l);
	free(l.buf);
	return NULL;
}

static void *subscriber_main(void *arg)
{
	int index = (int)(long)arg;
	struct link l = { .fd = -1 };
	char line[512];
	json_t *m;

	for (long i = 0; !subs_stop; i++) {
		int mode = (int)((i + index) % 4), r;
		const char *filter = opt.toggle ? opt.toggle : opt.vm_name;

		r = link_open(&l);
		if (r < 0) {
			unexpected("subscriber %d: connect: %s", index, strerror(-r));
			usleep(100000);
			continue;
		}
		if (mode == 3)
			snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\","
				 "\"params\":{\"vm\":\"%s\"},\"id\":%ld}\n", filter, i);
		else
			snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\","
				 "\"params\":{\"kinds\":[\"state\",\"device\",\"console\"]},\"id\":%ld}\n", i);
		if (!link_send(&l, line)) {
			unexpected("subscriber %d: send: %s", index, strerror(errno));
			link_close(&l);
			continue;
		}
		if (mode != 0) {
			m = link_answer(&l, opt.timeout_s, "events.subscribe");
			if (m && !json_object_get(m, "result") &&
			    !(mode == 3 && error_code(m) == -32002))
				unexpected("events.subscribe: no result (error %d)", error_code(m));
			json_decref(m);
		}
		if (mode == 1 || mode == 2) {
			double until = now_s() + (mode == 1 ? 0.02 : 2.0);

			if (mode == 2)
				shutdown(l.fd, SHUT_WR);	/* the daemon closes after its answers */
			for (;;) {
				double left = until - now_s();

				if (left <= 0)
					break;
				r = link_read(&l, left, &m);
				if (r <= 0)
					break;
				if (json_is_object(m) && json_object_get(m, "method"))
					count(&n_events, 1);
				json_decref(m);
			}
		}
		link_close(&l);
		count(&n_sub_cycles, 1);
	}
	free(l.buf);
	return NULL;
}

/* A call through a fresh link: true when it got a result (or error allowed). */
static bool vm_call(const char *method, const char *params, double timeout_s, int allowed)
{
	static long id;
	struct link l = { .fd = -1 };
	char *line;
	json_t *m;
	bool ok;
	int r = link_open(&l);

	if (r < 0) {
		unexpected("%s: connect: %s", method, strerror(-r));
		return false;
	}
	if (asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":%s,\"id\":%ld}\n",
		     method, params, __atomic_add_fetch(&id, 1, __ATOMIC_RELAXED)) < 0) {
		link_close(&l);
		return false;
	}
	ok = link_send(&l, line);
	free(line);
	m = ok ? link_answer(&l, timeout_s, method) : NULL;
	ok = m && (json_object_get(m, "result") || (allowed && error_code(m) == allowed));
	if (m && !ok) {
		json_t *e = json_object_get(m, "error");

		unexpected("%s %s: error %d: %s", method, params, error_code(m),
			   json_string_value(json_object_get(e, "message")) ?: "?");
	}
	json_decref(m);
	link_close(&l);
	free(l.buf);
	return ok;
}

static void *toggle_main(void *arg)
{
	char p[300];

	snprintf(p, sizeof(p), "{\"name\":\"%s\"}", opt.toggle);
	while (!toggle_stop) {
		vm_call("vm.pause", p, opt.timeout_s, 0);
		vm_call("vm.resume", p, opt.timeout_s, 0);
		count(&n_toggles, 1);
		usleep(5000);
	}
	return NULL;
}

static bool cycles(long n, double *secs)
{
	char p[4400], name[300];
	double t0 = now_s();
	long fails = n_unexpected;

	snprintf(name, sizeof(name), "{\"name\":\"%s\"}", opt.vm_name);
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "{\"name\":\"%s\",\"kernel\":\"%s\",\"memory\":\"%s\","
			 "\"start\":false}", opt.vm_name, opt.kernels[i % opt.nkernels], opt.memory);
		if (vm_call("vm.create", p, 180, 0)) {
			vm_call("vm.start", name, 180, 0);
			vm_call("vm.destroy", name, 180, 0);
		}
		if ((i + 1) % 100 == 0 && n >= 100) {
			printf("  %ld cycles, %.1f s\n", i + 1, now_s() - t0);
			fflush(stdout);
		}
		if (n_unexpected - fails > 10) {
			printf("cycles: too many errors, giving up after %ld\n", i + 1);
			*secs = now_s() - t0;
			return false;
		}
	}
	*secs = now_s() - t0;
	return true;
}

/*
 * fds, RSS and its anonymous part (KiB) of the daemon.  RSS is Rss of
 * /proc/PID/smaps_rollup, counted from the page tables: VmRSS of
 * /proc/PID/status is the same figure, but before Linux 6.2 each thread
 * syncs its share only every 64 page faults, so an idle daemon can be
 * hundreds of KiB off.  VmRSS when smaps_rollup is missing.
 */
static long anon_kib;

static int measure(int *fds, long *rss_kib)
{
	char path[64], line[256];
	struct dirent *de;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fd", opt.pid);
	d = opendir(path);
	if (!d)
		return -1;
	*fds = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			(*fds)++;
	closedir(d);
	*rss_kib = -1;
	anon_kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", opt.pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Rss: %ld", rss_kib);
		sscanf(line, "Anonymous: %ld", &anon_kib);
	}
	if (f)
		fclose(f);
	if (*rss_kib >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", opt.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kib);
		sscanf(line, "RssAnon: %ld", &anon_kib);
	}
	fclose(f);
	return *rss_kib < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The calls phase: calls spread over the clients; the latencies in *lat. */
static double run_clients(long calls, double **lat, long *nlat)
{
	struct client *cs = calloc((size_t)opt.clients, sizeof(*cs));
	pthread_attr_t attr;
	pthread_t tog;
	double t0 = now_s();

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	*lat = calloc((size_t)calls + 1, sizeof(**lat));
	*nlat = 0;
	toggle_stop = 0;
	if (opt.toggle)
		pthread_create(&tog, &attr, toggle_main, NULL);
	for (int i = 0; i < opt.clients; i++) {
		cs[i].index = i;
		cs[i].calls = calls / opt.clients + (i < calls % opt.clients);
		cs[i].lat = calloc((size_t)cs[i].calls + 1, sizeof(double));
		pthread_create(&cs[i].thread, &attr, client_main, &cs[i]);
	}
	for (int i = 0; i < opt.clients; i++) {
		pthread_join(cs[i].thread, NULL);
		memcpy(*lat + *nlat, cs[i].lat, (size_t)cs[i].nlat * sizeof(double));
		*nlat += cs[i].nlat;
		free(cs[i].lat);
	}
	toggle_stop = 1;
	if (opt.toggle)
		pthread_join(tog, NULL);
	pthread_attr_destroy(&attr);
	free(cs);
	return now_s() - t0;
}

static pthread_t *start_subscribers(void)
{
	pthread_t *t = calloc((size_t)opt.subscribers + 1, sizeof(*t));
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	subs_stop = 0;
	for (int i = 0; i < opt.subscribers; i++)
		pthread_create(&t[i], &attr, subscriber_main, (void *)(long)i);
	pthread_attr_destroy(&attr);
	return t;
}

static void stop_subscribers(pthread_t *t)
{
	subs_stop = 1;
	for (int i = 0; i < opt.subscribers; i++)
		pthread_join(t[i], NULL);
	free(t);
}

static int daemon_pid(void)
{
	struct link l = { .fd = -1 };
	json_t *m;
	int pid = 0;

	if (link_open(&l) < 0)
		return 0;
	if (link_send(&l, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":1}\n") &&
	    (m = link_answer(&l, opt.timeout_s, "daemon.info"))) {
		pid = (int)json_integer_value(json_object_get(json_object_get(m, "result"), "pid"));
		json_decref(m);
	}
	link_close(&l);
	free(l.buf);
	return pid;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rpc-soak [--socket PATH] [--clients N] [--calls N] [--subscribers N]\n"
		"                [--cycles N --kernel IMG [--kernel IMG2]... [--memory SIZE]]\n"
		"                [--vm-name NAME] [--toggle VM] [--pid PID] [--settle SEC]\n"
		"                [--rss-slack KIB] [--timeout SEC]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "calls", required_argument, NULL, 'n' },
		{ "subscribers", required_argument, NULL, 'S' },
		{ "cycles", required_argument, NULL, 'y' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vm-name", required_argument, NULL, 'N' },
		{ "toggle", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, 'p' },
		{ "settle", required_argument, NULL, 'w' },
		{ "rss-slack", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o, cold_fds, base_fds, end_fds = -1;
	long cold_rss, base_rss, end_rss = -1, nlat = 0;
	double cycle_s = 0, calls_s, *lat = NULL, t_end, dummy;
	char why[256] = "";
	pthread_t *subs;

	opt.sock = getenv("ARMVMD_SOCKET") ?: "/run/armvmd/armvmd.sock";
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's': opt.sock = optarg; break;
		case 'c': opt.clients = atoi(optarg); break;
		case 'n': opt.calls = atol(optarg); break;
		case 'S': opt.subscribers = atoi(optarg); break;
		case 'y': opt.cycles = atol(optarg); break;
		case 'k':
			if (opt.nkernels == MAX_KERNELS)
				usage();
			opt.kernels[opt.nkernels++] = optarg;
			break;
		case 'm': opt.memory = optarg; break;
		case 'N': opt.vm_name = optarg; break;
		case 'T': opt.toggle = optarg; break;
		case 'p': opt.pid = atoi(optarg); break;
		case 'w': opt.settle_s = atof(optarg); break;
		case 'r': opt.rss_slack_kib = atol(optarg); break;
		case 't': opt.timeout_s = atof(optarg); break;
		case 'W': opt.warmup = atol(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || opt.clients < 1 || opt.calls < opt.clients || opt.subscribers < 0 ||
	    opt.cycles < 0 || (opt.cycles && !opt.nkernels) || opt.timeout_s <= 0)
		usage();
	if (opt.warmup < opt.clients)
		opt.warmup = opt.calls / 5 > (long)opt.clients * 10 ? opt.calls / 5
			     : (long)opt.clients * 10;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!opt.pid)
		opt.pid = daemon_pid();
	if (opt.pid <= 0 || measure(&cold_fds, &cold_rss) < 0) {
		printf("rpc-soak: FAIL (cannot find the daemon's pid, or read /proc/%d)\n", opt.pid);
		return 2;
	}
	printf("daemon pid %d; cold: fds=%d rss_kib=%ld (anon %ld)\n", opt.pid, cold_fds,
	       cold_rss, anon_kib);

	/* warm-up: the same concurrency, a few calls each */
	subs = start_subscribers();
	if (opt.cycles)
		cycles(opt.cycles < 2 ? opt.cycles : 2, &dummy);
	run_clients(opt.warmup, &lat, &nlat);
	free(lat);
	stop_subscribers(subs);
	usleep(1000000);
	if (measure(&base_fds, &base_rss) < 0) {
		printf("rpc-soak: FAIL (the daemon is gone after the warm-up: /proc/%d)\n", opt.pid);
		return 1;
	}
	printf("baseline after warm-up (%ld calls): fds=%d rss_kib=%ld (anon %ld)\n",
	       opt.warmup, base_fds, base_rss, anon_kib);
	if (n_unexpected)
		printf("(%ld unexpected answers during the warm-up)\n", n_unexpected);

	n_ok = n_expected_err = n_sub_cycles = n_events = n_toggles = 0;
	subs = start_subscribers();
	if (opt.cycles) {
		printf("cycles: %ld x vm.create/vm.start/vm.destroy\n", opt.cycles);
		cycles(opt.cycles, &cycle_s);
	}
	printf("calls: %ld from %d clients\n", opt.calls, opt.clients);
	calls_s = run_clients(opt.calls, &lat, &nlat);
	stop_subscribers(subs);

	t_end = now_s() + opt.settle_s;
	do {
		usleep(200000);
		if (measure(&end_fds, &end_rss) < 0) {
			printf("rpc-soak: FAIL (the daemon is gone: /proc/%d)\n", opt.pid);
			return 1;
		}
		if (end_fds == base_fds &&
		    (opt.rss_slack_kib < 0 || end_rss - base_rss <= opt.rss_slack_kib))
			break;
	} while (now_s() < t_end);
	printf("after: fds=%d rss_kib=%ld (anon %ld)\n", end_fds, end_rss, anon_kib);

	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_double);
	printf("FIGURE soak fds cold=%d before=%d after=%d\n", cold_fds, base_fds, end_fds);
	printf("FIGURE soak rss_kib cold=%ld before=%ld after=%ld growth=%ld\n", cold_rss,
	       base_rss, end_rss, end_rss - base_rss);
	printf("FIGURE soak calls=%ld clients=%d seconds=%.2f per_s=%.0f ok=%ld expected_errors=%ld "
	       "unexpected=%ld\n", opt.calls, opt.clients, calls_s, (double)opt.calls / calls_s,
	       n_ok, n_expected_err, n_unexpected);
	if (nlat)
		printf("FIGURE soak call_ms median=%.3f p99=%.3f max=%.3f\n", lat[nlat / 2],
		       lat[(long)ceil(0.99 * (double)nlat) - 1], lat[nlat - 1]);
	printf("FIGURE soak subscribers=%d subscribe_cycles=%ld events=%ld toggles=%ld\n",
	       opt.subscribers, n_sub_cycles, n_events, n_toggles);
	if (opt.cycles)
		printf("FIGURE soak vm_cycles=%ld seconds=%.1f per_cycle_ms=%.0f\n", opt.cycles,
		       cycle_s, cycle_s * 1e3 / (double)opt.cycles);
	free(lat);

	if (n_unexpected)
		snprintf(why, sizeof(why), "%ld unexpected answers", n_unexpected);
	else if (end_fds != base_fds)
		snprintf(why, sizeof(why), "fds %d before, %d after", base_fds, end_fds);
	else if (opt.rss_slack_kib >= 0 && end_rss - base_rss > opt.rss_slack_kib)
		snprintf(why, sizeof(why), "RSS grew by %ld KiB (more than %ld)",
			 end_rss - base_rss, opt.rss_slack_kib);
	if (*why) {
		printf("rpc-soak: FAIL (%s)\n", why);
		return 1;
	}
	printf("rpc-soak: PASS\n");
	return 0;
}
