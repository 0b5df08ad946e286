// SPDX-License-Identifier: GPL-2.0-only
/*
 * armvmd-sample: a CPU-time profile of every process on the machine, for
 * finding where armvmd's set-up time goes inside an emulated host, whose
 * PMU counts no instructions and which has no perf(1).
 *
 *   armvmd-sample [-p PERIOD_US] OUT COMMAND [ARG...]
 *
 * Samples every CPU with the cpu-clock software event (a timer, so no PMU
 * is needed) every PERIOD_US (default 100) microseconds of CPU time while
 * COMMAND runs, user and kernel alike, and writes one line per distinct
 * sample to OUT:
 *
 *   S COUNT PID COMM u IP
 *   S COUNT PID COMM k IP,CALLER,CALLER...
 *
 * (COMM as the kernel knew it when the process last exec'd; a kernel
 * sample carries its kernel call chain, innermost first, which tells the
 * system call or the fault it was spent in).  Addresses are left to the
 * reader: the armvmd binaries are static and not position-independent,
 * so `addr2line -f -e BINARY IP` names a user address, /proc/kallsyms a
 * kernel one.  bench/profile does both.  Exit status: COMMAND's.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CPUS 16
#define RING_PAGES 256 /* data pages per CPU */
#define MAX_KEYS 16384
#define MAX_PIDS 4096
#define MAX_CHAIN 24 /* kernel frames kept per sample */

struct key {
	uint32_t pid;
	uint8_t kernel;
	uint8_t len;
	uint64_t ip[MAX_CHAIN];
	uint64_t n;
};

static struct key keys[MAX_KEYS];
static size_t nkeys, lost, dropped;
static struct {
	uint32_t pid;
	char comm[16];
} comms[MAX_PIDS];
static size_t ncomms;

static void set_comm(uint32_t pid, const char *c)
{
	size_t i;

	for (i = 0; i < ncomms; i++)
		if (comms[i].pid == pid)
			break;
	if (i == ncomms) {
		if (ncomms == MAX_PIDS)
			return;
		ncomms++;
	}
	comms[i].pid = pid;
	snprintf(comms[i].comm, sizeof(comms[i].comm), "%s", c);
	for (char *q = comms[i].comm; *q; q++)
		if (*q == ' ' || *q < 0x21 || *q > 0x7e)
			*q = '_';
}

static const char *comm_of(uint32_t pid)
{
	for (size_t i = 0; i < ncomms; i++)
		if (comms[i].pid == pid)
			return comms[i].comm;
	return "?";
}

static void count(uint32_t pid, int kernel, const uint64_t *ip, size_t len)
{
	/* open addressing on (pid, the chain) */
	uint64_t hv = pid;
	size_t h;

	for (size_t i = 0; i < len; i++)
		hv = (hv ^ ip[i]) * 0x9e3779b97f4a7c15ull;
	h = (size_t)(hv % MAX_KEYS);
	for (size_t probe = 0; probe < MAX_KEYS; probe++, h = (h + 1) % MAX_KEYS) {
		struct key *k = &keys[h];

		if (k->n == 0) {
			if (nkeys + 1 >= MAX_KEYS / 2) {
				dropped++;
				return;
			}
			nkeys++;
			k->pid = pid;
			k->kernel = (uint8_t)kernel;
			k->len = (uint8_t)len;
			memcpy(k->ip, ip, len * sizeof(*ip));
		}
		if (k->pid == pid && k->kernel == kernel && k->len == len &&
		    !memcmp(k->ip, ip, len * sizeof(*ip))) {
			k->n++;
			return;
		}
	}
}

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	size_t size;
};

