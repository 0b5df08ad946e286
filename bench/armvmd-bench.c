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
 * armvmd and floor samples are interleaved; the VM under test is waited
 * for through its pidfd or the state its worker pushed, never asked; counts
 * (CPU time, page faults, context switches, syscalls) stand beside the
 * times, the syscalls in untimed passes ("counters" says what works here).
 *
 * See `armvmd-bench --help`, bench/run and docs/PERFORMANCE.md.
 */
#include <errno.h>
#include <dirent.h>
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
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <jansson.h>

#include "libarmvm.h"

#define BT_MAGIC	0xb007b007u
#define IMG_LOOPS	0x40
#define IMG_AFTER	0x48

static struct {
	const char *socket, *guest, *floor, *kernel, *initrd, *workdir;
	const char *socket_nosandbox;	/* a second armvmd, --no-sandbox */
	const char *socket_nopool;	/* a third armvmd, --pool 0 */
	const char *linux_cmdline, *only, *armvmd, *state_dir;
	int daemon_pid, nopool_pid;
	int runs, linux_runs, vms, rate_vms, rate_runs, rpc_calls, loops, exit_runs;
	int linux_timeout;
} opt;

static json_t *figures, *samples, *errors;
static struct armvm *conn, *conn_nopool;
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

/*
 * How the benchmark waits for a VM: vm.info {"brief": true}, which the
 * daemon answers from the state the worker pushed (live.age_s says so),
 * so the VM under test is never asked anything while it is measured.
 * Answers that were not from the push (the daemon asked the worker) are
 * counted: figure notes "waits_asked_worker".
 */
static unsigned waits_pushed, waits_asked;

/* vm.info until live.boot_timer has `writes` marks; the live object (new
 * reference) or NULL on timeout / a VM that left the running state */
static json_t *wait_live(const char *name, int writes, int timeout_ms, int poll_ms)
{
	int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		json_t *i = call("vm.info", json_pack("{s:s, s:b}", "name", name, "brief", 1));
		json_t *live, *bt;
		const char *state;

		if (!i)
			return NULL;
		live = json_object_get(i, "live");
		if (json_object_get(live, "age_s"))
			waits_pushed++;
		else if (live)
			waits_asked++;
		bt = json_object_get(live, "boot_timer");
		if (json_integer_value(json_object_get(bt, "writes")) >= writes) {
			json_incref(live);
			json_decref(i);
			return live;
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

/* the boot_timer object of wait_live (new reference) */
static json_t *wait_marks(const char *name, int writes, int timeout_ms, int poll_ms)
{
	json_t *live = wait_live(name, writes, timeout_ms, poll_ms), *bt;

	bt = json_incref(json_object_get(live, "boot_timer"));
	json_decref(live);
	return bt;
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- deterministic counts ---------------------------------------------- */

/*
 * Beside the times, counts that do not depend on how loaded the emulated
 * host is: CPU time (user + system), page faults, context switches; and,
 * where perf_event_open has them, syscalls (the raw_syscalls:sys_enter
 * tracepoint) and instructions (PERF_COUNT_HW_INSTRUCTIONS).
 */
struct counts {
	double cpu_ms, minflt, majflt, csw;
};

static void counts_delta(struct counts *d, const struct counts *a, const struct counts *b)
{
	d->cpu_ms = b->cpu_ms - a->cpu_ms;
	d->minflt = b->minflt - a->minflt;
	d->majflt = b->majflt - a->majflt;
	d->csw = b->csw - a->csw;
}

static void counts_add(struct counts *d, const struct counts *a)
{
	d->cpu_ms += a->cpu_ms, d->minflt += a->minflt;
	d->majflt += a->majflt, d->csw += a->csw;
}

static void counts_rusage(struct counts *c, const struct rusage *ru)
{
	c->cpu_ms = (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
		    (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
	c->minflt = (double)ru->ru_minflt;
	c->majflt = (double)ru->ru_majflt;
	c->csw = (double)(ru->ru_nvcsw + ru->ru_nivcsw);
}

/*
 * Over the live threads of a process (an exited thread's are not shown
 * anywhere in /proc): context switches (status), and CPU time in ns from
 * schedstat (sum_exec_runtime; /proc/PID/stat has clock ticks only), NaN
 * without schedstat.
 */
static double proc_tasks(int pid, double *cpu_ms)
{
	char path[96], line[256];
	double sum = 0, cpu = 0;
	bool sched = true;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return NAN;
	while ((de = readdir(d))) {
		unsigned long long ns;
		FILE *fp;
		unsigned long v;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", pid, de->d_name);
		fp = fopen(path, "re");
		if (!fp)
			continue;
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lu", &v) == 1)
				sum += (double)v;
		fclose(fp);
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, de->d_name);
		fp = fopen(path, "re");
		if (fp && fscanf(fp, "%llu", &ns) == 1)
			cpu += (double)ns / 1e6;
		else
			sched = false;
		if (fp)
			fclose(fp);
	}
	closedir(d);
	*cpu_ms = sched ? cpu : NAN;
	return sum;
}

/*
 * /proc/PID/stat: the process's own counts (all its threads), and those of
 * its children it has reaped (cutime, cstime, cminflt, cmajflt: the workers
 * a daemon waited for; no context switches there).  -1 if it is gone.
 */
static int proc_counts(int pid, struct counts *self, struct counts *children)
{
	char path[64], buf[1024], *p;
	unsigned long minflt, cminflt, majflt, cmajflt, ut, st;
	long cut, cst;
	double tck = (double)sysconf(_SC_CLK_TCK);
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (!p || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %lu %lu %lu %lu %lu %ld %ld",
		   &minflt, &cminflt, &majflt, &cmajflt, &ut, &st, &cut, &cst) != 8)
		return -1;
	if (self) {
		double ns_cpu = NAN, csw = proc_tasks(pid, &ns_cpu);

		*self = (struct counts){ isnan(ns_cpu) ? (double)(ut + st) * 1000.0 / tck : ns_cpu,
					 (double)minflt, (double)majflt, csw };
	}
	if (children)
		*children = (struct counts){ (double)(cut + cst) * 1000.0 / tck,
					     (double)cminflt, (double)cmajflt, 0 };
	return 0;
}

static int tp_sys_enter = -1;		/* the tracepoint's id, or -1 */
static bool perf_instr;			/* hardware instruction counts work */
static json_t *counters_note;		/* what works and why not */

static int perf_open(uint32_t type, uint64_t config, int pid, bool inherit, bool on_exec)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = config;
	a.disabled = on_exec;
	a.enable_on_exec = on_exec;
	a.inherit = inherit;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static double perf_value(int fd)
{
	uint64_t v;

	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return NAN;
	return (double)v;
}

/* the counters of one process tree: syscalls, instructions (-1: none) */
struct perf_pair {
	int sys, ins;
};

static void perf_attach(struct perf_pair *p, int pid, bool inherit, bool on_exec)
{
	p->sys = tp_sys_enter >= 0 ?
		 perf_open(PERF_TYPE_TRACEPOINT, (uint64_t)tp_sys_enter, pid, inherit, on_exec) : -1;
	p->ins = perf_instr ?
		 perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, pid, inherit, on_exec) : -1;
}

static void perf_close(struct perf_pair *p)
{
	if (p->sys >= 0)
		close(p->sys);
	if (p->ins >= 0)
		close(p->ins);
	p->sys = p->ins = -1;
}

/* what perf_event_open can count here; notes why not */
static void perf_probe(void)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};
	char why[320] = "no raw_syscalls:sys_enter tracepoint (tracefs not mounted?)";
	int fd;

	counters_note = json_object();
	fd = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, 0, false, false);
	if (fd >= 0) {
		perf_instr = true;
		close(fd);
		json_object_set_new(counters_note, "instructions",
				    json_string("perf_event_open PERF_COUNT_HW_INSTRUCTIONS"));
	} else {
		snprintf(why, sizeof(why), "n/a: perf_event_open PERF_COUNT_HW_INSTRUCTIONS: %s "
			 "(the emulated CPU's PMU does not count instructions without icount); "
			 "CPU time from getrusage and /proc instead", strerror(errno));
		json_object_set_new(counters_note, "instructions", json_string(why));
		snprintf(why, sizeof(why), "no raw_syscalls:sys_enter tracepoint (tracefs not mounted?)");
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && tp_sys_enter < 0; i++) {
		FILE *fp = fopen(paths[i], "re");
		int id;

		if (!fp)
			continue;
		if (fscanf(fp, "%d", &id) == 1) {
			fd = perf_open(PERF_TYPE_TRACEPOINT, (uint64_t)id, 0, false, false);
			if (fd >= 0) {
				tp_sys_enter = id;
				close(fd);
			} else {
				snprintf(why, sizeof(why), "perf_event_open raw_syscalls:sys_enter: %s",
					 strerror(errno));
			}
		}
		fclose(fp);
	}
	json_object_set_new(counters_note, "syscalls", json_string(tp_sys_enter >= 0 ?
		"perf_event_open, tracepoint raw_syscalls:sys_enter (inherited by children)" :
		why));
	json_object_set_new(counters_note, "perf_tool", json_string(
		access("/usr/bin/perf", X_OK) ? "no perf(1) in the emulated host: "
		"perf_event_open is called directly" : "perf(1) present, not used: "
		"perf_event_open is called directly"));
	json_object_set_new(counters_note, "cpu_faults_csw", json_string(
		"floor: wait4's rusage; workers and daemons: /proc/PID/stat (utime+stime, minflt, "
		"majflt; cutime, cstime, cminflt, cmajflt of reaped workers) and "
		"/proc/PID/task/*/status (voluntary+nonvoluntary_ctxt_switches)"));
}

