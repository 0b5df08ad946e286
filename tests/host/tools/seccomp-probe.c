// SPDX-License-Identifier: MIT
/*
 * seccomp-probe: the worker's seccomp filters (src/vm/seccomp.c) against a
 * real aarch64 kernel (qemu-user cannot install filters).
 *
 *   seccomp-probe loop|vcpu                      every check of that kind
 *   seccomp-probe list loop|vcpu [--no-tap] [--no-disks]
 *                                                the allowed syscalls, and how many
 *
 * Each check forks a child that installs the kind's filter (for a plan with
 * every device) and makes one call.  An allowed call must behave as it
 * does without a filter (a KVM ioctl on a bad fd fails with EBADF, it does
 * not die); a forbidden one must kill the child by SIGSYS (no handler
 * there: the default action).  The loop kind also checks a thread that
 * stacks the vCPU filter on top, as a vCPU thread does.  The report checks
 * install seccomp_report_init() first: the child must exit with
 * WORKER_EXIT_SECCOMP, having written what it caught to the log and to
 * exit.json (two memfds).  One line per check, PASS or FAIL; the exit
 * status is 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/kvm.h>

#include "rpc/worker_proto.h"
#include "vm/seccomp.h"

#define CHILD_TIMEOUT_S	10

/* what a child should come to, per kind */
enum expect { NONE, ALLOW, DIE, ABORT };

static const char *const kind_names[] = { [SECCOMP_LOOP] = "loop", [SECCOMP_VCPU] = "vcpu" };
static const struct seccomp_conf conf_all = { .tap = true, .disks = true, .kick_signal = SIGUSR1 };

/* made in each child before its filter: the filter forbids making them */
static struct {
	int pipe[2];		/* holds one byte to read */
	int sock[2];		/* a socketpair */
	int epoll;
	int mem;		/* a memfd */
} fx;
static volatile sig_atomic_t kicked;
static int failures;

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* write(2): allowed by both lists; stdio might not be */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

/* The call failed with errno want (a syscall that ran, not one refused). */
static int failed_with(long r, int want, const char *what)
{
	if (r == -1 && errno == want)
		return 0;
	note("    %s: %ld, errno %d (%s); expected %s", what, r, errno, strerror(errno),
	     strerror(want));
	return 1;
}

static int ok(long r, const char *what)
{
	if (r >= 0)
		return 0;
	note("    %s: %s", what, strerror(errno));
	return 1;
}

static void on_kick(int sig)
{
	kicked = 1;
}

static void fixture(void)
{
	struct sigaction sa = { .sa_handler = on_kick };

	if (pipe2(fx.pipe, O_NONBLOCK) < 0 || write(fx.pipe[1], "x", 1) != 1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fx.sock) < 0 ||
	    (fx.epoll = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (fx.mem = memfd_create("probe", 0)) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0) {
		note("    fixture: %s", strerror(errno));
		_exit(98);
	}
}

/* --- calls both lists allow --- */

static int t_write(void)
{
	return ok(write(fx.pipe[1], "y", 1), "write");
}

static int t_writev(void)
{
	struct iovec v = { .iov_base = "z", .iov_len = 1 };

	return ok(writev(fx.pipe[1], &v, 1), "writev");
}

static int t_futex(void)
{
	int word = 0;

	return ok(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), "futex");
}

static int t_cputime(void)
{
	struct timespec ts;

	/* the vDSO has no CPU-time clocks: this one is a real syscall */
	return ok(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), "clock_gettime");
}

static int t_kvm_run(void)
{
	return failed_with(ioctl(-1, KVM_RUN, 0), EBADF, "KVM_RUN");
}

static int t_irq_line(void)
{
	struct kvm_irq_level irq = { 0 };

	return failed_with(ioctl(-1, KVM_IRQ_LINE, &irq), EBADF, "KVM_IRQ_LINE");
}

static int t_tun_offload(void)
{
	return failed_with(ioctl(fx.pipe[0], TUNSETOFFLOAD, 0), ENOTTY, "TUNSETOFFLOAD");
}

static int t_mmap_rw(void)
{
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return ok(-1, "mmap");
	memset(p, 1, 65536);
	return ok(madvise(p, 65536, MADV_DONTNEED), "madvise") |
	       ok(munmap(p, 65536), "munmap");
}

static int t_malloc(void)
{
	void *small[64], *big = malloc(1 << 20), *bigger;

	for (int i = 0; i < 64; i++)
		small[i] = malloc(4096);
	for (int i = 0; i < 64; i++)
		free(small[i]);
	if (!big)
		return ok(-1, "malloc 1 MiB");
	memset(big, 1, 1 << 20);
	bigger = realloc(big, 4 << 20);	/* its own mapping: mremap */
	if (!bigger)
		return ok(-1, "realloc 4 MiB");
	free(bigger);
	return 0;
}