static void drain(struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;

	while (tail < head) {
		struct perf_event_header h;
		unsigned char rec[4096];
		size_t off = tail % r->size;

		for (size_t i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = r->data[(off + i) % r->size];
		if (h.size < sizeof(h) || h.size > sizeof(rec))
			break;
		for (size_t i = 0; i < h.size; i++)
			rec[i] = r->data[(off + i) % r->size];
		if (h.type == PERF_RECORD_SAMPLE) {
			/* IP | TID | CALLCHAIN: u64 ip; u32 pid, tid; u64 nr, ips[nr] */
			uint64_t ip[MAX_CHAIN], nr, f;
			uint32_t pid;
			size_t len = 1;
			int kernel = (h.misc & PERF_RECORD_MISC_CPUMODE_MASK) ==
				     PERF_RECORD_MISC_KERNEL;

			memcpy(&ip[0], rec + sizeof(h), 8);
			memcpy(&pid, rec + sizeof(h) + 8, 4);
			memcpy(&nr, rec + sizeof(h) + 16, 8);
			if (kernel) {
				/* the chain repeats the ip after its context marker */
				for (uint64_t i = 0; i < nr && len < MAX_CHAIN &&
						     sizeof(h) + 24 + 8 * (i + 1) <= h.size;
				     i++) {
					memcpy(&f, rec + sizeof(h) + 24 + 8 * i, 8);
					if (f >= (uint64_t)PERF_CONTEXT_MAX || f == ip[0])
						continue;
					ip[len++] = f;
				}
			}
			count(pid, kernel, ip, len);
		} else if (h.type == PERF_RECORD_COMM) {
			uint32_t pid, tid;

			memcpy(&pid, rec + sizeof(h), 4);
			memcpy(&tid, rec + sizeof(h) + 4, 4);
			rec[h.size - 1] = 0;
			if (pid == tid)
				set_comm(pid, (const char *)rec + sizeof(h) + 8);
		} else if (h.type == PERF_RECORD_LOST) {
			uint64_t n;

			memcpy(&n, rec + sizeof(h) + 8, 8);
			lost += n;
		}
		tail += h.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
	long period_us = 100;
	struct ring rings[MAX_CPUS];
	struct pollfd pfd[MAX_CPUS];
	int ncpu, opt, status = 0;
	long page = sysconf(_SC_PAGESIZE);
	pid_t child;
	FILE *out;

	while ((opt = getopt(argc, argv, "+p:")) != -1) {
		if (opt != 'p')
			goto usage;
		period_us = strtol(optarg, NULL, 10);
		if (period_us < 10)
			goto usage;
	}
	if (argc - optind < 2)
		goto usage;
	out = fopen(argv[optind], "w");
	if (!out) {
		perror(argv[optind]);
		return 2;
	}
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu > MAX_CPUS)
		ncpu = MAX_CPUS;
	for (int c = 0; c < ncpu; c++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(a),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.sample_period = (uint64_t)period_us * 1000,
			.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_CALLCHAIN,
			.exclude_callchain_user = 1,
			.comm = 1,
			.comm_exec = 1,
			.disabled = 1,
			.wakeup_watermark = (uint32_t)(RING_PAGES * page / 4),
			.watermark = 1,
		};
		struct ring *r = &rings[c];

		r->fd = (int)syscall(SYS_perf_event_open, &a, -1, c, -1, 0);
		if (r->fd < 0) {
			fprintf(stderr, "armvmd-sample: perf_event_open(cpu %d): %s\n", c,
				strerror(errno));
			return 2;
		}
		r->size = (size_t)RING_PAGES * (size_t)page;
		r->meta = mmap(NULL, r->size + (size_t)page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);
		if (r->meta == MAP_FAILED) {
			perror("armvmd-sample: mmap");
			return 2;
		}
		r->data = (unsigned char *)r->meta + page;
		pfd[c] = (struct pollfd){ .fd = r->fd, .events = POLLIN };
	}
	/* the processes that already exist keep their names */
	for (int c = 0; c < ncpu; c++)
		ioctl(rings[c].fd, PERF_EVENT_IOC_ENABLE, 0);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		execvp(argv[optind + 1], argv + optind + 1);
		perror(argv[optind + 1]);
		_exit(127);
	}
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child)
			break;
		poll(pfd, (nfds_t)ncpu, 100);
		for (int c = 0; c < ncpu; c++)
			drain(&rings[c]);
	}
	for (int c = 0; c < ncpu; c++) {
		ioctl(rings[c].fd, PERF_EVENT_IOC_DISABLE, 0);
		drain(&rings[c]);
	}
	/* names of processes that never exec'd while sampled */
	for (size_t i = 0; i < MAX_KEYS; i++) {
		char path[64], c[32] = "";
		FILE *f;

		if (!keys[i].n || strcmp(comm_of(keys[i].pid), "?"))
			continue;
		snprintf(path, sizeof(path), "/proc/%u/comm", keys[i].pid);
		f = fopen(path, "r");
		if (f) {
			if (fgets(c, sizeof(c), f))
				c[strcspn(c, "\n")] = 0;
			fclose(f);
		}
		if (c[0])
			set_comm(keys[i].pid, c);
	}
	fprintf(out, "# period_us %ld cpus %d lost %zu dropped %zu\n", period_us, ncpu,
		lost, dropped);
	for (size_t i = 0; i < MAX_KEYS; i++) {
		if (!keys[i].n)
			continue;
		fprintf(out, "S %llu %u %s %c ", (unsigned long long)keys[i].n, keys[i].pid,
			comm_of(keys[i].pid), keys[i].kernel ? 'k' : 'u');
		for (size_t j = 0; j < keys[i].len; j++)
			fprintf(out, "%s%016llx", j ? "," : "", (unsigned long long)keys[i].ip[j]);
		fputc('\n', out);
	}
	fclose(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
usage:
	fprintf(stderr, "usage: armvmd-sample [-p PERIOD_US] OUT COMMAND [ARG...]\n");
	return 2;
}