/* ---- the floor (kvm-floor) -------------------------------------------- */

struct floor_run {
	pid_t pid;
	int out, in;			/* its stdout (read), its stdin (write) */
	int64_t t0;			/* before fork */
	json_t *res;
	struct rusage ru;		/* wait4's, once it ended */
	struct perf_pair perf;		/* from its exec on */
	double syscalls, instructions;
};

/* attach the perf counters to the floors spawned while set: counting
 * syscalls through a tracepoint slows the counted process down, so the
 * counted runs are separate from the timed ones */
static bool floor_counted;

static int floor_spawn(struct floor_run *f, const char *image, long loops, bool hold)
{
	int o[2], i[2], go[2];
	char lbuf[32];

	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(i, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
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
		char c;

		dup2(o[1], STDOUT_FILENO);
		dup2(i[0], STDIN_FILENO);
		/* counters attached before exec, when there are any */
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(127);
		if (hold)
			execl(opt.floor, "kvm-floor", "--hold", "--loops", lbuf, image, (char *)NULL);
		else
			execl(opt.floor, "kvm-floor", "--loops", lbuf, image, (char *)NULL);
		_exit(127);
	}
	f->perf = (struct perf_pair){ -1, -1 };
	if (floor_counted)
		perf_attach(&f->perf, f->pid, false, true);
	close(go[0]);
	close(go[1]);		/* the child reads EOF and execs */
	close(o[1]);
	close(i[0]);
	f->out = o[0];
	f->in = i[1];
	f->res = NULL;
	f->syscalls = f->instructions = NAN;
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
	memset(&f->ru, 0, sizeof(f->ru));
	while (wait4(f->pid, &st, 0, &f->ru) < 0 && errno == EINTR)
		;
	f->syscalls = perf_value(f->perf.sys);
	f->instructions = perf_value(f->perf.ins);
	perf_close(&f->perf);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		error("kvm-floor ended with status 0x%x", st);
		return -1;
	}
	return 0;
}

/* run the floor to completion; its result (new reference) or NULL; its
 * counts (and syscalls, NaN when they cannot be counted) if asked */
static json_t *floor_once_counted(const char *image, long loops, int64_t *t0,
				  struct counts *c, double *syscalls, double *instructions)
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
	if (c)
		counts_rusage(c, &f.ru);
	if (syscalls)
		*syscalls = f.syscalls;
	if (instructions)
		*instructions = f.instructions;
	return r;
}

static json_t *floor_once(const char *image, long loops, int64_t *t0)
{
	return floor_once_counted(image, loops, t0, NULL, NULL, NULL);
}

/* ---- /proc ------------------------------------------------------------ */

struct range {
	uint64_t lo, hi;
};

/* a process's memory outside guest RAM, KiB: Rss, Pss, private (Private_Clean
 * + Private_Dirty: what this process alone keeps in memory) */
struct mem {
	long rss, pss, priv;
};

/*
 * Rss, Pss and private memory (KiB) of a process's mappings outside the
 * given ranges (guest RAM), and its Rss inside them.  -1 if smaps cannot be
 * read.
 */
static int smaps_split(int pid, const struct range *ex, size_t nex,
		       struct mem *out, long *rss_in)
{
	long *rss_out = &out->rss, *pss_out = &out->pss;

	char path[64], line[512];
	FILE *fp;
	bool inside = false;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	*rss_out = *pss_out = *rss_in = out->priv = 0;
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
		} else if (sscanf(line, "Private_Clean: %ld kB", &kb) == 1 ||
			   sscanf(line, "Private_Dirty: %ld kB", &kb) == 1) {
			if (!inside)
				out->priv += kb;
		}
	}
	fclose(fp);
	return 0;
}

static long proc_rss_kb(int pid)
{
	struct mem m;
	long in;

	if (smaps_split(pid, NULL, 0, &m, &in) < 0)
		return -1;
	return m.rss;
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

/* daemon.info's pool.taken through c: how many creates a pool served (-1:
 * no pool) */
static long pool_taken(struct armvm *c)
{
	json_t *r = c ? call_on(c, "daemon.info", json_object(), 10000) : NULL;
	json_t *p = json_object_get(r, "pool");
	long t = json_object_get(p, "taken") ? (long)jint(p, "taken") : -1;

	json_decref(r);
	return t;
}

/* wait until the pool of c's daemon is full again (a create that finds it
 * so is the case the pool is for); daemon.info only, no VM is asked */
static void pool_wait_full(struct armvm *c, int timeout_ms)
{
	int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		json_t *r = call_on(c, "daemon.info", json_object(), 10000);
		json_t *p = json_object_get(r, "pool");
		bool full = !p || jint(p, "idle") >= jint(p, "size");

		json_decref(r);
		if (full || mono_ns() > end)
			return;
		sleep_ms(20);
	}
}

static void note_pool(json_t *fig, const char *key, long before, long after, int creates)
{
	char buf[96];

	if (before < 0 || after < 0)
		snprintf(buf, sizeof(buf), "0 of %d vm.create served from a pool (none)", creates);
	else
		snprintf(buf, sizeof(buf), "%ld of %d vm.create served from the pool",
			 after - before, creates);
	fig_note(fig, key, json_string(buf));
}

struct start_series {
	struct series total, create, startrtt, arrival, vmm, wcpu, dcpu, vcpu, flt, csw;
};

static void start_series_free(struct start_series *s)
{
	series_free(&s->total), series_free(&s->create), series_free(&s->startrtt);
	series_free(&s->arrival), series_free(&s->vmm), series_free(&s->wcpu);
	series_free(&s->dcpu), series_free(&s->vcpu), series_free(&s->flt);
	series_free(&s->csw);
}

