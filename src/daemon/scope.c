// SPDX-License-Identifier: MIT
/*
 * One D-Bus method call to systemd, by hand: the wire format is small
 * (little-endian, each value aligned to its size, arrays with a byte
 * length, variants with their signature), and the private socket needs
 * only EXTERNAL authentication, no Hello.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/scope.h"

#define SYSTEMD_PRIVATE	"/run/systemd/private"
#define IO_TIMEOUT_MS	5000
#define MSG_MAX		(64 * 1024)

bool scope_available(void)
{
	struct stat st;

	return geteuid() == 0 && lstat(SYSTEMD_PRIVATE, &st) == 0 && S_ISSOCK(st.st_mode);
}

int scope_unit_name(const char *vm, uid_t uid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "armvm-%s-%u.scope", vm, (unsigned)uid);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- marshalling into a buffer; offsets are the message's ---- */

struct wbuf {
	unsigned char b[4096];
	size_t n;
	bool over;
};

static void w_align(struct wbuf *w, size_t a)
{
	while (w->n % a) {
		if (w->n >= sizeof(w->b)) {
			w->over = true;
			return;
		}
		w->b[w->n++] = 0;
	}
}

static void w_bytes(struct wbuf *w, const void *p, size_t len)
{
	if (w->n + len > sizeof(w->b)) {
		w->over = true;
		return;
	}
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	w_align(w, 4);
	w_bytes(w, &v, 4);	/* little-endian host: the message says 'l' */
}

static void w_u64(struct wbuf *w, uint64_t v)
{
	w_align(w, 8);
	w_bytes(w, &v, 8);
}

static void w_str(struct wbuf *w, const char *s)	/* s and o */
{
	w_u32(w, (uint32_t)strlen(s));
	w_bytes(w, s, strlen(s) + 1);
}

static void w_sig(struct wbuf *w, const char *s)	/* g */
{
	w_u8(w, (uint8_t)strlen(s));
	w_bytes(w, s, strlen(s) + 1);
}

/* An array: its length is patched in when it ends. */
static size_t w_array_begin(struct wbuf *w, size_t elem_align)
{
	size_t at;

	w_u32(w, 0);
	at = w->n;
	w_align(w, elem_align);
	return at;
}

static void w_array_end(struct wbuf *w, size_t at, size_t elem_align)
{
	/* the length counts from the first element, padding excluded */
	size_t first = (at + elem_align - 1) & ~(elem_align - 1);
	uint32_t len = (uint32_t)(w->n > first ? w->n - first : 0);

	if (!w->over)
		memcpy(w->b + at - 4, &len, 4);
}

/* one (sv) of a property list */
static void w_prop_begin(struct wbuf *w, const char *name, const char *sig)
{
	w_align(w, 8);
	w_str(w, name);
	w_sig(w, sig);
}

static void prop_u64(struct wbuf *w, const char *name, uint64_t v)
{
	w_prop_begin(w, name, "t");
	w_u64(w, v);
}

static void prop_str(struct wbuf *w, const char *name, const char *v)
{
	w_prop_begin(w, name, "s");
	w_str(w, v);
}

/* ---- the socket ---- */

static int io_wait(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, IO_TIMEOUT_MS);

	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

