// SPDX-License-Identifier: MIT
/*
 * armvmd-bench: the measurements of `make bench`, run inside an arm64 KVM
 * host next to a live armvmd.  Each figure is measured for armvmd (through
 * libarmvm, like any client) and, where one exists, for its floor: the
 * kvm-floor program running the same bare-metal guest with the fewest KVM
 * ioctls, or a raw Unix-socket echo.  Prints one JSON document on standard
 * output (progress on standard error):
 *
 *   { "tool", "host": {...}, "params": {...},
 *     "figures": [ { "id", "title", "rows": [ { "label", "unit",
 *                    "armvmd": STATS, "floor": STATS, "ratio" } ],
 *                    "notes" } ],
 *     "samples": { "NAME": [ms, ...] }, "errors": [ ... ] }
 *
 * STATS is {n, median, p99, min, max, mean}; ratio is armvmd's median over
 * the floor's (for rates: the floor's rate over armvmd's), i.e. how many
 * times the floor's cost armvmd pays.  No figure passes or fails on a time.
 *
 * See `armvmd-bench --help`, bench/run and docs/PERFORMANCE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "libarmvm.h"

#define BT_MAGIC	0xb007b007u
#define IMG_LOOPS	0x40
#define IMG_AFTER	0x48

static struct {
	const char *socket, *guest, *floor, *kernel, *initrd, *workdir;
	const char *socket_nosandbox;	/* a second armvmd, --no-sandbox */
	const char *linux_cmdline, *only, *armvmd;
	int daemon_pid;
	int runs, linux_runs, vms, rate_vms, rate_runs, rpc_calls, loops, exit_runs;
	int linux_timeout;
} opt;

static json_t *figures, *samples, *errors;
static struct armvm *conn;
static char img_off[PATH_MAX], img_hold[PATH_MAX], img_exit[PATH_MAX];
static unsigned vm_seq;

/* ---- small things ------------------------------------------------------ */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "armvmd-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "armvmd-bench: error: %s\n", buf);
	json_array_append_new(errors, json_string(buf));
}

static bool wanted(const char *id)
{
	const char *p = opt.only;
	size_t n = strlen(id);

	if (!p || !*p)
		return true;
	while ((p = strstr(p, id))) {
		if ((p == opt.only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* ---- statistics -------------------------------------------------------- */

struct series {
	double *v;
	size_t n, cap;
};

static void series_add(struct series *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = x;
}

static void series_free(struct series *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted copy */
static double pct(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);

	if (k < 1)
		k = 1;
	return sorted[k > n ? n - 1 : k - 1];
}

static double median_of(const struct series *s)
{
	double *c, m;

	if (!s->n)
		return NAN;
	c = malloc(s->n * sizeof(*c));
	memcpy(c, s->v, s->n * sizeof(*c));
	qsort(c, s->n, sizeof(*c), cmp_double);
	m = s->n % 2 ? c[s->n / 2] : (c[s->n / 2 - 1] + c[s->n / 2]) / 2;
	free(c);
	return m;
}

static json_t *num(double x)
{
	if (isnan(x) || isinf(x))
		return json_null();
	return json_real(round(x * 1000.0) / 1000.0);
}

static json_t *stats_json(const struct series *s)
{
	double *c, sum = 0;
	json_t *o;

	if (!s->n)
		return json_null();
	c = malloc(s->n * sizeof(*c));
	memcpy(c, s->v, s->n * sizeof(*c));
	qsort(c, s->n, sizeof(*c), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += c[i];
	o = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "n", (int)s->n,
		      "median", num(median_of(s)), "p99", num(pct(c, s->n, 99)),
		      "min", num(c[0]), "max", num(c[s->n - 1]),
		      "mean", num(sum / (double)s->n));
	free(c);
	return o;
}

static json_t *samples_json(const struct series *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, num(s->v[i]));
	return a;
}

/*
 * One row of a figure: armvmd's series, the floor's (or NULL), and the
 * ratio of the medians; higher_is_better flips it for rates so that a
 * ratio is always "times the floor's cost".
 */
static json_t *row(const char *label, const char *unit, const struct series *a,
		   const struct series *f, bool higher_is_better)
{
	json_t *r = json_pack("{s:s, s:s, s:o}", "label", label, "unit", unit,
			      "armvmd", stats_json(a));

	if (f) {
		double ma = median_of(a), mf = median_of(f);

		json_object_set_new(r, "floor", stats_json(f));
		json_object_set_new(r, "ratio", num(higher_is_better ? mf / ma : ma / mf));
	}
	return r;
}

static json_t *figure(const char *id, const char *title)
{
	json_t *f = json_pack("{s:s, s:s, s:[]}", "id", id, "title", title, "rows");

	json_array_append(figures, f);
	return f;		/* borrowed by the caller, owned by figures */
}

static void fig_row(json_t *fig, json_t *r)
{
	json_array_append_new(json_object_get(fig, "rows"), r);
}

static void fig_note(json_t *fig, const char *key, json_t *v)
{
	json_t *n = json_object_get(fig, "notes");

	if (!n) {
		n = json_object();
		json_object_set_new(fig, "notes", n);
	}
	json_object_set_new(n, key, v);
}

/* ---- armvmd through libarmvm ------------------------------------------ */

static json_t *call_on(struct armvm *c, const char *method, json_t *params,
		       int timeout_ms)
{
	struct armvm_error e = { 0 };
	json_t *res = NULL;
	int r = armvm_call_timeout(c, method, params, &res, &e, timeout_ms);

	json_decref(params);
	if (r != ARMVM_OK) {
		error("%s: %s", method, armvm_strerror(r, &e));
		armvm_error_clear(&e);
		return NULL;
	}
	return res;
}

static json_t *call(const char *method, json_t *params)
{
	return call_on(conn, method, params, 60000);
}

static void next_name(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "bench-%s-%u", tag, ++vm_seq);
}

static json_t *create_params(const char *name, const char *kernel,
			     const char *memory, bool start)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "name", name, "kernel", kernel,
			 "memory", memory, "start", start);
}

static void destroy_on(struct armvm *c, const char *name)
{
	json_decref(call_on(c, "vm.destroy", json_pack("{s:s}", "name", name), 60000));
}

static json_t *info(const char *name)
{
	return call("vm.info", json_pack("{s:s}", "name", name));
}