/*
 * One armvmd sample of figure 1 through c, whose daemon is dpid: vm.create
 * (not started), vm.start, then wait for the first mark (from the pushed
 * state: the worker is not asked).  A pool is let fill up first.  The daemon's counts are its deltas over
 * the two calls; the worker's, its own since its exec, read after the mark
 * (it then waits in wfi).  0, or -1 when something failed.
 */
static int start_once(struct armvm *c, int dpid, const char *tag, struct start_series *s)
{
	struct armvm *saved = conn;
	struct counts d0, d1, dd, w;
	char name[64];
	json_t *r, *live = NULL, *bt;
	int64_t t0, t1;
	int rc = -1;
	bool have_d;

	conn = c;
	pool_wait_full(c, 10000);
	next_name(name, sizeof(name), tag);
	have_d = dpid > 0 && proc_counts(dpid, &d0, NULL) == 0;
	t0 = mono_ns();
	r = call("vm.create", create_params(name, img_hold, "16M", false));
	if (!r)
		goto out;
	json_decref(r);
	series_add(&s->create, (double)(mono_ns() - t0) / 1e6);
	t1 = mono_ns();
	r = call("vm.start", json_pack("{s:s}", "name", name));
	if (!r)
		goto destroy;
	json_decref(r);
	series_add(&s->startrtt, (double)(mono_ns() - t1) / 1e6);
	have_d = have_d && proc_counts(dpid, &d1, NULL) == 0;
	live = wait_live(name, 1, 30000, 20);
	bt = json_object_get(live, "boot_timer");
	if (!bt)
		goto destroy;
	series_add(&s->total, (double)(jint(bt, "first_write_ns") - t0) / 1e6);
	series_add(&s->arrival, (double)jint(bt, "wall_ns") / 1e6);
	if (json_object_get(bt, "first_run_ns"))
		series_add(&s->vmm, (double)(jint(bt, "wall_ns") - jint(bt, "first_run_ns")) / 1e6);
	double wcpu = (double)jint(bt, "worker_cpu_ns") / 1e6;

	series_add(&s->wcpu, wcpu);
	if (have_d) {
		counts_delta(&dd, &d0, &d1);
		series_add(&s->dcpu, dd.cpu_ms);
		series_add(&s->vcpu, wcpu + dd.cpu_ms);
		if (proc_counts((int)jint(live, "pid"), &w, NULL) == 0) {
			series_add(&s->flt, w.minflt + w.majflt + dd.minflt + dd.majflt);
			series_add(&s->csw, w.csw + dd.csw);
		}
	}
	rc = 0;
destroy:
	destroy_on(conn, name);
out:
	json_decref(live);
	conn = saved;
	return rc;
}

/* one floor sample: fork+exec to the first mark, and its counts */
static int start_floor(struct series *total, struct series *cpu, struct series *flt,
		       struct series *csw)
{
	struct counts c;
	int64_t t0 = 0;
	json_t *r = floor_once_counted(img_off, 0, &t0, &c, NULL, NULL);
	json_t *m = json_array_get(json_object_get(r, "marks_ns"), 0);

	if (!m) {
		json_decref(r);
		error("kvm-floor made no mark");
		return -1;
	}
	series_add(total, (double)(json_integer_value(m) - t0) / 1e6);
	series_add(cpu, (double)jint(r, "cpu_ns") / 1e6);
	series_add(flt, c.minflt + c.majflt);
	series_add(csw, c.csw);
	json_decref(r);
	return 0;
}

static void fig_start(void)
{
	struct start_series a = { 0 }, np = { 0 };
	struct series f_total = { 0 }, f_cpu = { 0 }, f_flt = { 0 }, f_csw = { 0 };
	struct series a_layout = { 0 }, a_exec = { 0 }, f_exec = { 0 };
	json_t *fig = figure("start", "1. start to first guest instruction (bare-metal guest)");
	int nvar = conn_nopool ? 3 : 2;
	long taken0 = pool_taken(conn), taken1, nptaken0 = pool_taken(conn_nopool);
	bool failed = false;

	progress("figure 1: start to first instruction, %d runs each, interleaved (%s)",
		 opt.runs, conn_nopool ? "pool, floor, no pool" : "armvmd, floor");
	waits_pushed = waits_asked = 0;
	for (int i = 0; i < opt.runs && !failed; i++) {
		for (int k = 0; k < nvar && !failed; k++) {
			switch ((i + k) % nvar) {
			case 0:
				failed = start_once(conn, opt.daemon_pid, "start", &a) < 0;
				break;
			case 1:
				failed = start_floor(&f_total, &f_cpu, &f_flt, &f_csw) < 0;
				break;
			default:
				failed = start_once(conn_nopool, opt.nopool_pid, "startnp", &np) < 0;
			}
		}
	}
	taken1 = pool_taken(conn);
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
		double x = i % 2 ? exec_ms(opt.floor, "--help") : exec_ms(opt.armvmd, "--version");
		double y = i % 2 ? exec_ms(opt.armvmd, "--version") : exec_ms(opt.floor, "--help");

		if (!isnan(x))
			series_add(i % 2 ? &f_exec : &a_exec, x);
		if (!isnan(y))
			series_add(i % 2 ? &a_exec : &f_exec, y);
	}
	fig_row(fig, row("vm.create+vm.start -> first boot-timer write (floor: fork+exec -> write)",
			 "ms", &a.total, &f_total, false));
	fig_row(fig, row("VMM CPU up to the write: worker (since exec) + daemon (create+start)",
			 "ms", &a.vcpu, &f_cpu, false));
	fig_row(fig, row("  the worker's CPU (since its exec; floor: kvm-floor's)", "ms",
			 &a.wcpu, &f_cpu, false));
	fig_row(fig, row("  the daemon's CPU for vm.create+vm.start", "ms", &a.dcpu, NULL, false));
	fig_row(fig, row("  page faults: worker (since exec) + daemon (floor: its own, all)",
			 "count", &a.flt, &f_flt, false));
	fig_row(fig, row("  context switches: worker + daemon (floor: its own, all)", "count",
			 &a.csw, &f_csw, false));
	if (conn_nopool) {
		fig_row(fig, row("without the pool (--pool 0): vm.create+vm.start -> write", "ms",
				 &np.total, &f_total, false));
		fig_row(fig, row("  without the pool: VMM CPU, worker + daemon", "ms",
				 &np.vcpu, &f_cpu, false));
		fig_row(fig, row("  without the pool: the daemon's CPU for vm.create+vm.start", "ms",
				 &np.dcpu, NULL, false));
		fig_row(fig, row("  without the pool: page faults, worker + daemon", "count",
				 &np.flt, &f_flt, false));
		fig_row(fig, row("  without the pool: vm.create round trip", "ms",
				 &np.create, NULL, false));
	}
	/* where armvmd's time goes */
	fig_row(fig, row("  vm.create round trip (worker set up, not started)", "ms",
			 &a.create, NULL, false));
	fig_row(fig, row("    vm.layout round trip (the plan alone)", "ms", &a_layout, NULL, false));
	fig_row(fig, row("    fork+exec+exit of the binary (armvmd --version; floor: kvm-floor)",
			 "ms", &a_exec, &f_exec, false));
	fig_row(fig, row("  vm.start round trip", "ms", &a.startrtt, NULL, false));
	fig_row(fig, row("  vm.start arrival -> write", "ms", &a.arrival, NULL, false));
	fig_row(fig, row("    vCPU 0 enters KVM_RUN -> write", "ms", &a.vmm, NULL, false));
	note_pool(fig, "pool", taken0, taken1, (int)a.create.n);
	if (conn_nopool)
		note_pool(fig, "nopool", nptaken0, pool_taken(conn_nopool), (int)np.create.n);
	fig_note(fig, "waits_from_push", json_integer(waits_pushed));
	fig_note(fig, "waits_asked_worker", json_integer(waits_asked));
	json_object_set_new(samples, "start_armvmd_ms", samples_json(&a.total));
	json_object_set_new(samples, "start_nopool_ms", samples_json(&np.total));
	json_object_set_new(samples, "start_floor_ms", samples_json(&f_total));
	start_series_free(&a), start_series_free(&np);
	series_free(&f_total), series_free(&f_cpu), series_free(&f_flt), series_free(&f_csw);
	series_free(&a_layout), series_free(&a_exec), series_free(&f_exec);
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