static int send_all(int fd, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len) {
		ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int r = io_wait(fd, POLLOUT);

			if (r < 0)
				return r;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_some(int fd, void *p, size_t len)
{
	for (;;) {
		ssize_t n = recv(fd, p, len, 0);
		int r;

		if (n > 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = io_wait(fd, POLLIN);
		if (r < 0)
			return r;
	}
}

static int recv_exact(int fd, unsigned char *p, size_t len)
{
	while (len) {
		int n = recv_some(fd, p, len);

		if (n < 0)
			return n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sasl(int fd)
{
	/* uid 0 as the hex of its decimal digits */
	static const char auth[] = "AUTH EXTERNAL 30\r\n", begin[] = "BEGIN\r\n";
	char line[256];
	size_t n = 0;
	int r;

	r = send_all(fd, "", 1);	/* the credentials byte */
	if (!r)
		r = send_all(fd, auth, sizeof(auth) - 1);
	while (!r && (n == 0 || line[n - 1] != '\n')) {
		if (n == sizeof(line) - 1)
			return -EPROTO;
		r = recv_some(fd, line + n, 1);
		if (r > 0) {
			n += (size_t)r;
			r = 0;
		}
	}
	if (r)
		return r;
	line[n] = '\0';
	if (strncmp(line, "OK ", 3))
		return -EACCES;
	return send_all(fd, begin, sizeof(begin) - 1);
}

/* One message: 1 when it was the reply (or an error), 0 for anything else
 * (systemd's signals), -errno; systemd's words in msg for an error. */
static int read_one(int fd, char *msg, size_t msglen);

/* The reply to serial 1: 0, or -errno with systemd's words in msg. */
static int read_reply(int fd, char *msg, size_t msglen)
{
	for (int i = 0; i < 64; i++) {
		int r = read_one(fd, msg, msglen);

		if (r != 0)
			return r > 0 ? 0 : r;
	}
	return -EPROTO;
}

static int read_one(int fd, char *msg, size_t msglen)
{
	unsigned char hdr[16], *rest;
	uint32_t body_len, fields_len;
	size_t body_at, total;
	int r;

	r = recv_exact(fd, hdr, sizeof(hdr));
	if (r)
		return r;
	if (hdr[0] != 'l' && hdr[0] != 'B')
		return -EPROTO;
	if (hdr[0] == 'B') {
		/* big-endian: only its lengths matter, to skip it */
		uint32_t a, b;

		memcpy(&a, hdr + 4, 4);
		memcpy(&b, hdr + 12, 4);
		a = __builtin_bswap32(a);
		b = __builtin_bswap32(b);
		memcpy(hdr + 4, &a, 4);
		memcpy(hdr + 12, &b, 4);
		hdr[1] = 4;
	}
	memcpy(&body_len, hdr + 4, 4);
	memcpy(&fields_len, hdr + 12, 4);
	body_at = (16 + (size_t)fields_len + 7) & ~(size_t)7;
	total = body_at + body_len;
	if (total > MSG_MAX)
		return -EMSGSIZE;
	rest = malloc(total - 16 + 1);
	if (!rest)
		return -ENOMEM;
	r = recv_exact(fd, rest, total - 16);
	if (!r && hdr[1] == 2) {
		r = 1;
	} else if (!r && hdr[1] == 3) {
		/* an error: its first body argument is the text, when a string */
		size_t at = body_at - 16;
		uint32_t len = 0;

		if (body_len >= 5)
			memcpy(&len, rest + at, 4);
		if (len && 4 + (size_t)len <= body_len)
			snprintf(msg, msglen, "systemd: %.*s", (int)len, (char *)rest + at + 4);
		else
			snprintf(msg, msglen, "systemd refused the scope");
		r = -EPERM;
	}
	/* anything else (a signal: type 4) is skipped */
	free(rest);
	return r;
}

static int build_call(struct wbuf *body, struct wbuf *msg, pid_t pid, const char *unit,
		      const char *description, uint64_t mem_max, uint64_t tasks_max,
		      uint64_t cpu_weight)
{
	size_t props, pids, fields, f;

	/* the body: ssa(sv)a(sa(sv)) */
	w_str(body, unit);
	w_str(body, "fail");
	props = w_array_begin(body, 8);
	w_prop_begin(body, "PIDs", "au");
	pids = w_array_begin(body, 4);
	w_u32(body, (uint32_t)pid);
	w_array_end(body, pids, 4);
	prop_str(body, "Slice", SCOPE_SLICE);
	prop_str(body, "Description", description);
	prop_str(body, "CollectMode", "inactive-or-failed");
	prop_u64(body, "MemoryMax", mem_max);
	prop_u64(body, "MemorySwapMax", 0);
	prop_u64(body, "TasksMax", tasks_max);
	prop_u64(body, "CPUWeight", cpu_weight);
	w_array_end(body, props, 8);
	w_array_end(body, w_array_begin(body, 8), 8);	/* no auxiliary units */

	/* the header */
	w_u8(msg, 'l');
	w_u8(msg, 1);		/* METHOD_CALL */
	w_u8(msg, 0);
	w_u8(msg, 1);		/* protocol version */
	w_u32(msg, (uint32_t)body->n);
	w_u32(msg, 1);		/* serial */
	fields = w_array_begin(msg, 8);
	static const struct { uint8_t code; const char *sig, *val; } hf[] = {
		{ 1, "o", "/org/freedesktop/systemd1" },
		{ 2, "s", "org.freedesktop.systemd1.Manager" },
		{ 3, "s", "StartTransientUnit" },
		{ 6, "s", "org.freedesktop.systemd1" },
		{ 8, "g", "ssa(sv)a(sa(sv))" },
	};
	for (f = 0; f < sizeof(hf) / sizeof(hf[0]); f++) {
		w_align(msg, 8);
		w_u8(msg, hf[f].code);
		w_sig(msg, hf[f].sig);
		if (hf[f].sig[0] == 'g')
			w_sig(msg, hf[f].val);
		else
			w_str(msg, hf[f].val);
	}
	w_array_end(msg, fields, 8);
	w_align(msg, 8);
	w_bytes(msg, body->b, body->n);
	return body->over || msg->over ? -EMSGSIZE : 0;
}

ssize_t scope_request(pid_t pid, const char *unit, const char *description, uint64_t mem_max,
		      uint64_t tasks_max, uint64_t cpu_weight, unsigned char *out, size_t cap)
{
	struct wbuf *body = calloc(1, sizeof(*body)), *m = calloc(1, sizeof(*m));
	ssize_t r = -ENOMEM;

	if (body && m) {
		r = build_call(body, m, pid, unit, description, mem_max, tasks_max, cpu_weight);
		if (r == 0 && m->n > cap)
			r = -ENOSPC;
		if (r == 0) {
			memcpy(out, m->b, m->n);
			r = (ssize_t)m->n;
		}
	}
	free(body);
	free(m);
	return r;
}

/* Is pid in the scope yet (the kernel's word, /proc/PID/cgroup)? */
static bool in_scope(pid_t pid, const char *unit)
{
	char path[64], line[512], want[300];
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "/%s", unit);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!yes && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		yes = !strncmp(line, "0::", 3) && strlen(line) >= strlen(want) &&
		      !strcmp(line + strlen(line) - strlen(want), want);
	}
	fclose(f);
	return yes;
}

int scope_create(pid_t pid, const char *unit, const char *description, uint64_t mem_max,
		 uint64_t tasks_max, uint64_t cpu_weight, char *msg, size_t msglen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct wbuf *body = calloc(1, sizeof(*body)), *m = calloc(1, sizeof(*m));
	int fd = -1, r;

	if (!body || !m) {
		r = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	r = build_call(body, m, pid, unit, description, mem_max, tasks_max, cpu_weight);
	if (r < 0) {
		snprintf(msg, msglen, "systemd scope %s: the request does not fit", unit);
		goto out;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", SYSTEMD_PRIVATE);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
		       errno != EINPROGRESS)) {
		r = -errno;
		snprintf(msg, msglen, "systemd scope %s: %s: %s", unit, SYSTEMD_PRIVATE,
			 strerror(-r));
		goto out;
	}
	r = sasl(fd);
	if (!r)
		r = send_all(fd, m->b, m->n);
	if (r < 0) {
		snprintf(msg, msglen, "systemd scope %s: talking to systemd: %s", unit,
			 strerror(-r));
		goto out;
	}
	r = read_reply(fd, msg, msglen);
	if (r < 0) {
		if (r != -EPERM)
			snprintf(msg, msglen, "systemd scope %s: its answer: %s", unit,
				 strerror(-r));
		goto out;
	}
	/* the start job moves the process; wait until it has */
	for (int i = 0; i < 300 && !in_scope(pid, unit); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (!in_scope(pid, unit)) {
		r = -ETIMEDOUT;
		snprintf(msg, msglen, "systemd scope %s: the worker is not in it after 3 s",
			 unit);
	}
out:
	if (fd >= 0)
		close(fd);
	free(body);
	free(m);
	return r;
}