/* vm.info until live.boot_timer has `writes` marks; the boot_timer object
 * (new reference) or NULL on timeout / a VM that left the running state */
static json_t *wait_marks(const char *name, int writes, int timeout_ms, int poll_ms)
{
	int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		json_t *i = info(name), *bt;
		const char *state;

		if (!i)
			return NULL;
		bt = json_object_get(json_object_get(i, "live"), "boot_timer");
		if (json_integer_value(json_object_get(bt, "writes")) >= writes) {
			json_incref(bt);
			json_decref(i);
			return bt;
		}
		state = json_string_value(json_object_get(i, "state"));
		if (state && strcmp(state, "running") && strcmp(state, "created")) {
			error("VM %s is %s (%s) before %d boot-timer write(s)", name, state,
			      json_string_value(json_object_get(i, "reason")), writes);
			json_decref(i);
			return NULL;
		}
		json_decref(i);
		if (mono_ns() > end) {
			error("VM %s: no %d boot-timer write(s) within %d ms", name, writes,
			      timeout_ms);
			return NULL;
		}
		sleep_ms(poll_ms);
	}
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- the floor (kvm-floor) -------------------------------------------- */

struct floor_run {
	pid_t pid;
	int out, in;			/* its stdout (read), its stdin (write) */
	int64_t t0;			/* before fork */
	json_t *res;
};