/* a worker's memory outside guest RAM, from vm.info's live.pid/guest_ram
 * (brief, from the pushed state: the worker is not asked) */
static int worker_mem(const char *name, struct mem *m)
{
	json_t *i = call("vm.info", json_pack("{s:s, s:b}", "name", name, "brief", 1));
	json_t *live, *ram;
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
	r = pid > 0 ? smaps_split(pid, ex, n, m, &in) : -1;
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
			struct mem m;
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
			bt = r ? wait_marks(name, 1, 30000, 20) : NULL;
			if (bt) {
				series_add(on ? &t_on : &t_off,
					   (double)(jint(bt, "first_write_ns") - t0) / 1e6);
				json_decref(bt);
				if (worker_mem(name, &m) == 0) {
					series_add(on ? &m_on : &m_off, (double)m.rss / 1024.0);
					series_add(on ? &p_on : &p_off, (double)m.pss / 1024.0);
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

/* one held floor's memory outside its guest RAM, into rss/priv/pss (MiB) */
static void floor_mem(struct series *rss, struct series *priv, struct series *pss)
{
	struct floor_run f;
	struct range ex;
	struct mem m;
	long in;

	if (floor_spawn(&f, img_off, 0, true) < 0)
		return;
	if (floor_result(&f)) {
		ex.lo = strtoull(json_string_value(json_object_get(f.res, "ram_hva")), NULL, 0);
		ex.hi = ex.lo + (uint64_t)jint(f.res, "ram_size");
		if (smaps_split(f.pid, &ex, 1, &m, &in) == 0) {
			series_add(rss, (double)m.rss / 1024.0);
			series_add(priv, (double)m.priv / 1024.0);
			series_add(pss, (double)m.pss / 1024.0);
		}
		json_decref(f.res);
	}
	floor_finish(&f);
}

/*
 * Spawning a worker with `alive` VMs alive in the daemon without a pool
 * (so that vm.create forks): vm.create (not started) round trips, and the
 * daemon's CPU for each; the floor: fork+exec+exit of kvm-floor with as
 * many kvm-floors held.  `made` counts the VMs alive in conn_nopool.
 */
static void spawn_cost(int alive, char (*names)[64], int *made, struct series *rtt,
		       struct series *dcpu, struct series *fexec)
{
	struct armvm *saved = conn;
	struct floor_run *held = calloc((size_t)alive, sizeof(*held));
	int nheld = 0;

	conn = conn_nopool;
	while (*made < alive) {
		json_t *r, *bt;

		next_name(names[*made], sizeof(names[0]), "spawnvm");
		r = call("vm.create", create_params(names[*made], img_hold, "16M", true));
		json_decref(r);
		if (!r)
			goto out;
		(*made)++;
		bt = wait_marks(names[*made - 1], 1, 30000, 20);
		json_decref(bt);
		if (!bt)
			goto out;
	}
	for (; nheld < alive; nheld++) {
		if (floor_spawn(&held[nheld], img_off, 0, true) < 0)
			break;
		if (floor_result(&held[nheld]))
			json_decref(held[nheld].res);
	}
	for (int i = 0; i < 5; i++) {
		struct counts d0, d1, dd;
		char name[64];
		int64_t t0;
		json_t *r;
		double f;

		next_name(name, sizeof(name), "spawn");
		bool have = proc_counts(opt.nopool_pid, &d0, NULL) == 0;
		t0 = mono_ns();
		r = call("vm.create", create_params(name, img_hold, "16M", false));
		if (!r)
			break;
		json_decref(r);
		series_add(rtt, (double)(mono_ns() - t0) / 1e6);
		if (have && proc_counts(opt.nopool_pid, &d1, NULL) == 0) {
			counts_delta(&dd, &d0, &d1);
			series_add(dcpu, dd.cpu_ms);
		}
		destroy_on(conn, name);
		f = exec_ms(opt.floor, "--help");
		if (!isnan(f))
			series_add(fexec, f);
	}
out:
	for (int i = 0; i < nheld; i++)
		floor_finish(&held[i]);
	free(held);
	conn = saved;
}

static void fig_memory(void)
{
	struct series w1 = { 0 }, wn = { 0 }, q1 = { 0 }, qn = { 0 }, pn = { 0 };
	struct series d1 = { 0 }, dn = { 0 };
	struct series frss = { 0 }, fpriv = { 0 }, fpss = { 0 };
	struct series s1 = { 0 }, sn = { 0 }, c1 = { 0 }, cn = { 0 }, e1 = { 0 }, en = { 0 };
	json_t *fig = figure("memory", "3. memory overhead per VM (outside guest RAM)");
	char (*names)[64] = calloc((size_t)opt.vms, sizeof(*names));
	int made = 0;
	long d0;
	struct mem m;

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
		bt = wait_marks(names[i], 1, 30000, 20);
		json_decref(bt);
		if (!bt)
			break;
		if (i == 0) {
			if (worker_mem(names[0], &m) == 0) {
				series_add(&w1, (double)m.rss / 1024.0);
				series_add(&q1, (double)m.priv / 1024.0);
			}
			if (d0 >= 0)
				series_add(&d1, (double)(proc_rss_kb(opt.daemon_pid) - d0) / 1024.0);
			/* the floor, held after its first mark, beside one VM */
			floor_mem(&frss, &fpriv, &fpss);
		}
	}
	if (made == opt.vms) {
		if (d0 >= 0)
			series_add(&dn, (double)(proc_rss_kb(opt.daemon_pid) - d0) / 1024.0 / made);
		for (int i = 0; i < made; i++) {
			if (worker_mem(names[i], &m) == 0) {
				series_add(&wn, (double)m.rss / 1024.0);
				series_add(&qn, (double)m.priv / 1024.0);
				series_add(&pn, (double)m.pss / 1024.0);
			}
		}
		/* and beside them all */
		floor_mem(&frss, &fpriv, &fpss);
		floor_mem(&frss, &fpriv, &fpss);
	}
	for (int i = 0; i < made; i++)
		destroy_on(conn, names[i]);

	/* spawning a worker (the daemon's fork) with 1 and with N VMs alive */
	if (conn_nopool) {
		made = 0;
		progress("figure 3: spawning a worker with 1 and %d VMs alive (--pool 0)", opt.vms);
		spawn_cost(1, names, &made, &s1, &c1, &e1);
		if (made == 1)
			spawn_cost(opt.vms, names, &made, &sn, &cn, &en);
		for (int i = 0; i < made; i++)
			destroy_on(conn_nopool, names[i]);
	}
	free(names);

	char label[128];
	fig_row(fig, row("worker RSS outside guest RAM, 1 VM", "MiB", &w1, &frss, false));
	snprintf(label, sizeof(label), "worker RSS outside guest RAM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &wn, &frss, false));
	fig_row(fig, row("worker private memory (Private_Clean+Dirty) outside guest RAM, 1 VM",
			 "MiB", &q1, &fpriv, false));
	snprintf(label, sizeof(label), "worker private memory outside guest RAM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &qn, &fpriv, false));
	snprintf(label, sizeof(label), "worker PSS outside guest RAM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &pn, &fpss, false));
	fig_row(fig, row("daemon RSS growth, 1 VM", "MiB", &d1, NULL, false));
	snprintf(label, sizeof(label), "daemon RSS growth per VM, %d VMs", opt.vms);
	fig_row(fig, row(label, "MiB", &dn, NULL, false));
	if (s1.n) {
		fig_row(fig, row("spawn: vm.create, --pool 0, 1 VM alive (floor: kvm-floor fork+exec)",
				 "ms", &s1, &e1, false));
		fig_row(fig, row("  the daemon's CPU for it, 1 VM alive", "ms", &c1, NULL, false));
	}
	if (sn.n) {
		snprintf(label, sizeof(label), "spawn: vm.create, --pool 0, %d VMs alive (floor: same)",
			 opt.vms);
		fig_row(fig, row(label, "ms", &sn, &en, false));
		snprintf(label, sizeof(label), "  the daemon's CPU for it, %d VMs alive", opt.vms);
		fig_row(fig, row(label, "ms", &cn, NULL, false));
	}
	fig_note(fig, "daemon_rss_mib", num((double)d0 / 1024.0));
	series_free(&w1), series_free(&wn), series_free(&q1), series_free(&qn);
	series_free(&pn), series_free(&d1), series_free(&dn), series_free(&frss);
	series_free(&fpriv), series_free(&fpss), series_free(&s1), series_free(&sn);
	series_free(&c1), series_free(&cn), series_free(&e1), series_free(&en);
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
	const char *socket;
	char name[64];
	int rc;
};

static void *rate_worker(void *arg)
{
	struct rate_thread *rt = arg;
	int err = 0;
	struct armvm *c = armvm_connect(rt->socket, &err);

	pthread_barrier_wait(rt->go);
	rt->rc = c ? cycle(c, rt->name) : -1;
	if (c)
		armvm_close(c);
	return NULL;
}

static double rate_concurrent(const char *socket, int n)
{
	struct rate_thread *rt = calloc((size_t)n, sizeof(*rt));
	pthread_barrier_t go;
	int64_t t0;
	int ok = 0;

	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		rt[i].go = &go;
		rt[i].socket = socket;
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

/* the per-VM series of one armvmd daemon's serial runs */
struct rate_series {
	struct series ser, con, each, dcpu, wcpu, vcpu, flt, sys, ins;
};

static void rate_series_free(struct rate_series *r)
{
	series_free(&r->ser), series_free(&r->con), series_free(&r->each);
	series_free(&r->dcpu), series_free(&r->wcpu), series_free(&r->vcpu);
	series_free(&r->flt), series_free(&r->sys), series_free(&r->ins);
}

/*
 * n cycles one after the other through c (daemon dpid), then n at once
 * through socket.  Per VM: the daemon's own CPU and the CPU of the workers
 * it reaped (cutime+cstime: the whole worker, from its exec to its exit),
 * their page faults.
 */
static void rate_armvmd(struct armvm *c, int dpid, const char *socket, int n,
			struct rate_series *r)
{
	struct counts s0, c0, s1, c1, ds, dc;
	bool have = dpid > 0 && proc_counts(dpid, &s0, &c0) == 0;
	int64_t t0;
	double ms;
	int ok = 0;

	t0 = mono_ns();
	for (int i = 0; i < n; i++) {
		char name[64];
		int64_t t1 = mono_ns();

		next_name(name, sizeof(name), "rate");
		if (cycle(c, name) < 0)
			break;
		series_add(&r->each, (double)(mono_ns() - t1) / 1e6);
		ok++;
	}
	ms = (double)(mono_ns() - t0) / 1e6;
	if (ok == n) {
		series_add(&r->ser, 1000.0 * n / ms);
		/* the last worker may still be being reaped */
		sleep_ms(50);
		if (have && proc_counts(dpid, &s1, &c1) == 0) {
			counts_delta(&ds, &s0, &s1);
			counts_delta(&dc, &c0, &c1);
			series_add(&r->dcpu, ds.cpu_ms / n);
			series_add(&r->wcpu, dc.cpu_ms / n);
			series_add(&r->vcpu, (ds.cpu_ms + dc.cpu_ms) / n);
			series_add(&r->flt, (ds.minflt + ds.majflt + dc.minflt + dc.majflt) / n);
		}
	}
	ms = rate_concurrent(socket, n);
	if (!isnan(ms))
		series_add(&r->con, 1000.0 * n / ms);
}

/*
 * The counted pass, not timed (the tracepoint slows what it counts): n
 * serial cycles with perf counters on the daemon, inherited by every
 * process it forks from then on (exact without a pool, whose idle workers
 * were forked before), and n floors, each counted from its exec.
 */
static void rate_counted(struct armvm *c, int dpid, int n, struct rate_series *r,
			 struct series *f_sys, struct series *f_ins)
{
	struct perf_pair perf = { -1, -1 };
	double sys0, ins0, sys = 0, ins = 0;
	int ok = 0;

	if (dpid <= 0 || (tp_sys_enter < 0 && !perf_instr))
		return;
	perf_attach(&perf, dpid, true, false);
	sys0 = perf_value(perf.sys);
	ins0 = perf_value(perf.ins);
	for (int i = 0; i < n; i++) {
		char name[64];

		next_name(name, sizeof(name), "ratecount");
		if (cycle(c, name) < 0)
			break;
		ok++;
	}
	sleep_ms(50);
	if (ok == n && !isnan(sys0))
		series_add(&r->sys, (perf_value(perf.sys) - sys0) / n);
	if (ok == n && !isnan(ins0))
		series_add(&r->ins, (perf_value(perf.ins) - ins0) / n);
	perf_close(&perf);
	floor_counted = true;
	for (ok = 0; ok < n; ok++) {
		double one_sys = NAN, one_ins = NAN;
		json_t *x = floor_once_counted(img_off, 0, NULL, NULL, &one_sys, &one_ins);

		if (!x)
			break;
		json_decref(x);
		sys += one_sys;
		ins += one_ins;
	}
	floor_counted = false;
	if (ok == n && !isnan(sys))
		series_add(f_sys, sys / n);
	if (ok == n && !isnan(ins))
		series_add(f_ins, ins / n);
}

static void fig_rate(void)
{
	struct rate_series a = { 0 }, np = { 0 };
	struct series f_ser = { 0 }, f_con = { 0 }, f_each = { 0 }, f_cpu = { 0 }, f_flt = { 0 };
	struct series f_sys = { 0 }, f_ins = { 0 };
	json_t *fig = figure("rate", "4. creation rate: create, run to power-off, destroy");
	int n = opt.rate_vms;
	long taken0 = pool_taken(conn), nptaken0 = pool_taken(conn_nopool);

	progress("figure 4: creation rate, %d VMs x %d runs%s", n, opt.rate_runs,
		 conn_nopool ? ", with the pool and without" : "");
	for (int run = 0; run < opt.rate_runs; run++) {
		struct counts fc, sum = { 0 };
		double ms;
		int64_t t0;
		int ok = 0;

		/* who goes first alternates */
		if (run % 2 == 0)
			rate_armvmd(conn, opt.daemon_pid, opt.socket, n, &a);
		t0 = mono_ns();
		for (int i = 0; i < n; i++) {
			int64_t t1 = mono_ns();
			json_t *r = floor_once_counted(img_off, 0, NULL, &fc, NULL, NULL);

			if (!r)
				break;
			json_decref(r);
			series_add(&f_each, (double)(mono_ns() - t1) / 1e6);
			counts_add(&sum, &fc);
			ok++;
		}
		ms = (double)(mono_ns() - t0) / 1e6;
		if (ok == n) {
			series_add(&f_ser, 1000.0 * n / ms);
			series_add(&f_cpu, sum.cpu_ms / n);
			series_add(&f_flt, (sum.minflt + sum.majflt) / n);
		}
		ms = floor_concurrent(n);
		if (!isnan(ms))
			series_add(&f_con, 1000.0 * n / ms);
		if (conn_nopool)
			rate_armvmd(conn_nopool, opt.nopool_pid, opt.socket_nopool, n, &np);
		if (run % 2 == 1)
			rate_armvmd(conn, opt.daemon_pid, opt.socket, n, &a);
	}
	if (conn_nopool)
		rate_counted(conn_nopool, opt.nopool_pid, n, &np, &f_sys, &f_ins);
	fig_row(fig, row("serial", "VMs/s", &a.ser, &f_ser, true));
	char label[96];
	snprintf(label, sizeof(label), "concurrent (%d at once)", n);
	fig_row(fig, row(label, "VMs/s", &a.con, &f_con, true));
	fig_row(fig, row("serial, one VM's cycle", "ms", &a.each, &f_each, false));
	fig_row(fig, row("VMM CPU per VM: daemon + its reaped workers (floor: kvm-floor's)", "ms",
			 &a.vcpu, &f_cpu, false));
	fig_row(fig, row("  daemon CPU per VM (serial)", "ms", &a.dcpu, NULL, false));
	fig_row(fig, row("  worker CPU per VM, exec to exit (serial)", "ms", &a.wcpu, &f_cpu, false));
	fig_row(fig, row("  page faults per VM: daemon + workers (floor: kvm-floor's)", "count",
			 &a.flt, &f_flt, false));
	if (conn_nopool) {
		fig_row(fig, row("without the pool: serial", "VMs/s", &np.ser, &f_ser, true));
		snprintf(label, sizeof(label), "without the pool: concurrent (%d at once)", n);
		fig_row(fig, row(label, "VMs/s", &np.con, &f_con, true));
		fig_row(fig, row("  without the pool: VMM CPU per VM, daemon + workers", "ms",
				 &np.vcpu, &f_cpu, false));
		fig_row(fig, row("  without the pool: daemon CPU per VM", "ms", &np.dcpu, NULL, false));
		fig_row(fig, row("  without the pool: page faults per VM, daemon + workers", "count",
				 &np.flt, &f_flt, false));
		if (np.sys.n)
			fig_row(fig, row("  without the pool: syscalls per VM, daemon + workers (untimed)",
					 "count",
					 &np.sys, f_sys.n ? &f_sys : NULL, false));
		if (np.ins.n)
			fig_row(fig, row("  without the pool: instructions per VM", "count",
					 &np.ins, f_ins.n ? &f_ins : NULL, false));
	}
	fig_note(fig, "vms_per_run", json_integer(n));
	note_pool(fig, "pool", taken0, pool_taken(conn),
		  (int)(a.each.n + (size_t)n * a.con.n));
	if (conn_nopool)
		note_pool(fig, "nopool", nptaken0, pool_taken(conn_nopool),
			  (int)(np.each.n + (size_t)n * np.con.n));
	rate_series_free(&a), rate_series_free(&np);
	series_free(&f_ser), series_free(&f_con), series_free(&f_each), series_free(&f_cpu);
	series_free(&f_flt), series_free(&f_sys), series_free(&f_ins);
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

/* the echo server's answers: the first whose needle is in the request line
 * (NULL: any line) */
struct echo_reply {
	const char *needle, *bytes;
	size_t len;
};

/* the echo server: every line read gets the bytes of its reply back */
static pid_t echo_server(const char *path, const struct echo_reply *rep, size_t nrep)
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
		static char buf[65536];
		int fd = accept(ls, NULL, NULL);
		size_t have = 0;

		for (;;) {
			ssize_t n = read(fd, buf + have, sizeof(buf) - have);
			char *nl;

			if (n <= 0)
				_exit(0);
			have += (size_t)n;
			while ((nl = memchr(buf, '\n', have))) {
				size_t used = (size_t)(nl - buf) + 1, k = 0;

				while (k + 1 < nrep && rep[k].needle &&
				       !memmem(buf, used, rep[k].needle, strlen(rep[k].needle)))
					k++;
				if (write(fd, rep[k].bytes, rep[k].len) != (ssize_t)rep[k].len)
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
	struct series lib, raw, brief, fresh, stopped;		/* armvmd */
	struct series echo, echo_brief, echo_stopped;		/* their floors */
	struct series client, json;	/* libarmvm over the raw socket; jansson alone */
	struct series d_raw, d_brief, d_fresh, d_stopped;	/* the daemon's CPU */
	unsigned from_push, asked;	/* default vm.info: live.age_s or not */
};

static void rpc_pass_free(struct rpc_pass *p)
{
	series_free(&p->lib), series_free(&p->raw), series_free(&p->brief);
	series_free(&p->fresh), series_free(&p->stopped), series_free(&p->echo);
	series_free(&p->echo_brief), series_free(&p->echo_stopped);
	series_free(&p->client), series_free(&p->json);
	series_free(&p->d_raw), series_free(&p->d_brief), series_free(&p->d_fresh);
	series_free(&p->d_stopped);
}

/* one raw round trip, in us; NaN on failure; the daemon's CPU for it (us,
 * from schedstat) into dcpu when given */
static double raw_us(int fd, const char *req, size_t len, char *buf, size_t cap, ssize_t *got,
		     struct series *dcpu)
{
	struct counts c0, c1;
	bool have = dcpu && opt.daemon_pid > 0 && proc_counts(opt.daemon_pid, &c0, NULL) == 0;
	int64_t t0 = mono_ns();
	ssize_t n = raw_rtt(fd, req, len, buf, cap);
	double us = n < 0 ? NAN : (double)(mono_ns() - t0) / 1e3;

	if (got)
		*got = n;
	if (have && n >= 0 && proc_counts(opt.daemon_pid, &c1, NULL) == 0)
		series_add(dcpu, (c1.cpu_ms - c0.cpu_ms) * 1e3);
	return us;
}

/* what a client must do beside the socket: build the request, parse the
 * answer (jansson, in-process; the floor of libarmvm's client side) */
static double json_us(const char *name, int id, const char *reply, size_t len)
{
	int64_t t0 = mono_ns();
	json_t *req = json_pack("{s:s, s:i, s:s, s:{s:s}}", "jsonrpc", "2.0", "id", id,
				"method", "vm.info", "params", "name", name);
	char *text = json_dumps(req, JSON_COMPACT);
	json_t *ans = json_loadb(reply, len, 0, NULL);
	double us;

	json_decref(req);
	free(text);
	json_decref(ans);
	us = (double)(mono_ns() - t0) / 1e3;
	return ans ? us : NAN;
}

/*
 * One pass of figure 5, samples interleaved: per round, vm.info of the
 * running VM `name` through libarmvm; the same request bytes on a raw
 * socket, and brief and fresh; vm.info of the stopped VM `sname`; an echo
 * server answering each with the bytes of the real answer of its kind;
 * and the JSON work alone.  0, or -1 when something failed.
 */
static int rpc_pass(struct rpc_pass *p, const char *name, const char *sname,
		    json_int_t *reply_bytes)
{
	char req[256], breq[256], freq[256], sreq[256], epath[108];
	static char reply[65536], breply[65536], sreply[65536], buf[65536];
	ssize_t rlen = -1, blen = -1, slen = -1, n;
	size_t reqlen, breqlen, freqlen, sreqlen;
	int fd = -1, efd = -1, rc = -1;
	pid_t epid = -1;

	reqlen = (size_t)snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				  "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\"}}\n", name);
	breqlen = (size_t)snprintf(breq, sizeof(breq), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\","
				   "\"brief\":true}}\n", name);
	freqlen = (size_t)snprintf(freq, sizeof(freq), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\","
				   "\"fresh\":true}}\n", name);
	sreqlen = (size_t)snprintf(sreq, sizeof(sreq), "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"vm.info\",\"params\":{\"name\":\"%s\"}}\n", sname);
	fd = unix_connect(opt.socket);
	if (fd < 0) {
		error("connect %s: %s", opt.socket, strerror(errno));
		goto out;
	}
	/* the answers the echo server gives back */
	if (raw_rtt(fd, req, reqlen, reply, sizeof(reply)) < 0 ||
	    (rlen = raw_rtt(fd, req, reqlen, reply, sizeof(reply))) < 0 ||
	    (blen = raw_rtt(fd, breq, breqlen, breply, sizeof(breply))) < 0 ||
	    (slen = raw_rtt(fd, sreq, sreqlen, sreply, sizeof(sreply))) < 0) {
		error("vm.info on a raw socket failed");
		goto out;
	}
	*reply_bytes = rlen;
	const struct echo_reply rep[] = {
		{ "\"brief\"", breply, (size_t)blen },
		{ sname, sreply, (size_t)slen },
		{ NULL, reply, (size_t)rlen },
	};
	snprintf(epath, sizeof(epath), "%s/echo.sock", opt.workdir);
	epid = echo_server(epath, rep, 3);
	efd = epid > 0 ? unix_connect(epath) : -1;
	if (efd < 0) {
		error("echo server: cannot connect");
		goto out;
	}
	for (int i = 0; i < opt.rpc_calls + 20; i++) {
		bool keep = i >= 20;
		double lib, raw, x;
		int64_t t0 = mono_ns();
		json_t *r = info(name);

		if (!r)
			goto out;
		lib = (double)(mono_ns() - t0) / 1e3;
		json_decref(r);
		raw = raw_us(fd, req, reqlen, buf, sizeof(buf), &n, keep ? &p->d_raw : NULL);
		if (isnan(raw))
			goto out;
		if (keep) {
			if (memmem(buf, (size_t)n, "\"age_s\"", 7))
				p->from_push++;
			else
				p->asked++;
			series_add(&p->lib, lib);
			series_add(&p->raw, raw);
			series_add(&p->client, lib - raw);
		}
		x = raw_us(efd, req, reqlen, buf, sizeof(buf), &n, NULL);
		if (isnan(x) || n != rlen)
			goto out;
		if (keep)
			series_add(&p->echo, x);
		x = json_us(name, i, reply, (size_t)rlen);
		if (keep && !isnan(x))
			series_add(&p->json, x);
		x = raw_us(fd, breq, breqlen, buf, sizeof(buf), NULL, keep ? &p->d_brief : NULL);
		if (isnan(x))
			goto out;
		if (keep)
			series_add(&p->brief, x);
		x = raw_us(efd, breq, breqlen, buf, sizeof(buf), &n, NULL);
		if (isnan(x) || n != blen)
			goto out;
		if (keep)
			series_add(&p->echo_brief, x);
		x = raw_us(fd, freq, freqlen, buf, sizeof(buf), NULL, keep ? &p->d_fresh : NULL);
		if (isnan(x))
			goto out;
		if (keep)
			series_add(&p->fresh, x);
		x = raw_us(fd, sreq, sreqlen, buf, sizeof(buf), NULL, keep ? &p->d_stopped : NULL);
		if (isnan(x))
			goto out;
		if (keep)
			series_add(&p->stopped, x);
		x = raw_us(efd, sreq, sreqlen, buf, sizeof(buf), &n, NULL);
		if (isnan(x) || n != slen)
			goto out;
		if (keep)
			series_add(&p->echo_stopped, x);
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

static void rpc_rows(json_t *fig, struct rpc_pass *p, const char *pfx)
{
	char label[128];

	snprintf(label, sizeof(label), "%sserver side: vm.info of a running VM, raw socket "
		 "(floor: echo)", pfx);
	fig_row(fig, row(label, "us", &p->raw, &p->echo, false));
	snprintf(label, sizeof(label), "%s  brief (no layout; floor: echo of its answer)", pfx);
	fig_row(fig, row(label, "us", &p->brief, &p->echo_brief, false));
	snprintf(label, sizeof(label), "%s  fresh (the daemon asks the worker; floor: echo)", pfx);
	fig_row(fig, row(label, "us", &p->fresh, &p->echo, false));
	snprintf(label, sizeof(label), "%s  a stopped VM (floor: echo of its answer)", pfx);
	fig_row(fig, row(label, "us", &p->stopped, &p->echo_stopped, false));
	if (p->d_raw.n) {
		snprintf(label, sizeof(label), "%s  the daemon's CPU per call: default, from the push",
			 pfx);
		fig_row(fig, row(label, "us", &p->d_raw, NULL, false));
		snprintf(label, sizeof(label), "%s  the daemon's CPU per call: brief", pfx);
		fig_row(fig, row(label, "us", &p->d_brief, NULL, false));
		snprintf(label, sizeof(label), "%s  the daemon's CPU per call: fresh", pfx);
		fig_row(fig, row(label, "us", &p->d_fresh, NULL, false));
		snprintf(label, sizeof(label), "%s  the daemon's CPU per call: a stopped VM", pfx);
		fig_row(fig, row(label, "us", &p->d_stopped, NULL, false));
	}
	snprintf(label, sizeof(label), "%sclient side: libarmvm over the raw socket "
		 "(floor: jansson build+parse)", pfx);
	fig_row(fig, row(label, "us", &p->client, &p->json, false));
	snprintf(label, sizeof(label), "%s  whole call via libarmvm (floor: echo)", pfx);
	fig_row(fig, row(label, "us", &p->lib, &p->echo, false));
}

/*
 * Untimed (the tracepoint slows the daemon down): syscalls the daemon makes
 * per vm.info of each form, 20 calls each; the echo floor makes two (a
 * read, a write).
 */
static void rpc_syscalls(json_t *fig, const char *name, const char *sname)
{
	static const char *const forms[][2] = {
		{ "default, from the push", "" }, { "brief", ",\"brief\":true" },
		{ "fresh", ",\"fresh\":true" }, { "a stopped VM", NULL },
	};
	static char buf[65536];
	char req[256], label[128];
	int fd, ev;

	if (tp_sys_enter < 0 || opt.daemon_pid <= 0)
		return;
	fd = unix_connect(opt.socket);
	ev = fd >= 0 ? perf_open(PERF_TYPE_TRACEPOINT, (uint64_t)tp_sys_enter, opt.daemon_pid,
				 false, false) : -1;
	for (size_t k = 0; ev >= 0 && k < sizeof(forms) / sizeof(forms[0]); k++) {
		struct series one = { 0 };
		size_t len = (size_t)snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,"
			"\"method\":\"vm.info\",\"params\":{\"name\":\"%s\"%s}}\n",
			forms[k][1] ? name : sname, forms[k][1] ? forms[k][1] : "");

		for (int i = 0; i < 20; i++) {
			double v0 = perf_value(ev);

			if (raw_rtt(fd, req, len, buf, sizeof(buf)) < 0)
				break;
			series_add(&one, perf_value(ev) - v0);
		}
		snprintf(label, sizeof(label), "  the daemon's syscalls per call: %s (untimed)",
			 forms[k][0]);
		if (one.n)
			fig_row(fig, row(label, "count", &one, NULL, false));
		series_free(&one);
	}
	if (ev >= 0)
		close(ev);
	if (fd >= 0)
		close(fd);
}

static void fig_rpc(void)
{
	struct rpc_pass free_ = { 0 }, one = { 0 };
	json_t *fig = figure("rpc", "5. RPC round trip: vm.info");
	char name[64], sname[64], buf[96];
	json_int_t reply_bytes = 0;
	cpu_set_t self_mask, daemon_mask, worker_mask;
	int worker = 0;
	json_t *r, *bt;

	progress("figure 5: vm.info round trips, %d rounds each, on any CPU and on one",
		 opt.rpc_calls);
	next_name(name, sizeof(name), "rpc");
	r = call("vm.create", create_params(name, img_hold, "16M", true));
	worker = (int)jint(r, "pid");
	json_decref(r);
	bt = r ? wait_marks(name, 1, 30000, 20) : NULL;
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
	rpc_rows(fig, &free_, "");
	rpc_rows(fig, &one, "one CPU: ");
	if (bt)
		rpc_syscalls(fig, name, sname);
	fig_note(fig, "reply_bytes", json_integer(reply_bytes));
	snprintf(buf, sizeof(buf), "%u of %u default vm.info answered from the worker's push",
		 free_.from_push + one.from_push,
		 free_.from_push + one.from_push + free_.asked + one.asked);
	fig_note(fig, "from_push", json_string(buf));
	destroy_on(conn, name);
	destroy_on(conn, sname);
	rpc_pass_free(&free_), rpc_pass_free(&one);
}

/* ---- 6. MMIO exit round trip ----------------------------------------- */

/* one armvmd run of figure 6: per-exit time, us (NaN: failed); waits for
 * the second mark in the pushed state (the worker is not asked) */
static double exit_armvmd(json_t *fig, bool first)
{
	char name[64];
	json_t *r, *live, *marks;
	double us = NAN;

	next_name(name, sizeof(name), "exit");
	r = call("vm.create", create_params(name, img_exit, "16M", true));
	json_decref(r);
	live = r ? wait_live(name, 2, 120000, 100) : NULL;
	marks = json_object_get(json_object_get(live, "boot_timer"), "marks_ns");
	if (json_array_size(marks) >= 2)
		us = (double)(json_integer_value(json_array_get(marks, 1)) -
			      json_integer_value(json_array_get(marks, 0))) / 1e3 / opt.loops;
	if (first && live) {
		json_t *v0 = json_array_get(json_object_get(live, "vcpus"), 0);

		fig_note(fig, "armvmd_mmio_exits", json_integer(jint(v0, "mmio_exits")));
	}
	json_decref(live);
	destroy_on(conn, name);
	return us;
}

static double exit_floor(json_t *fig, bool first)
{
	json_t *r = floor_once(img_off, opt.loops, NULL);
	json_t *marks = json_object_get(r, "marks_ns");
	double us = NAN;

	if (json_array_size(marks) >= 2)
		us = (double)(json_integer_value(json_array_get(marks, 1)) -
			      json_integer_value(json_array_get(marks, 0))) / 1e3 / opt.loops;
	if (first && r)
		fig_note(fig, "floor_mmio_reads", json_integer(jint(r, "mmio_reads")));
	json_decref(r);
	return us;
}

static void fig_exit(void)
{
	struct series a = { 0 }, f = { 0 };
	json_t *fig = figure("exit", "6. userspace MMIO exit round trip (guest reads a device register)");

	progress("figure 6: MMIO exits, %d reads x %d runs, interleaved", opt.loops, opt.exit_runs);
	waits_pushed = waits_asked = 0;
	for (int i = 0; i < opt.exit_runs; i++) {
		double x, y;

		if (i % 2 == 0) {
			x = exit_armvmd(fig, i == 0);
			y = exit_floor(fig, i == 0);
		} else {
			y = exit_floor(fig, false);
			x = exit_armvmd(fig, false);
		}
		if (isnan(x) || isnan(y))
			break;
		series_add(&a, x);
		series_add(&f, y);
	}
	fig_row(fig, row("one MMIO read exit, guest -> VMM -> guest", "us", &a, &f, false));
	fig_note(fig, "reads_per_run", json_integer(opt.loops));
	fig_note(fig, "waits_from_push", json_integer(waits_pushed));
	fig_note(fig, "waits_asked_worker", json_integer(waits_asked));
	series_free(&a), series_free(&f);
}

/* ---- main ------------------------------------------------------------ */

/* the file system the daemon's state directory is on (its fsyncs) */
static const char *state_fs(void)
{
	struct statfs st;

	if (!opt.state_dir)
		return "unknown (no --state-dir)";
	if (statfs(opt.state_dir, &st) < 0)
		return "unknown (statfs failed)";
	switch ((unsigned long)st.f_type) {
	case 0xef53: return "ext4";
	case 0x01021994: return "tmpfs";
	default: return "other";
	}
}

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
"  --nopool-socket PATH --nopool-pid PID  a third armvmd, started with --pool 0:\n"
"                    figures 1 and 4 without the warm pool, figure 3's spawn cost\n"
"  --guest IMG       bare-metal guest (/usr/lib/armvmd-guests/boottimer.img)\n"
"  --floor PATH      kvm-floor (default: beside this program)\n"
"  --armvmd PATH     armvmd's binary, to time its exec (/usr/bin/armvmd)\n"
"  --kernel IMG --initrd CPIO  Linux guest (/usr/lib/armvmd-guests/{Image,linux.cpio.gz})\n"
"  --cmdline TEXT    its command line (\"console=ttyS0 quiet\")\n"
"  --workdir DIR     scratch files ($TMPDIR or /tmp)\n"
"  --state-dir DIR   the daemon's state directory: its file system is reported\n"
"  --runs N          figure 1 runs (30)       --linux-runs N  figure 2 boots (10)\n"
"  --vms N           figure 3 VMs (20)        --rate-vms N    figure 4 VMs per run (10)\n"
"  --rate-runs N     figure 4 runs (3)        --rpc N         figure 5 rounds (200)\n"
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
	opt.rate_runs = 3, opt.rpc_calls = 200, opt.loops = 2000, opt.exit_runs = 10;
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
		else if (!strcmp(a, "--nopool-socket")) sp = &opt.socket_nopool;
		else if (!strcmp(a, "--state-dir")) sp = &opt.state_dir;
		else if (!strcmp(a, "--nopool-pid")) ip = &opt.nopool_pid;
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
	perf_probe();
	conn = armvm_connect(opt.socket, &err);
	if (!conn)
		error("cannot connect to %s: %s", opt.socket, strerror(-err));
	else if (opt.socket_nopool && !(conn_nopool = armvm_connect(opt.socket_nopool, &err)))
		error("cannot connect to %s: %s", opt.socket_nopool, strerror(-err));
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
	if (conn_nopool)
		armvm_close(conn_nopool);

	out = json_pack("{s:s, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:s, s:s}, "
			"s:o, s:o, s:o, s:o}",
			"tool", "armvmd-bench", "host", host_json(), "params",
			"runs", opt.runs, "linux_runs", opt.linux_runs, "vms", opt.vms,
			"rate_vms", opt.rate_vms, "rate_runs", opt.rate_runs,
			"rpc_calls", opt.rpc_calls, "loops", opt.loops,
			"exit_runs", opt.exit_runs, "quick", quick,
			"linux_cmdline", opt.linux_cmdline, "state_dir_fs", state_fs(),
			"figures", figures, "samples", samples, "errors", errors,
			"counters", counters_note ? counters_note : json_object());
	json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
	putchar('\n');
	fflush(stdout);
	err = json_array_size(errors) ? 1 : 0;
	json_decref(out);
	return err;
}
