// SPDX-License-Identifier: MIT
/*
 * Logs kept to a size: the worker's own log (stderr, worker.log) and a
 * VM's console.log rotate once (NAME -> NAME.1, the newest kept), and the
 * console's in-memory ring is untouched by rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"

/* console.c is built for the KVM target only; natively, test it here */
#if !ARMVMD_KVM
#include "devices/console.c"
#else
#include "devices/console.h"
#endif

static char top[64];
static int topfd = -1;

static int setup(void **state)
{
	snprintf(top, sizeof(top), "/tmp/armvmd-test-logs.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return topfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	close(topfd);
	return fs_remove_tree_at(AT_FDCWD, top);
}

static char *slurp(const char *name, size_t *len)
{
	int err = 0;
	char *buf = fs_read_at(topfd, name, 64 << 20, len, &err);

	if (!buf && err == -ENOENT) {
		*len = 0;
		return calloc(1, 1);
	}
	assert_non_null(buf);
	return buf;
}

static off_t size_of(const char *name)
{
	struct stat st;

	return fstatat(topfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : -1;
}

static void test_worker_log_rotation(void **state)
{
	char path[128], last[64];
	int saved = dup(STDERR_FILENO), fd;
	size_t len0, len1;
	char *cur, *old;

	assert_true(saved >= 0);
	snprintf(path, sizeof(path), "%s/worker.log", top);
	/* stderr elsewhere: not rotated */
	assert_int_equal(log_set_rotation(path, 4096), -ENOENT);
	fd = openat(topfd, "worker.log", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(log_set_rotation(path, 4096), -ESTALE);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	assert_int_equal(log_set_rotation(path, 4096), 0);
	for (int i = 0; i < 500; i++)
		log_info("line %d of the worker's log, padded to be a little longer", i);
	snprintf(last, sizeof(last), "line 499 of");
	/* rotation drops the oldest; stop before the test's own output */
	assert_int_equal(log_set_rotation(path, 0), 0);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);

	assert_true(size_of("worker.log") > 0);
	assert_true(size_of("worker.log") <= 4096);
	assert_true(size_of("worker.log.1") > 3000);
	assert_true(size_of("worker.log.1") <= 4096);
	cur = slurp("worker.log", &len0);
	old = slurp("worker.log.1", &len1);
	assert_non_null(strstr(cur, last));
	/* whole lines, the older file just before the newer one */
	assert_int_equal(cur[len0 - 1], '\n');
	assert_int_equal(old[len1 - 1], '\n');
	assert_null(strstr(cur, "line 0 of"));
	{
		int a, b;
		const char *p = strrchr(old, '\n');

		while (p > old && p[-1] != '\n')
			p--;
		assert_int_equal(sscanf(strstr(p, "line "), "line %d", &a), 1);
		assert_int_equal(sscanf(strstr(cur, "line "), "line %d", &b), 1);
		assert_int_equal(b, a + 1);
	}
	free(cur);
	free(old);
}

/* a symlink planted as the rotated name is replaced, not followed */
static void test_worker_log_symlink(void **state)
{
	char path[128];
	int saved = dup(STDERR_FILENO), fd;
	size_t len;
	char *v;

	fd = openat(topfd, "victim", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(symlinkat("victim", topfd, "worker.log.1"), 0);
	snprintf(path, sizeof(path), "%s/worker.log", top);
	fd = openat(topfd, "worker.log", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	assert_int_equal(log_set_rotation(path, 4096), 0);
	for (int i = 0; i < 100; i++)
		log_warn("line %d of the worker's log, padded to be a little longer", i);
	log_set_rotation(path, 0);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	v = slurp("victim", &len);
	assert_string_equal(v, "precious");
	free(v);
	assert_true(size_of("worker.log") <= 4096);
}

static struct console con;

static void feed(struct ev_loop *loop, const char *data, size_t len)
{
	console_write(&con, (const uint8_t *)data, len);
	ev_run(loop, EVRUN_NOWAIT);
}

static void test_console_rotation(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	size_t total = 300 << 10, chunk = 1000, len0, len1, tail_len = 0;
	char path[128], *all, *cur, *old, *tail;
	uint64_t seen = 0;

	all = malloc(total);
	assert_non_null(all);
	for (size_t i = 0; i < total; i++)
		all[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	snprintf(path, sizeof(path), "%s/console.log", top);
	console_set_log_limit(64 << 10);
	assert_int_equal(console_init(&con, loop, path), 0);
	for (size_t off = 0; off < total; off += chunk)
		feed(loop, all + off, off + chunk > total ? total - off : chunk);
	assert_true(size_of("console.log") <= 64 << 10);
	assert_true(size_of("console.log.1") <= 64 << 10);
	assert_true(size_of("console.log.1") > 60 << 10);

	/* the two files are the newest part of the output, in order */
	old = slurp("console.log.1", &len1);
	cur = slurp("console.log", &len0);
	assert_memory_equal(cur, all + total - len0, len0);
	assert_memory_equal(old, all + total - len0 - len1, len1);

	/* the ring that worker.console reads has the last 64 KiB, whole */
	tail = console_tail(&con, CONSOLE_RING_SIZE, &tail_len, &seen);
	assert_non_null(tail);
	assert_int_equal(seen, total);
	assert_int_equal(tail_len, CONSOLE_RING_SIZE);
	assert_memory_equal(tail, all + total - CONSOLE_RING_SIZE, CONSOLE_RING_SIZE);
	free(tail);
	free(cur);
	free(old);

	/* one chunk larger than the whole bound: its newest part */
	console_close(&con);
	console_set_log_limit(4096);
	assert_int_equal(unlinkat(topfd, "console.log", 0), 0);
	assert_int_equal(console_init(&con, loop, path), 0);
	feed(loop, all, 10000);
	assert_int_equal(size_of("console.log"), 4096);
	cur = slurp("console.log", &len0);
	assert_memory_equal(cur, all + 10000 - 4096, 4096);
	free(cur);
	console_close(&con);
	console_set_log_limit(CONSOLE_LOG_MAX_DEFAULT);
	free(all);
	ev_loop_destroy(loop);
}

/* a FIFO or a symlink planted as console.log: refused, nothing stalls */
static void test_console_log_planted(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char path[128];

	snprintf(path, sizeof(path), "%s/console.log", top);
	assert_int_equal(mkfifoat(topfd, "console.log", 0600), 0);
	assert_true(console_init(&con, loop, path) < 0);
	console_close(&con);
	assert_int_equal(unlinkat(topfd, "console.log", 0), 0);
	assert_int_equal(symlinkat("elsewhere", topfd, "console.log"), 0);
	assert_true(console_init(&con, loop, path) < 0);
	console_close(&con);
	assert_int_equal(size_of("elsewhere"), -1);
	ev_loop_destroy(loop);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_worker_log_rotation),
		T(test_worker_log_symlink),
		T(test_console_rotation),
		T(test_console_log_planted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