static int floor_spawn(struct floor_run *f, const char *image, long loops, bool hold)
{
	int o[2], i[2];
	char lbuf[32];

	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(i, O_CLOEXEC) < 0) {
		error("pipe: %s", strerror(errno));
		return -1;
	}
	snprintf(lbuf, sizeof(lbuf), "%ld", loops);
	f->t0 = mono_ns();
	f->pid = fork();
	if (f->pid < 0) {
		error("fork: %s", strerror(errno));
		return -1;
	}
	if (f->pid == 0) {
		dup2(o[1], STDOUT_FILENO);
		dup2(i[0], STDIN_FILENO);
		if (hold)
			execl(opt.floor, "kvm-floor", "--hold", "--loops", lbuf, image, (char *)NULL);
		else
			execl(opt.floor, "kvm-floor", "--loops", lbuf, image, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(i[0]);
	f->out = o[0];
	f->in = i[1];
	f->res = NULL;
	return 0;
}

/* read the floor's one JSON line */
static json_t *floor_result(struct floor_run *f)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	       (n = read(f->out, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	f->res = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (!f->res)
		error("kvm-floor printed no result (%s)", len ? buf : "nothing");
	return f->res;
}

static int floor_finish(struct floor_run *f)
{
	int st = 0;

	close(f->in);
	close(f->out);
	while (waitpid(f->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		error("kvm-floor ended with status 0x%x", st);
		return -1;
	}
	return 0;
}

/* run the floor to completion; its result (new reference) or NULL */
static json_t *floor_once(const char *image, long loops, int64_t *t0)
{
	struct floor_run f;
	json_t *r;

	if (floor_spawn(&f, image, loops, false) < 0)
		return NULL;
	r = floor_result(&f);
	if (floor_finish(&f) < 0) {
		json_decref(r);
		return NULL;
	}
	if (t0)
		*t0 = f.t0;
	return r;
}

/* ---- /proc ------------------------------------------------------------ */

struct range {
	uint64_t lo, hi;
};

/*
 * Rss and Pss (KiB) of a process's mappings outside the given ranges (guest
 * RAM), and inside them.  -1 if smaps cannot be read.
 */
static int smaps_split(int pid, const struct range *ex, size_t nex,
		       long *rss_out, long *pss_out, long *rss_in)
{
	char path[64], line[512];
	FILE *fp;
	bool inside = false;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	*rss_out = *pss_out = *rss_in = 0;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long lo, hi;
		long kb;

		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = false;
			for (size_t i = 0; i < nex; i++)
				if (lo >= ex[i].lo && hi <= ex[i].hi)
					inside = true;
		} else if (sscanf(line, "Rss: %ld kB", &kb) == 1) {
			*(inside ? rss_in : rss_out) += kb;
		} else if (sscanf(line, "Pss: %ld kB", &kb) == 1) {
			if (!inside)
				*pss_out += kb;
		}
	}
	fclose(fp);
	return 0;
}

static long proc_rss_kb(int pid)
{
	long out, pss, in;

	if (smaps_split(pid, NULL, 0, &out, &pss, &in) < 0)
		return -1;
	return out;
}

/* user + system CPU time of a process, in ms */
static double proc_cpu_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return NAN;
	if (!fgets(buf, sizeof(buf), fp)) {
		fclose(fp);
		return NAN;
	}
	fclose(fp);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int find_daemon_pid(void)
{
	FILE *fp = popen("for p in /proc/[0-9]*; do "
			 "c=$(tr '\\0' ' ' <$p/cmdline 2>/dev/null); "
			 "case \"$c\" in *armvmd\\ *--worker*) ;; "
			 "*/armvmd\\ *|armvmd\\ *) echo ${p#/proc/}; break ;; esac; done", "r");
	int pid = 0;

	if (fp) {
		if (fscanf(fp, "%d", &pid) != 1)
			pid = 0;
		pclose(fp);
	}
	return pid;
}

/* wait for a process that is not our child to end (pidfd) */
static int wait_gone(int pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	int r;

	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* ---- guest images ----------------------------------------------------- */

static int write_variant(const char *dst, uint64_t loops, uint64_t after)
{
	unsigned char buf[65536];
	ssize_t n;
	int fd = open(opt.guest, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		error("%s: %s", opt.guest, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < IMG_AFTER + 8 || memcmp(buf + 56, "ARM\x64", 4)) {
		error("%s: not the boot-timer guest", opt.guest);
		return -1;
	}
	memcpy(buf + IMG_LOOPS, &loops, 8);
	memcpy(buf + IMG_AFTER, &after, 8);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		error("%s: %s", dst, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* fork, exec path with one argument, wait: how long, in ms (NaN: failed) */
static double exec_ms(const char *path, const char *arg)
{
	int64_t t0 = mono_ns();
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return NAN;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return NAN;
	return (double)(mono_ns() - t0) / 1e6;
}

/* ---- 1. start to first guest instruction ------------------------------ */

static void fig_start(void)
{
	struct series a_total = { 0 }, a_start = { 0 }, a_cpu = { 0 }, a_vmm = { 0 };
	struct series f_total = { 0 }, f_cpu = { 0 };
	struct series a_create = { 0 }, a_startrtt = { 0 }, a_layout = { 0 };
	struct series a_exec = { 0 }, f_exec = { 0 };
	json_t *fig = figure("start", "1. start to first guest instruction (bare-metal guest)");

	progress("figure 1: start to first instruction, %d runs each", opt.runs);
	for (int i = 0; i < opt.runs; i++) {
		char name[64];
		json_t *r, *bt;
		int64_t t0;

		next_name(name, sizeof(name), "start");
		t0 = mono_ns();
		r = call("vm.create", create_params(name, img_hold, "16M", false));
		if (!r)
			break;
		json_decref(r);
		series_add(&a_create, (double)(mono_ns() - t0) / 1e6);
		int64_t t1 = mono_ns();
		r = call("vm.start", json_pack("{s:s}", "name", name));
		json_decref(r);
		series_add(&a_startrtt, (double)(mono_ns() - t1) / 1e6);
		bt = r ? wait_marks(name, 1, 30000, 2) : NULL;
		if (bt) {
			series_add(&a_total, (double)(jint(bt, "first_write_ns") - t0) / 1e6);
			series_add(&a_start, (double)jint(bt, "wall_ns") / 1e6);
			series_add(&a_cpu, (double)jint(bt, "worker_cpu_ns") / 1e6);
			if (json_object_get(bt, "first_run_ns"))
				series_add(&a_vmm, (double)(jint(bt, "wall_ns") -
					   jint(bt, "first_run_ns")) / 1e6);
			json_decref(bt);
		}
		destroy_on(conn, name);
		if (!bt)
			break;
	}
	/* the parts of vm.create: the plan alone, and starting the binary */
	for (int i = 0; i < opt.runs; i++) {
		char name[64];
		int64_t t0 = mono_ns();
		json_t *r;

		next_name(name, sizeof(name), "layout");
		r = call("vm.layout", create_params(name, img_hold, "16M", false));
		if (!r)
			break;
		json_decref(r);
		series_add(&a_layout, (double)(mono_ns() - t0) / 1e6);
		double a = exec_ms(opt.armvmd, "--version");
		double f = exec_ms(opt.floor, "--help");

		if (!isnan(a))
			series_add(&a_exec, a);
		if (!isnan(f))
			series_add(&f_exec, f);
	}
	for (int i = 0; i < opt.runs; i++) {
		int64_t t0 = 0;
		json_t *r = floor_once(img_off, 0, &t0);
		json_t *m = json_array_get(json_object_get(r, "marks_ns"), 0);

		if (!m) {
			json_decref(r);
			error("kvm-floor made no mark");
			break;
		}
		series_add(&f_total, (double)(json_integer_value(m) - t0) / 1e6);
		series_add(&f_cpu, (double)jint(r, "cpu_ns") / 1e6);
		json_decref(r);
	}
	fig_row(fig, row("vm.create+vm.start -> first boot-timer write (floor: fork+exec -> write)",
			 "ms", &a_total, &f_total, false));
	fig_row(fig, row("VMM CPU time up to the write (armvmd: the worker's, since its exec)",
			 "ms", &a_cpu, &f_cpu, false));
	/* where armvmd's time goes */
	fig_row(fig, row("  vm.create round trip (worker set up, not started)", "ms",
			 &a_create, NULL, false));
	fig_row(fig, row("    vm.layout round trip (the plan alone)", "ms", &a_layout, NULL, false));
	fig_row(fig, row("    fork+exec+exit of the binary (armvmd --version; floor: kvm-floor)",
			 "ms", &a_exec, &f_exec, false));
	fig_row(fig, row("  vm.start round trip", "ms", &a_startrtt, NULL, false));
	fig_row(fig, row("  vm.start arrival -> write", "ms", &a_start, NULL, false));
	fig_row(fig, row("    vCPU 0 enters KVM_RUN -> write", "ms", &a_vmm, NULL, false));
	json_object_set_new(samples, "start_armvmd_ms", samples_json(&a_total));
	json_object_set_new(samples, "start_floor_ms", samples_json(&f_total));
	series_free(&a_total), series_free(&a_start), series_free(&a_cpu);
	series_free(&a_vmm), series_free(&f_total), series_free(&f_cpu);
	series_free(&a_create), series_free(&a_startrtt), series_free(&a_layout);
	series_free(&a_exec), series_free(&f_exec);
}

/* ---- 2. Linux boot to init ------------------------------------------- */

static void fig_linux(void)
{
	struct series total = { 0 }, vmm = { 0 }, share = { 0 }, from_create = { 0 };
	struct series plan = { 0 };
	json_t *fig = figure("linux", "2. Linux boot to init (Debian kernel, busybox initramfs)");

	if (!opt.kernel || access(opt.kernel, R_OK) || !opt.initrd || access(opt.initrd, R_OK)) {
		fig_note(fig, "skipped", json_string("no Linux guest kernel/initrd"));
		progress("figure 2: skipped (no Linux guest)");
		return;
	}
	progress("figure 2: Linux boot to init, %d runs", opt.linux_runs);
	for (int i = 0; i < opt.linux_runs; i++) {
		char name[64];
		json_t *r, *bt;
		int64_t t0;

		next_name(name, sizeof(name), "linux");
		t0 = mono_ns();
		r = call("vm.create", json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "name", name,
				"kernel", opt.kernel, "initrd", opt.initrd, "memory", "256M",
				"cmdline", opt.linux_cmdline, "vcpus", 1));
		json_decref(r);
		bt = r ? wait_marks(name, 1, opt.linux_timeout * 1000, 100) : NULL;
		if (bt) {
			double t = (double)(jint(bt, "first_write_ns") - t0) / 1e6;
			double v = (double)(jint(bt, "start_mono_ns") + jint(bt, "first_run_ns") - t0) / 1e6;

			series_add(&total, t);
			series_add(&vmm, v);
			series_add(&share, 100.0 * v / t);
			series_add(&from_create, (double)jint(bt, "wall_ns") / 1e6);
			progress("  boot %d: %.0f ms to init, VMM %.1f ms", i + 1, t, v);
			json_decref(bt);
		}
		destroy_on(conn, name);
		if (!bt)
			break;
	}
	fig_row(fig, row("vm.create -> init's boot-timer write", "ms", &total, NULL, false));
	fig_row(fig, row("  VMM's share: vm.create -> vCPU 0 enters KVM_RUN", "ms", &vmm, NULL, false));
	fig_row(fig, row("  VMM's share of the boot", "%", &share, NULL, false));
	/* part of the VMM's share: vm.layout reads and checks the same files */
	for (int i = 0; i < 3 && total.n; i++) {
		char name[64];
		int64_t t0 = mono_ns();
		json_t *r;

		next_name(name, sizeof(name), "linuxplan");
		r = call("vm.layout", json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "name", name,
				"kernel", opt.kernel, "initrd", opt.initrd, "memory", "256M",
				"cmdline", opt.linux_cmdline, "vcpus", 1));
		if (!r)
			break;
		json_decref(r);
		series_add(&plan, (double)(mono_ns() - t0) / 1e6);
	}
	fig_row(fig, row("  of which vm.layout of the same files (the plan alone)", "ms",
			 &plan, NULL, false));
	fig_note(fig, "cmdline", json_string(opt.linux_cmdline));
	json_object_set_new(samples, "linux_init_ms", samples_json(&total));
	json_object_set_new(samples, "linux_vmm_ms", samples_json(&vmm));
	series_free(&total), series_free(&vmm), series_free(&share), series_free(&from_create);
	series_free(&plan);
}

/* ---- 3. memory overhead per VM --------------------------------------- */

/* a worker's Rss/Pss outside guest RAM, from vm.info's live.pid/guest_ram */
static int worker_mem(const char *name, long *rss, long *pss)
{
	json_t *i = info(name), *live, *ram;
	struct range ex[8];
	size_t n = 0, k;
	long in;
	int pid, r;

	live = json_object_get(i, "live");
	pid = (int)jint(live, "pid");
	ram = json_object_get(live, "guest_ram");
	json_t *b;
	json_array_foreach(ram, k, b) {
		if (n < 8) {
			ex[n].lo = strtoull(json_string_value(json_object_get(b, "hva")), NULL, 0);
			ex[n].hi = ex[n].lo + (uint64_t)jint(b, "size");
			n++;
		}
	}
	r = pid > 0 ? smaps_split(pid, ex, n, rss, pss, &in) : -1;
	json_decref(i);
	if (r < 0)
		error("cannot read the smaps of VM %s's worker", name);
	return r;
}

/* ---- 7. the sandbox's cost ------------------------------------------- */

/*
 * The same VM through two daemons, one jailing its workers and one with
 * --no-sandbox, samples interleaved (which goes first alternates): start
 * to first instruction, and the worker's memory outside guest RAM.  The
 * "floor" column is the unsandboxed daemon: the ratio is the sandbox's.
 */
static void fig_sandbox(void)
{
	struct series t_on = { 0 }, t_off = { 0 }, m_on = { 0 }, m_off = { 0 };
	struct series p_on = { 0 }, p_off = { 0 };
	json_t *fig = figure("sandbox", "7. the sandbox's cost (jailed workers vs --no-sandbox)");
	struct armvm *sb = conn, *ns;
	int err = 0;

	if (!opt.socket_nosandbox) {
		fig_note(fig, "skipped", json_string("no --nosandbox-socket"));
		return;
	}
	ns = armvm_connect(opt.socket_nosandbox, &err);
	if (!ns) {
		error("cannot connect to %s: %s", opt.socket_nosandbox, strerror(-err));
		return;
	}
	progress("figure 7: the sandbox's cost, %d runs each, interleaved", opt.runs);
	for (int i = 0; i < opt.runs; i++) {
		for (int k = 0; k < 2; k++) {
			bool on = (k == 0) == (i % 2 == 0);
			char name[64];
			json_t *r, *bt;
			long rss, pss;
			int64_t t0;

			conn = on ? sb : ns;
			next_name(name, sizeof(name), on ? "sb" : "nosb");
			t0 = mono_ns();
			r = call("vm.create", create_params(name, img_hold, "16M", false));
			if (r) {
				json_decref(r);
				r = call("vm.start", json_pack("{s:s}", "name", name));
				json_decref(r);
			}
			bt = r ? wait_marks(name, 1, 30000, 2) : NULL;
			if (bt) {
				series_add(on ? &t_on : &t_off,
					   (double)(jint(bt, "first_write_ns") - t0) / 1e6);
				json_decref(bt);
				if (worker_mem(name, &rss, &pss) == 0) {
					series_add(on ? &m_on : &m_off, (double)rss / 1024.0);
					series_add(on ? &p_on : &p_off, (double)pss / 1024.0);
				}
			}
			destroy_on(conn, name);
			if (!bt)
				i = opt.runs;
		}
	}
	conn = sb;
	armvm_close(ns);
	fig_row(fig, row("vm.create+vm.start -> first boot-timer write: sandbox (floor: --no-sandbox)",
			 "ms", &t_on, &t_off, false));
	fig_row(fig, row("worker RSS outside guest RAM: sandbox (floor: --no-sandbox)", "MiB",
			 &m_on, &m_off, false));
	fig_row(fig, row("worker PSS outside guest RAM: sandbox (floor: --no-sandbox)", "MiB",
			 &p_on, &p_off, false));
	json_object_set_new(samples, "sandbox_on_ms", samples_json(&t_on));
	json_object_set_new(samples, "sandbox_off_ms", samples_json(&t_off));
	series_free(&t_on), series_free(&t_off), series_free(&m_on), series_free(&m_off);
	series_free(&p_on), series_free(&p_off);
}

static void fig_memory(void)
{
	struct series w1 = { 0 }, wn = { 0 }, p1 = { 0 }, pn = { 0 }, d1 = { 0 }, dn = { 0 };
	struct series frss = { 0 }, fpss = { 0 };
	json_t *fig = figure("memory", "3. memory overhead per VM (outside guest RAM)");
	char (*names)[64] = calloc((size_t)opt.vms, sizeof(*names));
	int made = 0;
	long d0, rss, pss;

	progress("figure 3: memory, 1 and %d VMs", opt.vms);
	d0 = proc_rss_kb(opt.daemon_pid);
	for (int i = 0; i < opt.vms; i++) {
		json_t *r, *bt;

		next_name(names[i], sizeof(names[i]), "mem");
		r = call("vm.create", create_params(names[i], img_hold, "32M", true));
		json_decref(r);
		if (!r)
			break;
		made++;
		bt = wait_marks(names[i], 1, 30000, 5);
		json_decref(bt);
		if (!bt)
			break;
		if (i == 0) {
			if (worker_mem(names[0], &rss, &pss) == 0) {
				series_add(&w1, (double)rss / 1024.0);
				series_add(&p1, (double)pss / 1024.0);
			}
			if (d0 >= 0)
				series_add(&d1, (double)(proc_rss_kb(opt.daemon_pid) - d0) / 1024.0);
		}
	}
	if (made == opt.vms) {
		if (d0 >= 0)
			series_add(&dn, (double)(proc_rss_kb(opt.daemon_pid) - d0) / 1024.0 / made);
		for (int i = 0; i < made; i++) {
			if (worker_mem(names[i], &rss, &pss) == 0) {
				series_add(&wn, (double)rss / 1024.0);
				series_add(&pn, (double)pss / 1024.0);
			}
		}
	}
	for (int i = 0; i < made; i++)
		destroy_on(conn, names[i]);
	free(names);

	/* the floor, held after its first mark */
	for (int i = 0; i < 3; i++) {
		struct floor_run f;
		struct range ex;
		long in;

		if (floor_spawn(&f, img_off, 0, true) < 0)
			break;
		if (floor_result(&f)) {
			ex.lo = strtoull(json_string_value(json_object_get(f.res, "ram_hva")), NULL, 0);
			ex.hi = ex.lo + (uint64_t)jint(f.res, "ram_size");
			if (smaps_split(f.pid, &ex, 1, &rss, &pss, &in) == 0) {
				series_add(&frss, (double)rss / 1024.0);
				series_add(&fpss, (double)pss / 1024.0);
			}
			json_decref(f.res);
		}
		floor_finish(&f);
	}
	fig_row(fig, row("worker RSS outside guest RAM, 1 VM", "MiB", &w1, &frss, false));
	char label[128];
	snprintf(label, sizeof(label), "worker RSS outside guest RAM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &wn, &frss, false));
	snprintf(label, sizeof(label), "worker PSS outside guest RAM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &pn, &fpss, false));
	fig_row(fig, row("daemon RSS growth, 1 VM", "MiB", &d1, NULL, false));
	snprintf(label, sizeof(label), "daemon RSS growth per VM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &dn, NULL, false));
	fig_note(fig, "daemon_rss_mib", num((double)d0 / 1024.0));
	series_free(&w1), series_free(&wn), series_free(&p1), series_free(&pn);
	series_free(&d1), series_free(&dn), series_free(&frss), series_free(&fpss);
}

/* ---- 4. creation rate ------------------------------------------------ */

/* create a VM that powers off at once, wait for its worker to end, destroy */
static int cycle(struct armvm *c, const char *name)
{
	json_t *r = call_on(c, "vm.create", create_params(name, img_off, "16M", true), 60000);
	int pid;

	if (!r)
		return -1;
	pid = (int)jint(r, "pid");
	json_decref(r);
	if (pid > 0 && wait_gone(pid, 60000) < 0)
		error("VM %s: worker %d did not end", name, pid);
	destroy_on(c, name);
	return 0;
}

struct rate_thread {
	pthread_t t;
	pthread_barrier_t *go;
	char name[64];
	int rc;
};

static void *rate_worker(void *arg)
{
	struct rate_thread *rt = arg;
	int err = 0;
	struct armvm *c = armvm_connect(opt.socket, &err);

	pthread_barrier_wait(rt->go);
	rt->rc = c ? cycle(c, rt->name) : -1;
	if (c)
		armvm_close(c);
	return NULL;
}

static double rate_concurrent(int n)
{
	struct rate_thread *rt = calloc((size_t)n, sizeof(*rt));
	pthread_barrier_t go;
	int64_t t0;
	int ok = 0;

	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		rt[i].go = &go;
		next_name(rt[i].name, sizeof(rt[i].name), "rate");
		pthread_create(&rt[i].t, NULL, rate_worker, &rt[i]);
	}
	sleep_ms(20);
	t0 = mono_ns();
	pthread_barrier_wait(&go);
	for (int i = 0; i < n; i++) {
		pthread_join(rt[i].t, NULL);
		ok += rt[i].rc == 0;
	}
	t0 = mono_ns() - t0;
	pthread_barrier_destroy(&go);
	free(rt);
	return ok == n ? (double)t0 / 1e6 : NAN;
}

static double floor_concurrent(int n)
{
	struct floor_run *f = calloc((size_t)n, sizeof(*f));
	int64_t t0 = mono_ns();
	int ok = 0, spawned = 0;

	for (int i = 0; i < n; i++, spawned++)
		if (floor_spawn(&f[i], img_off, 0, false) < 0)
			break;
	for (int i = 0; i < spawned; i++) {
		if (floor_result(&f[i]))
			json_decref(f[i].res);
		ok += floor_finish(&f[i]) == 0;
	}
	t0 = mono_ns() - t0;
	free(f);
	return ok == n ? (double)t0 / 1e6 : NAN;
}

static void fig_rate(void)
{
	struct series a_ser = { 0 }, a_con = { 0 }, f_ser = { 0 }, f_con = { 0 };
	struct series a_each = { 0 }, f_each = { 0 }, dcpu = { 0 };
	json_t *fig = figure("rate", "4. creation rate: create, run to power-off, destroy");
	int n = opt.rate_vms;

	progress("figure 4: creation rate, %d VMs x %d runs", n, opt.rate_runs);
	for (int run = 0; run < opt.rate_runs; run++) {
		double c0 = proc_cpu_ms(opt.daemon_pid), ms;
		int64_t t0 = mono_ns();
		int ok = 0;

		for (int i = 0; i < n; i++) {
			char name[64];
			int64_t t1 = mono_ns();

			next_name(name, sizeof(name), "rate");
			if (cycle(conn, name) < 0)
				break;
			series_add(&a_each, (double)(mono_ns() - t1) / 1e6);
			ok++;
		}
		ms = (double)(mono_ns() - t0) / 1e6;
		if (ok == n) {
			series_add(&a_ser, 1000.0 * n / ms);
			series_add(&dcpu, (proc_cpu_ms(opt.daemon_pid) - c0) / n);
		}
		ms = rate_concurrent(n);
		if (!isnan(ms))
			series_add(&a_con, 1000.0 * n / ms);

		t0 = mono_ns();
		ok = 0;
		for (int i = 0; i < n; i++) {
			int64_t t1 = mono_ns();
			json_t *r = floor_once(img_off, 0, NULL);

			if (!r)
				break;
			json_decref(r);
			series_add(&f_each, (double)(mono_ns() - t1) / 1e6);
			ok++;
		}
		ms = (double)(mono_ns() - t0) / 1e6;
		if (ok == n)
			series_add(&f_ser, 1000.0 * n / ms);
		ms = floor_concurrent(n);
		if (!isnan(ms))
			series_add(&f_con, 1000.0 * n / ms);
	}
	fig_row(fig, row("serial", "VMs/s", &a_ser, &f_ser, true));
	char label[96];
	snprintf(label, sizeof(label), "concurrent (%d at once)", n);
	fig_row(fig, row(label, "VMs/s", &a_con, &f_con, true));
	fig_row(fig, row("serial, one VM's cycle", "ms", &a_each, &f_each, false));
	fig_row(fig, row("daemon CPU per VM (serial)", "ms", &dcpu, NULL, false));
	fig_note(fig, "vms_per_run", json_integer(n));
	series_free(&a_ser), series_free(&a_con), series_free(&f_ser), series_free(&f_con);
	series_free(&a_each), series_free(&f_each), series_free(&dcpu);
}

/* ---- 5. RPC round trip ----------------------------------------------- */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* send one line, read one line back into buf; its length or -1 */
static ssize_t raw_rtt(int fd, const char *req, size_t reqlen, char *buf, size_t cap)
{
	size_t len = 0;

	if (write(fd, req, reqlen) != (ssize_t)reqlen)
		return -1;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		len += (size_t)n;
		if (buf[len - 1] == '\n')
			return (ssize_t)len;
	}
	return -1;
}

/* the echo server: every line read gets `reply` back */
static pid_t echo_server(const char *path, const char *reply, size_t rlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4) < 0) {
		error("echo socket %s: %s", path, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		char buf[65536];
		int fd = accept(ls, NULL, NULL);
		size_t have = 0;

		for (;;) {
			ssize_t n = read(fd, buf + have, sizeof(buf) - have);
			char *nl;

			if (n <= 0)
				_exit(0);
			have += (size_t)n;
			while ((nl = memchr(buf, '\n', have))) {
				size_t used = (size_t)(nl - buf) + 1;

				if (write(fd, reply, rlen) != (ssize_t)rlen)
					_exit(1);
				memmove(buf, nl + 1, have - used);
				have -= used;
			}
			if (have == sizeof(buf))
				have = 0;
		}
	}
	close(ls);
	return pid;
}

/* pin a process (its main thread) to one CPU; the old mask in *old */
static int pin(int pid, int cpu, cpu_set_t *old)
{
	cpu_set_t set;

	if (old && sched_getaffinity(pid, sizeof(*old), old) < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

struct rpc_pass {
	struct series lib, raw, stopped, echo;
};

/*
 * One pass of figure 5: vm.info of the running VM `name` through libarmvm,
 * then the same request bytes on a raw socket, vm.info of the stopped VM
 * `sname` (no worker to ask), and an echo server that answers each line
 * with the bytes of the real answer.  0, or -1 when something failed.
 */
static int rpc_pass(struct rpc_pass *p, const char *name, const char *sname,
		    json_int_t *reply_bytes)
{
	char req[256], sreq[256], epath[PATH_MAX];
	static char reply[65536], buf[65536];
	ssize_t rlen = -1;
	size_t reqlen, sreqlen;
	int fd = -1, efd = -1, rc = -1;
	pid_t epid = -1;
	json_t *r;

	for (int i = 0; i < opt.rpc_calls + 20; i++) {
		int64_t t0 = mono_ns();

		r = info(name);
		if (!r)
			goto out;
		if (i >= 20)
			series_add(&p->lib, (double)(mono_ns() - t0) / 1e3);
		json_decref(r);
	}
	reqlen = (size_t)snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				  "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\"}}\n", name);
	sreqlen = (size_t)snprintf(sreq, sizeof(sreq), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\"}}\n", sname);
	fd = unix_connect(opt.socket);
	if (fd < 0) {
		error("connect %s: %s", opt.socket, strerror(errno));
		goto out;
	}
	for (int i = 0; i < opt.rpc_calls + 20; i++) {
		int64_t t0 = mono_ns();

		rlen = raw_rtt(fd, req, reqlen, reply, sizeof(reply));
		if (rlen < 0)
			goto out;
		if (i >= 20)
			series_add(&p->raw, (double)(mono_ns() - t0) / 1e3);
	}
	for (int i = 0; i < opt.rpc_calls + 20; i++) {
		int64_t t0 = mono_ns();

		if (raw_rtt(fd, sreq, sreqlen, buf, sizeof(buf)) < 0)
			goto out;
		if (i >= 20)
			series_add(&p->stopped, (double)(mono_ns() - t0) / 1e3);
	}
	*reply_bytes = rlen;
	snprintf(epath, sizeof(epath), "%s/echo.sock", opt.workdir);
	epid = echo_server(epath, reply, (size_t)rlen);
	efd = epid > 0 ? unix_connect(epath) : -1;
	if (efd < 0) {
		error("echo server: cannot connect");
		goto out;
	}
	for (int i = 0; i < opt.rpc_calls + 20; i++) {
		int64_t t0 = mono_ns();

		if (raw_rtt(efd, req, reqlen, buf, sizeof(buf)) != rlen)
			goto out;
		if (i >= 20)
			series_add(&p->echo, (double)(mono_ns() - t0) / 1e3);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (efd >= 0)
		close(efd);
	if (epid > 0) {
		kill(epid, SIGTERM);
		waitpid(epid, NULL, 0);
		unlink(epath);
	}
	return rc;
}

static void fig_rpc(void)
{
	struct rpc_pass free_ = { 0 }, one = { 0 };
	json_t *fig = figure("rpc", "5. RPC round trip: vm.info");
	char name[64], sname[64];
	json_int_t reply_bytes = 0;
	cpu_set_t self_mask, daemon_mask, worker_mask;
	int worker = 0;
	json_t *r, *bt;

	progress("figure 5: vm.info round trips, %d each, on any CPU and on one", opt.rpc_calls);
	next_name(name, sizeof(name), "rpc");
	r = call("vm.create", create_params(name, img_hold, "16M", true));
	worker = (int)jint(r, "pid");
	json_decref(r);
	bt = r ? wait_marks(name, 1, 30000, 5) : NULL;
	json_decref(bt);
	next_name(sname, sizeof(sname), "rpcstop");
	r = call("vm.create", create_params(sname, img_hold, "16M", false));
	json_decref(r);
	json_decref(r ? call("vm.stop", json_pack("{s:s}", "name", sname)) : NULL);

	/* as the scheduler places them, then client, echo server, daemon and
	 * worker all on CPU 0 (no wake-up of another, idle CPU in the path) */
	if (bt && rpc_pass(&free_, name, sname, &reply_bytes) == 0 && opt.daemon_pid > 0 &&
	    worker > 0 && pin(0, 0, &self_mask) == 0) {
		if (pin(opt.daemon_pid, 0, &daemon_mask) == 0 && pin(worker, 0, &worker_mask) == 0)
			rpc_pass(&one, name, sname, &reply_bytes);
		else
			error("cannot pin armvmd's processes: %s", strerror(errno));
		sched_setaffinity(worker, sizeof(worker_mask), &worker_mask);
		sched_setaffinity(opt.daemon_pid, sizeof(daemon_mask), &daemon_mask);
		sched_setaffinity(0, sizeof(self_mask), &self_mask);
	}
	fig_row(fig, row("vm.info of a running VM via libarmvm (floor: echo of the same bytes)",
			 "us", &free_.lib, &free_.echo, false));
	fig_row(fig, row("  raw socket", "us", &free_.raw, &free_.echo, false));
	fig_row(fig, row("  a stopped VM (no worker to ask), raw socket", "us",
			 &free_.stopped, &free_.echo, false));
	fig_row(fig, row("all on one CPU: vm.info of a running VM via libarmvm", "us",
			 &one.lib, &one.echo, false));
	fig_row(fig, row("  one CPU: raw socket", "us", &one.raw, &one.echo, false));
	fig_row(fig, row("  one CPU: a stopped VM, raw socket", "us",
			 &one.stopped, &one.echo, false));
	fig_note(fig, "reply_bytes", json_integer(reply_bytes));
	destroy_on(conn, name);
	destroy_on(conn, sname);
	series_free(&free_.lib), series_free(&free_.raw), series_free(&free_.stopped);
	series_free(&free_.echo), series_free(&one.lib), series_free(&one.raw);
	series_free(&one.stopped), series_free(&one.echo);
}

/* ---- 6. MMIO exit round trip ----------------------------------------- */

static void fig_exit(void)
{
	struct series a = { 0 }, f = { 0 };
	json_t *fig = figure("exit", "6. userspace MMIO exit round trip (guest reads a device register)");

	progress("figure 6: MMIO exits, %d reads x %d runs", opt.loops, opt.exit_runs);
	for (int i = 0; i < opt.exit_runs; i++) {
		char name[64];
		json_t *r, *bt, *marks;

		next_name(name, sizeof(name), "exit");
		r = call("vm.create", create_params(name, img_exit, "16M", true));
		json_decref(r);
		bt = r ? wait_marks(name, 2, 120000, 50) : NULL;
		marks = json_object_get(bt, "marks_ns");
		if (json_array_size(marks) >= 2) {
			int64_t d = json_integer_value(json_array_get(marks, 1)) -
				    json_integer_value(json_array_get(marks, 0));

			series_add(&a, (double)d / 1e3 / opt.loops);
		}
		if (i == 0 && bt) {
			json_t *in = info(name);
			json_t *v0 = json_array_get(json_object_get(json_object_get(in, "live"),
								    "vcpus"), 0);

			fig_note(fig, "armvmd_mmio_exits", json_integer(jint(v0, "mmio_exits")));
			json_decref(in);
		}
		json_decref(bt);
		destroy_on(conn, name);
		if (!bt)
			break;
	}
	for (int i = 0; i < opt.exit_runs; i++) {
		json_t *r = floor_once(img_off, opt.loops, NULL);
		json_t *marks = json_object_get(r, "marks_ns");

		if (json_array_size(marks) >= 2) {
			int64_t d = json_integer_value(json_array_get(marks, 1)) -
				    json_integer_value(json_array_get(marks, 0));

			series_add(&f, (double)d / 1e3 / opt.loops);
		}
		if (i == 0 && r)
			fig_note(fig, "floor_mmio_reads", json_integer(jint(r, "mmio_reads")));
		json_decref(r);
		if (!r)
			break;
	}
	fig_row(fig, row("one MMIO read exit, guest -> VMM -> guest", "us", &a, &f, false));
	fig_note(fig, "reads_per_run", json_integer(opt.loops));
	series_free(&a), series_free(&f);
}

/* ---- main ------------------------------------------------------------ */

static json_t *host_json(void)
{
	struct utsname u;
	char model[128] = "";
	FILE *fp = fopen("/proc/device-tree/model", "re");

	if (fp) {
		if (!fgets(model, sizeof(model), fp))
			model[0] = '\0';
		fclose(fp);
	}
	uname(&u);
	return json_pack("{s:s, s:s, s:i, s:s}", "kernel", u.release, "machine", u.machine,
			 "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "model", model);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: armvmd-bench [options]\n"
"  --socket PATH     armvmd's socket ($ARMVMD_SOCKET, /run/armvmd/armvmd.sock)\n"
"  --daemon-pid PID  armvmd's pid (default: found in /proc)\n"
"  --nosandbox-socket PATH  a second armvmd, started with --no-sandbox: figure 7\n"
"                    compares the two, samples interleaved\n"
"  --guest IMG       bare-metal guest (/usr/lib/armvmd-guests/boottimer.img)\n"
"  --floor PATH      kvm-floor (default: beside this program)\n"
"  --armvmd PATH     armvmd's binary, to time its exec (/usr/bin/armvmd)\n"
"  --kernel IMG --initrd CPIO  Linux guest (/usr/lib/armvmd-guests/{Image,linux.cpio.gz})\n"
"  --cmdline TEXT    its command line (\"console=ttyS0 quiet\")\n"
"  --workdir DIR     scratch files ($TMPDIR or /tmp)\n"
"  --runs N          figure 1 runs (30)       --linux-runs N  figure 2 boots (10)\n"
"  --vms N           figure 3 VMs (20)        --rate-vms N    figure 4 VMs per run (10)\n"
"  --rate-runs N     figure 4 runs (3)        --rpc N         figure 5 calls (500)\n"
"  --loops N         figure 6 reads (2000)    --exit-runs N   figure 6 runs (10)\n"
"  --linux-timeout S one Linux boot's limit (300)\n"
"  --only LIST       figures: start,linux,memory,rate,rpc,exit\n"
"  --quick           tiny counts: proves the benchmark works (make check)\n");
}

int main(int argc, char **argv)
{
	static char floor_path[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	bool quick = false;
	json_t *out;
	int err = 0;

	opt.socket = armvm_default_socket();
	opt.guest = "/usr/lib/armvmd-guests/boottimer.img";
	opt.armvmd = "/usr/bin/armvmd";
	opt.kernel = "/usr/lib/armvmd-guests/Image";
	opt.initrd = "/usr/lib/armvmd-guests/linux.cpio.gz";
	opt.linux_cmdline = "console=ttyS0 quiet";
	opt.workdir = tmp && *tmp ? tmp : "/tmp";
	opt.runs = 30, opt.linux_runs = 10, opt.vms = 20, opt.rate_vms = 10;
	opt.rate_runs = 3, opt.rpc_calls = 500, opt.loops = 2000, opt.exit_runs = 10;
	opt.linux_timeout = 300;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int *ip = NULL;
		const char **sp = NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--quick")) {
			quick = true;
			continue;
		}
		if (!strcmp(a, "--socket")) sp = &opt.socket;
		else if (!strcmp(a, "--guest")) sp = &opt.guest;
		else if (!strcmp(a, "--floor")) sp = &opt.floor;
		else if (!strcmp(a, "--armvmd")) sp = &opt.armvmd;
		else if (!strcmp(a, "--kernel")) sp = &opt.kernel;
		else if (!strcmp(a, "--initrd")) sp = &opt.initrd;
		else if (!strcmp(a, "--cmdline")) sp = &opt.linux_cmdline;
		else if (!strcmp(a, "--workdir")) sp = &opt.workdir;
		else if (!strcmp(a, "--nosandbox-socket")) sp = &opt.socket_nosandbox;
		else if (!strcmp(a, "--only")) sp = &opt.only;
		else if (!strcmp(a, "--daemon-pid")) ip = &opt.daemon_pid;
		else if (!strcmp(a, "--runs")) ip = &opt.runs;
		else if (!strcmp(a, "--linux-runs")) ip = &opt.linux_runs;
		else if (!strcmp(a, "--vms")) ip = &opt.vms;
		else if (!strcmp(a, "--rate-vms")) ip = &opt.rate_vms;
		else if (!strcmp(a, "--rate-runs")) ip = &opt.rate_runs;
		else if (!strcmp(a, "--rpc")) ip = &opt.rpc_calls;
		else if (!strcmp(a, "--loops")) ip = &opt.loops;
		else if (!strcmp(a, "--exit-runs")) ip = &opt.exit_runs;
		else if (!strcmp(a, "--linux-timeout")) ip = &opt.linux_timeout;
		if ((!sp && !ip) || !v) {
			usage(stderr);
			return 2;
		}
		if (sp)
			*sp = v;
		else if ((*ip = atoi(v)) < 1) {
			fprintf(stderr, "armvmd-bench: %s wants a positive number\n", a);
			return 2;
		}
		i++;
	}
	if (quick) {
		opt.runs = 3, opt.linux_runs = 1, opt.vms = 3, opt.rate_vms = 2;
		opt.rate_runs = 1, opt.rpc_calls = 20, opt.loops = 100, opt.exit_runs = 1;
	}
	if (!opt.floor) {
		char self[PATH_MAX - 16];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(floor_path, sizeof(floor_path), "%s/kvm-floor", slash ? self : ".");
		opt.floor = floor_path;
	}
	if (!opt.daemon_pid)
		opt.daemon_pid = find_daemon_pid();

	figures = json_array();
	samples = json_object();
	errors = json_array();
	signal(SIGPIPE, SIG_IGN);

	snprintf(img_off, sizeof(img_off), "%s/bench-off.img", opt.workdir);
	snprintf(img_hold, sizeof(img_hold), "%s/bench-hold.img", opt.workdir);
	snprintf(img_exit, sizeof(img_exit), "%s/bench-exit.img", opt.workdir);
	conn = armvm_connect(opt.socket, &err);
	if (!conn)
		error("cannot connect to %s: %s", opt.socket, strerror(-err));
	else if (access(opt.floor, X_OK))
		error("no kvm-floor at %s", opt.floor);
	else if (write_variant(img_off, 0, 0) == 0 && write_variant(img_hold, 0, 1) == 0 &&
		 write_variant(img_exit, (uint64_t)opt.loops, 1) == 0) {
		if (wanted("start"))
			fig_start();
		if (wanted("linux"))
			fig_linux();
		if (wanted("memory"))
			fig_memory();
		if (wanted("rate"))
			fig_rate();
		if (wanted("rpc"))
			fig_rpc();
		if (wanted("exit"))
			fig_exit();
		if (wanted("sandbox"))
			fig_sandbox();
	}
	if (conn)
		armvm_close(conn);

	out = json_pack("{s:s, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:s}, "
			"s:o, s:o, s:o}",
			"tool", "armvmd-bench", "host", host_json(), "params",
			"runs", opt.runs, "linux_runs", opt.linux_runs, "vms", opt.vms,
			"rate_vms", opt.rate_vms, "rate_runs", opt.rate_runs,
			"rpc_calls", opt.rpc_calls, "loops", opt.loops,
			"exit_runs", opt.exit_runs, "quick", quick,
			"linux_cmdline", opt.linux_cmdline,
			"figures", figures, "samples", samples, "errors", errors);
	json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
	putchar('\n');
	fflush(stdout);
	err = json_array_size(errors) ? 1 : 0;
	json_decref(out);
	return err;
}