static int t_fstat(void)
{
	struct stat st;

	return ok(fstat(fx.mem, &st), "fstat");
}

/* what log rotation does: NAME.1 gets the log, NAME starts over */
static int t_rotate(void)
{
	char buf[8];

	return ok(pwrite(fx.mem, "rotate", 6, 0), "pwrite") |
	       ok(pread(fx.mem, buf, sizeof(buf), 0), "pread") |
	       ok(ftruncate(fx.mem, 0), "ftruncate");
}

static int t_kick_self(void)
{
	int r = pthread_kill(pthread_self(), SIGUSR1);

	if (r || !kicked) {
		note("    pthread_kill: %s, handler ran: %d", strerror(r), (int)kicked);
		return 1;
	}
	return 0;
}

static int t_abort(void)
{
	abort();
}

/* --- the loop's alone --- */

static int t_read(void)
{
	char c;

	return ok(read(fx.pipe[0], &c, 1), "read");
}

static int t_set_one_reg(void)
{
	struct kvm_one_reg reg = { 0 };

	return failed_with(ioctl(-1, KVM_SET_ONE_REG, &reg), EBADF, "KVM_SET_ONE_REG");
}

static int t_vcpu_init(void)
{
	struct kvm_vcpu_init init = { 0 };

	return failed_with(ioctl(-1, KVM_ARM_VCPU_INIT, &init), EBADF, "KVM_ARM_VCPU_INIT");
}

static int t_getrandom(void)
{
	char buf[16];

	return ok(getrandom(buf, sizeof(buf), 0), "getrandom");
}

static int t_close(void)
{
	return ok(close(fx.pipe[0]), "close");
}

static int t_fcntl(void)
{
	int fl = fcntl(fx.sock[0], F_GETFL);

	return ok(fl, "F_GETFL") | ok(fcntl(fx.sock[0], F_SETFL, fl | O_NONBLOCK), "F_SETFL") |
	       ok(fcntl(fx.sock[0], F_GETFD), "F_GETFD");
}

static int t_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fx.pipe[0] };

	return ok(epoll_ctl(fx.epoll, EPOLL_CTL_ADD, fx.pipe[0], &ev), "epoll_ctl") |
	       ok(epoll_pwait(fx.epoll, &ev, 1, 0, NULL), "epoll_pwait");
}

static int t_peercred(void)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return ok(getsockopt(fx.sock[0], SOL_SOCKET, SO_PEERCRED, &cred, &len), "SO_PEERCRED");
}

static int t_sendrecv(void)
{
	char c;

	return ok(send(fx.sock[0], "s", 1, MSG_NOSIGNAL), "send") |
	       ok(recv(fx.sock[1], &c, 1, 0), "recv") |
	       ok(shutdown(fx.sock[0], SHUT_WR), "shutdown");
}

static int t_accept(void)
{
	return failed_with(accept4(fx.pipe[0], NULL, NULL, SOCK_CLOEXEC), ENOTSOCK, "accept4");
}

static int t_mprotect_r(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return ok(p == MAP_FAILED ? -1 : 0, "mmap") | ok(mprotect(p, 4096, PROT_READ), "mprotect");
}

static int t_setname(void)
{
	return ok(prctl(PR_SET_NAME, "vcpu9"), "PR_SET_NAME");
}

static void *noop_thread(void *arg)
{
	return arg;
}

static int t_thread(void)
{
	pthread_t t;
	void *ret = &t;
	int r = pthread_create(&t, NULL, noop_thread, NULL);

	if (!r)
		r = pthread_join(t, &ret);
	if (r || ret) {
		note("    pthread_create/join: %s", strerror(r));
		return 1;
	}
	return 0;
}

static int t_clone3(void)
{
	return failed_with(syscall(SYS_clone3, NULL, 0), ENOSYS, "clone3");
}

/* a vCPU thread: created under the loop's filter, it stacks its own */
static void *stacked_thread(void *arg)
{
	int (*fn)(void) = (int (*)(void))arg;
	int r = seccomp_install(SECCOMP_VCPU, &conf_all);

	if (r < 0) {
		note("    vCPU filter on a thread: %s", strerror(-r));
		return (void *)1;
	}
	return fn() ? (void *)1 : NULL;
}

static int on_stacked(int (*fn)(void))
{
	pthread_t t;
	void *ret = NULL;
	int r = pthread_create(&t, NULL, stacked_thread, (void *)fn);

	if (!r)
		r = pthread_join(t, &ret);
	if (r)
		note("    pthread_create/join: %s", strerror(r));
	return r || ret;
}

static int t_stacked_run(void)
{
	return on_stacked(t_kvm_run);
}

static int t_stacked_set_one_reg(void)
{
	return on_stacked(t_set_one_reg);
}

static int t_stacked_read(void)
{
	return on_stacked(t_read);
}

/* --- neither list --- */

static int t_openat(void)
{
	return ok(open("/dev/null", O_RDONLY), "open");
}

static int t_execve(void)
{
	char *const argv[] = { "true", NULL };

	execve("/bin/true", argv, argv + 1);
	return ok(-1, "execve");
}

static int t_socket(void)
{
	return ok(socket(AF_UNIX, SOCK_STREAM, 0), "socket");
}

static int t_ptrace(void)
{
	return ok(ptrace(PTRACE_TRACEME, 0, NULL, NULL), "ptrace");
}

static int t_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return ok(p == MAP_FAILED ? -1 : 0, "mmap PROT_EXEC");
}

static int t_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return ok(p == MAP_FAILED ? -1 : mprotect(p, 4096, PROT_READ | PROT_EXEC),
		  "mprotect PROT_EXEC");
}

static int t_create_vm(void)
{
	return failed_with(ioctl(-1, KVM_CREATE_VM, 0), EBADF, "KVM_CREATE_VM");
}

static int t_tcgets(void)
{
	struct termios t;

	return failed_with(ioctl(fx.pipe[0], TCGETS, &t), ENOTTY, "TCGETS");
}

static int t_kill(void)
{
	return ok(kill(getpid(), 0), "kill");
}

static int t_tgkill_other(void)
{
	return ok(syscall(SYS_tgkill, getpid() + 1, getpid() + 1, 0), "tgkill");
}

static int t_tgkill_term(void)
{
	/* SIGTERM to itself would end the child too, but by SIGTERM */
	return ok(syscall(SYS_tgkill, getpid(), gettid(), SIGTERM), "tgkill SIGTERM");
}

static int t_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return ok(pid, "fork");
}

static int t_dupfd(void)
{
	return ok(fcntl(fx.pipe[0], F_DUPFD, 10), "F_DUPFD");
}

static int t_rcvbuf(void)
{
	int v;
	socklen_t len = sizeof(v);

	return ok(getsockopt(fx.sock[0], SOL_SOCKET, SO_RCVBUF, &v, &len), "SO_RCVBUF");
}

static int t_dumpable(void)
{
	return ok(prctl(PR_SET_DUMPABLE, 0), "PR_SET_DUMPABLE");
}

static int t_unshare(void)
{
	return ok(syscall(SYS_unshare, 0), "unshare");
}

static int t_mount(void)
{
	return ok(mount("none", "/", NULL, MS_REMOUNT, NULL), "mount");
}

static int t_stat_path(void)
{
	struct stat st;

	return ok(fstatat(AT_FDCWD, "/", &st, 0), "fstatat /");
}

static const struct check {
	const char *what;
	int (*fn)(void);
	enum expect expect[2];		/* [SECCOMP_LOOP], [SECCOMP_VCPU] */
} checks[] = {
	{ "write to a pipe", t_write, { ALLOW, ALLOW } },
	{ "writev to a pipe", t_writev, { ALLOW, ALLOW } },
	{ "futex wake", t_futex, { ALLOW, ALLOW } },
	{ "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)", t_cputime, { ALLOW, ALLOW } },
	{ "KVM_RUN on a bad fd (EBADF)", t_kvm_run, { ALLOW, ALLOW } },
	{ "KVM_IRQ_LINE on a bad fd (EBADF)", t_irq_line, { ALLOW, ALLOW } },
	{ "TUNSETOFFLOAD on a pipe (ENOTTY)", t_tun_offload, { ALLOW, ALLOW } },
	{ "mmap PROT_READ|PROT_WRITE, madvise, munmap", t_mmap_rw, { ALLOW, ALLOW } },
	{ "malloc, realloc to 4 MiB, free", t_malloc, { ALLOW, ALLOW } },
	{ "fstat", t_fstat, { ALLOW, ALLOW } },
	{ "pwrite, pread, ftruncate (log rotation)", t_rotate, { ALLOW, ALLOW } },
	{ "pthread_kill(self, SIGUSR1), the handler returns", t_kick_self, { ALLOW, ALLOW } },
	{ "abort()", t_abort, { ABORT, ABORT } },

	{ "read from a pipe", t_read, { ALLOW, DIE } },
	{ "KVM_SET_ONE_REG on a bad fd (EBADF)", t_set_one_reg, { ALLOW, DIE } },
	{ "KVM_ARM_VCPU_INIT on a bad fd (EBADF)", t_vcpu_init, { ALLOW, DIE } },
	{ "getrandom", t_getrandom, { ALLOW, DIE } },
	{ "close", t_close, { ALLOW, DIE } },
	{ "fcntl F_GETFL, F_SETFL, F_GETFD", t_fcntl, { ALLOW, DIE } },
	{ "epoll_ctl, epoll_pwait", t_epoll, { ALLOW, DIE } },
	{ "getsockopt SO_PEERCRED", t_peercred, { ALLOW, DIE } },
	{ "send, recv, shutdown", t_sendrecv, { ALLOW, DIE } },
	{ "accept4 on a pipe (ENOTSOCK)", t_accept, { ALLOW, DIE } },
	{ "mprotect PROT_READ", t_mprotect_r, { ALLOW, DIE } },
	{ "prctl PR_SET_NAME", t_setname, { ALLOW, DIE } },
	{ "pthread_create, pthread_join", t_thread, { ALLOW, DIE } },
	{ "clone3 (the loop: ENOSYS)", t_clone3, { ALLOW, DIE } },
	{ "a thread stacks the vCPU filter, KVM_RUN (EBADF)", t_stacked_run, { ALLOW, NONE } },
	{ "a stacked vCPU thread: KVM_SET_ONE_REG", t_stacked_set_one_reg, { DIE, NONE } },
	{ "a stacked vCPU thread: read", t_stacked_read, { DIE, NONE } },

	{ "openat", t_openat, { DIE, DIE } },
	{ "execve", t_execve, { DIE, DIE } },
	{ "socket", t_socket, { DIE, DIE } },
	{ "ptrace", t_ptrace, { DIE, DIE } },
	{ "mmap PROT_EXEC", t_mmap_exec, { DIE, DIE } },
	{ "mprotect PROT_EXEC", t_mprotect_exec, { DIE, DIE } },
	{ "ioctl KVM_CREATE_VM", t_create_vm, { DIE, DIE } },
	{ "ioctl TCGETS", t_tcgets, { DIE, DIE } },
	{ "kill", t_kill, { DIE, DIE } },
	{ "tgkill of another process", t_tgkill_other, { DIE, DIE } },
	{ "tgkill SIGTERM", t_tgkill_term, { DIE, DIE } },
	{ "fork", t_fork, { DIE, DIE } },
	{ "fcntl F_DUPFD", t_dupfd, { DIE, DIE } },
	{ "getsockopt SO_RCVBUF", t_rcvbuf, { DIE, DIE } },
	{ "prctl PR_SET_DUMPABLE", t_dumpable, { DIE, DIE } },
	{ "unshare", t_unshare, { DIE, DIE } },
	{ "mount", t_mount, { DIE, DIE } },
	{ "fstatat of a path (not AT_EMPTY_PATH)", t_stat_path, { DIE, DIE } },
};

/* In the child: the fixture, a time limit, (the report,) the filter, fn. */
static pid_t spawn(enum seccomp_kind kind, int (*fn)(void), int exit_fd, int log_fd)
{
	pid_t pid;
	int r;

	fflush(stdout);
	pid = fork();
	if (pid != 0)
		return pid;
	fixture();
	alarm(CHILD_TIMEOUT_S);
	if (exit_fd >= 0 && (r = seccomp_report_init(exit_fd, log_fd)) < 0) {
		note("    seccomp_report_init: %s", strerror(-r));
		_exit(97);
	}
	r = seccomp_install(kind, &conf_all);
	if (r < 0) {
		note("    seccomp_install(%s): %s", kind_names[kind], strerror(-r));
		_exit(96);
	}
	_exit(fn() ? 1 : 0);
}

static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
}

static void result(enum seccomp_kind kind, const char *what, bool pass, const char *why)
{
	printf("%s %s: %s%s%s\n", pass ? "PASS" : "FAIL", kind_names[kind], what,
	       why ? ": " : "", why ? why : "");
	fflush(stdout);
	failures += !pass;
}

static void run_check(enum seccomp_kind kind, const struct check *c)
{
	static const char *const wanted[] = {
		[ALLOW] = "exit 0", [DIE] = "killed by SIGSYS", [ABORT] = "killed by SIGABRT",
	};
	static const char *const outcome[] = {
		[ALLOW] = "allowed", [DIE] = "SIGSYS", [ABORT] = "SIGABRT",
	};
	enum expect e = c->expect[kind];
	pid_t pid = spawn(kind, c->fn, -1, -1);
	char got[64], why[160];
	int status = 0;
	bool pass;

	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		result(kind, c->what, false, strerror(errno));
		return;
	}
	pass = e == ALLOW ? WIFEXITED(status) && WEXITSTATUS(status) == 0 :
	       WIFSIGNALED(status) && WTERMSIG(status) == (e == DIE ? SIGSYS : SIGABRT);
	describe(status, got, sizeof(got));
	snprintf(why, sizeof(why), "%s, expected %s", got, wanted[e]);
	result(kind, c->what, pass, pass ? outcome[e] : why);
}

static size_t read_all(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* A violation with the report installed: exit code, log line, exit.json. */
static void run_report(enum seccomp_kind kind, const char *what, int (*fn)(void), long nr)
{
	char expect[96], json[160], log[512], exit_json[512], got[64], why[700];
	int exit_fd = memfd_create("exit.json", 0), log_fd = memfd_create("worker.log", 0);
	char junk[300];			/* longer than the report: must be cut off */
	int status = 0;
	pid_t pid;
	bool pass;

	snprintf(expect, sizeof(expect), "seccomp: syscall %s (%ld)",
		 seccomp_syscall_name(nr) ? seccomp_syscall_name(nr) : "unknown", nr);
	snprintf(json, sizeof(json), "{\"code\":%d,\"reason\":\"%s\"}", WORKER_EXIT_SECCOMP,
		 expect);
	memset(junk, 'x', sizeof(junk));
	if (exit_fd < 0 || log_fd < 0 || pwrite(exit_fd, junk, sizeof(junk), 0) < 0) {
		result(kind, what, false, strerror(errno));
		return;
	}
	pid = spawn(kind, fn, exit_fd, log_fd);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		result(kind, what, false, strerror(errno));
		return;
	}
	read_all(log_fd, log, sizeof(log));
	read_all(exit_fd, exit_json, sizeof(exit_json));
	close(exit_fd);
	close(log_fd);
	describe(status, got, sizeof(got));
	pass = WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_SECCOMP &&
	       strstr(log, expect) && !strcmp(exit_json, json);
	snprintf(why, sizeof(why), "%s (expected exit %d), log \"%.120s\", exit.json \"%.200s\"",
		 got, WORKER_EXIT_SECCOMP, log, exit_json);
	if (pass)
		snprintf(why, sizeof(why), "%s", expect);
	result(kind, what, pass, why);
}

static int usage(void)
{
	fprintf(stderr, "usage: seccomp-probe loop|vcpu\n"
			"       seccomp-probe list loop|vcpu [--no-tap] [--no-disks]\n");
	return 2;
}

static int parse_kind(const char *s, enum seccomp_kind *kind)
{
	for (int k = SECCOMP_LOOP; k <= SECCOMP_VCPU; k++) {
		if (!strcmp(s, kind_names[k])) {
			*kind = (enum seccomp_kind)k;
			return 0;
		}
	}
	return -1;
}

static int list(int argc, char **argv)
{
	struct seccomp_conf conf = conf_all;
	enum seccomp_kind kind;
	const char *names[128];
	size_t n;

	if (argc < 3 || parse_kind(argv[2], &kind) < 0)
		return usage();
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--no-tap"))
			conf.tap = false;
		else if (!strcmp(argv[i], "--no-disks"))
			conf.disks = false;
		else
			return usage();
	}
	n = seccomp_list(kind, &conf, names, sizeof(names) / sizeof(names[0]));
	printf("%s: %zu syscalls:", kind_names[kind], n);
	for (size_t i = 0; i < n && i < sizeof(names) / sizeof(names[0]); i++)
		printf(" %s", names[i] ? names[i] : "?");
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	enum seccomp_kind kind;
	size_t nchecks = 0;

	if (argc >= 2 && !strcmp(argv[1], "list"))
		return list(argc, argv);
	if (argc != 2 || parse_kind(argv[1], &kind) < 0)
		return usage();
	setrlimit(RLIMIT_CORE, &no_core);	/* the SIGSYS deaths leave no cores */
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (checks[i].expect[kind] == NONE)
			continue;
		run_check(kind, &checks[i]);
		nchecks++;
	}
	run_report(kind, "report: openat", t_openat, __NR_openat);
	nchecks++;
	if (kind == SECCOMP_LOOP) {
		run_report(kind, "report from a stacked vCPU thread: read", t_stacked_read,
			   __NR_read);
		nchecks++;
	}
	printf("seccomp-probe %s: %zu checks, %d failed\n", kind_names[kind], nchecks, failures);
	return failures ? 1 : 0;
}
