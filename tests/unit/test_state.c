// SPDX-License-Identifier: MIT
/*
 * The daemon's directories and the definitions on disk: directories that
 * are not root's or are writable by others are refused; saves run off the
 * loop, in order per name; a save that fails (injected EIO, or a real full
 * tmpfs when the test may mount one) is an error to its caller and leaves
 * the old file as it was; loading sets aside what is not a definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/jobs.h"
#include "daemon/state.h"
#include "util/fs.h"

static char top[40];
static int topfd = -1;
static struct daemon d;

static int setup(void **state)
{
	snprintf(top, sizeof(top), "/tmp/armvmd-test-state.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (topfd < 0)
		return -1;
	memset(&d, 0, sizeof(d));
	d.loop = ev_loop_new(EVFLAG_AUTO);
	d.jobs = jobs_new(d.loop, 2);
	d.state_problems = json_array();
	d.state_dirfd = d.runtime_dirfd = d.vms_dirfd = -1;
	snprintf(d.state_dir, sizeof(d.state_dir), "%s/state", top);
	snprintf(d.runtime_dir, sizeof(d.runtime_dir), "%s/run", top);
	return d.loop && d.jobs ? 0 : -1;
}

static int teardown(void **state)
{
	fs_set_test_ops(NULL);
	jobs_free(d.jobs);
	ev_loop_destroy(d.loop);
	json_decref(d.state_problems);
	if (d.state_dirfd >= 0)
		close(d.state_dirfd);
	if (d.runtime_dirfd >= 0)
		close(d.runtime_dirfd);
	if (d.vms_dirfd >= 0)
		close(d.vms_dirfd);
	close(topfd);
	return fs_remove_tree_at(AT_FDCWD, top);
}

static mode_t mode_of(const char *rel)
{
	struct stat st;

	assert_int_equal(fstatat(topfd, rel, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

static bool exists(const char *rel)
{
	struct stat st;

	return fstatat(topfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static char *content(const char *rel)
{
	int err;
	char *buf = fs_read_at(topfd, rel, 1 << 20, NULL, &err);

	assert_non_null(buf);
	return buf;
}

static void put(const char *rel, const char *text)
{
	int fd = openat(topfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* collected by the state_load callback */
struct loaded {
	char name[64];
	json_t *params;
	time_t created_at;
	uid_t owner;
};
static struct loaded loaded[16];
static unsigned nloaded;

static void add(struct daemon *dd, const char *name, json_t *params, time_t created_at,
		uid_t owner)
{
	assert_ptr_equal(dd, &d);
	assert_true(nloaded < 16);
	snprintf(loaded[nloaded].name, sizeof(loaded[nloaded].name), "%s", name);
	loaded[nloaded].params = json_incref(params);
	loaded[nloaded].created_at = created_at;
	loaded[nloaded].owner = owner;
	nloaded++;
}

static void loaded_clear(void)
{
	for (unsigned i = 0; i < nloaded; i++)
		json_decref(loaded[i].params);
	nloaded = 0;
}

static struct loaded *loaded_find(const char *name)
{
	static struct loaded none;

	for (unsigned i = 0; i < nloaded; i++)
		if (!strcmp(loaded[i].name, name))
			return &loaded[i];
	fail_msg("%s was not loaded", name);
	return &none;
}

/* save completions, in the order they came */
static int results[64];
static unsigned nresults;

static void saved(void *arg, int err)
{
	assert_true(nresults < 64);
	results[nresults++] = err;
	*(int *)arg = err;
}

static int save_and_wait(const char *name, json_t *params, time_t created, uid_t owner)
{
	int err = 1;

	assert_int_equal(state_save(&d, name, params, created, owner, saved, &err), 0);
	ev_run(d.loop, 0);	/* the outstanding job keeps it running */
	assert_int_not_equal(err, 1);
	return err;
}

static void test_init_creates(void **state)
{
	assert_int_equal(state_init(&d), 0);
	assert_true(d.state_dirfd >= 0);
	assert_int_equal(mode_of("state"), 0700);
	assert_int_equal(mode_of("state/vms"), 0700);
	assert_int_equal(runtime_init(&d), 0);
	assert_true(d.runtime_dirfd >= 0 && d.vms_dirfd >= 0);
	assert_int_equal(mode_of("run"), 0755);
	assert_int_equal(mode_of("run/vms"), 0755);
	/* again, with everything there: fine */
	close(d.state_dirfd);
	close(d.runtime_dirfd);
	close(d.vms_dirfd);
	assert_int_equal(state_init(&d), 0);
	assert_int_equal(runtime_init(&d), 0);
}

static void test_init_refuses(void **state)
{
	/* writable by others */
	assert_int_equal(mkdirat(topfd, "state", 0700), 0);
	assert_int_equal(fchmodat(topfd, "state", 0777, 0), 0);
	assert_int_equal(state_init(&d), -EPERM);
	assert_int_equal(d.state_dirfd, -1);
	assert_int_equal(fchmodat(topfd, "state", 0700, 0), 0);
	/* its vms a symlink to somewhere else */
	assert_int_equal(mkdirat(topfd, "elsewhere", 0700), 0);
	assert_int_equal(symlinkat("../elsewhere", topfd, "state/vms"), 0);
	assert_true(state_init(&d) < 0);
	assert_int_equal(d.state_dirfd, -1);
	assert_int_equal(unlinkat(topfd, "state/vms", 0), 0);
	assert_int_equal(state_init(&d), 0);
	close(d.state_dirfd);
	d.state_dirfd = -1;

	/* the runtime directory a symlink */
	assert_int_equal(symlinkat("elsewhere", topfd, "run"), 0);
	assert_int_equal(runtime_init(&d), -ELOOP);
	assert_int_equal(unlinkat(topfd, "run", 0), 0);
	/* group-writable vms */
	assert_int_equal(mkdirat(topfd, "run", 0755), 0);
	assert_int_equal(mkdirat(topfd, "run/vms", 0775), 0);
	assert_int_equal(fchmodat(topfd, "run/vms", 0775, 0), 0);
	assert_int_equal(runtime_init(&d), -EPERM);
	assert_int_equal(d.runtime_dirfd, -1);
	assert_int_equal(d.vms_dirfd, -1);
	if (geteuid() == 0) {
		/* somebody else's */
		assert_int_equal(fchmodat(topfd, "run/vms", 0755, 0), 0);
		assert_int_equal(fchownat(topfd, "run", 12345, 0, 0), 0);
		assert_int_equal(runtime_init(&d), -EPERM);
	}
}

static void test_save_load(void **state)
{
	json_t *p = json_pack("{s:s, s:i}", "kernel", "/boot/Image", "memory_mb", 256);
	struct loaded *l;

	assert_int_equal(state_init(&d), 0);
	assert_int_equal(save_and_wait("vm1", p, 1700000000, 1000), 0);
	assert_int_equal(save_and_wait("vm2", p, 1700000001, 0), 0);
	assert_int_equal(mode_of("state/vms/vm1.json"), 0600);
	assert_false(exists("state/vms/.vm1.json.tmp"));
	assert_int_equal(state_load(&d, add), 0);
	assert_int_equal(nloaded, 2);
	l = loaded_find("vm1");
	assert_true(json_equal(l->params, p));
	assert_int_equal(l->created_at, 1700000000);
	assert_int_equal(l->owner, 1000);
	l = loaded_find("vm2");
	assert_int_equal(l->owner, 0);
	assert_int_equal(json_array_size(d.state_problems), 0);
	loaded_clear();

	/* forget */
	assert_int_equal(state_forget(&d, "vm1"), 0);
	assert_false(exists("state/vms/vm1.json"));
	ev_run(d.loop, 0);	/* its directory fsync, off the loop */
	assert_int_equal(state_forget(&d, "vm1"), -ENOENT);
	assert_int_equal(state_forget(&d, "../x"), -EINVAL);
	/* bad arguments: refused at once, no callback */
	assert_int_equal(state_save(&d, "../evil", p, 0, 0, saved, NULL), -EINVAL);
	assert_int_equal(state_save(&d, "ok", NULL, 0, 0, saved, NULL), -EINVAL);
	json_decref(p);
}

/* a definition written before "owner" existed is root's */
static void test_load_old_format(void **state)
{
	assert_int_equal(state_init(&d), 0);
	put("state/vms/old.json", "{\"version\": 1, \"name\": \"old\", "
	    "\"params\": {\"kernel\": \"/k\"}, \"created_at\": 5}\n");
	assert_int_equal(state_load(&d, add), 0);
	assert_int_equal(nloaded, 1);
	assert_string_equal(loaded[0].name, "old");
	assert_int_equal(loaded[0].owner, 0);
	assert_int_equal(loaded[0].created_at, 5);
	loaded_clear();
}

static ssize_t eio_write(int fd, const void *buf, size_t len)
{
	errno = EIO;
	return -1;
}

static const struct fs_test_ops eio_ops = { .write = eio_write, .fsync = fsync, .close = close };

static void test_save_failure_keeps_old(void **state)
{
	json_t *p1 = json_pack("{s:s}", "kernel", "/first");
	json_t *p2 = json_pack("{s:s}", "kernel", "/second");
	char *before, *after;

	assert_int_equal(state_init(&d), 0);
	assert_int_equal(save_and_wait("vm", p1, 1, 0), 0);
	before = content("state/vms/vm.json");
	fs_set_test_ops(&eio_ops);
	assert_int_equal(save_and_wait("vm", p2, 1, 0), -EIO);
	fs_set_test_ops(NULL);
	after = content("state/vms/vm.json");
	assert_string_equal(before, after);
	assert_non_null(strstr(after, "/first"));
	assert_false(exists("state/vms/.vm.json.tmp"));
	free(before);
	free(after);
	json_decref(p1);
	json_decref(p2);
}

/* many saves of one name at once, on two threads: they land in order */
static void test_save_order(void **state)
{
	int errs[40];
	char *text;

	assert_int_equal(state_init(&d), 0);
	nresults = 0;
	for (int i = 0; i < 40; i++) {
		json_t *p = json_pack("{s:i}", "n", i);

		errs[i] = 1;
		assert_int_equal(state_save(&d, i % 2 ? "odd" : "vm", p, 0, 0, saved,
					    &errs[i]), 0);
		if (i == 39) {
			/* and the last of "odd" asked for while others run */
			json_decref(p);
			p = json_pack("{s:i}", "n", 1000);
			assert_int_equal(state_save(&d, "odd", p, 0, 0, saved, &errs[39]), 0);
		}
		json_decref(p);
	}
	ev_run(d.loop, 0);
	assert_int_equal(nresults, 41);
	for (int i = 0; i < 40; i++)
		assert_int_equal(errs[i], 0);
	text = content("state/vms/vm.json");
	assert_non_null(strstr(text, "\"n\": 38"));
	free(text);
	text = content("state/vms/odd.json");
	assert_non_null(strstr(text, "\"n\": 1000"));
	free(text);

	/* a forget asked for while a save runs is not undone by it */
	{
		json_t *p = json_pack("{s:i}", "n", 1);
		int e1 = 1, e2 = 1;

		assert_int_equal(state_save(&d, "gone", p, 0, 0, saved, &e1), 0);
		assert_int_equal(state_forget(&d, "gone"), 0);
		ev_run(d.loop, 0);
		assert_int_equal(e1, 0);
		assert_false(exists("state/vms/gone.json"));
		/* and a save after the forget stands */
		assert_int_equal(state_save(&d, "gone", p, 0, 0, saved, &e1), 0);
		assert_int_equal(state_forget(&d, "gone"), 0);
		assert_int_equal(state_save(&d, "gone", p, 0, 0, saved, &e2), 0);
		ev_run(d.loop, 0);
		assert_int_equal(e2, 0);
		assert_true(exists("state/vms/gone.json"));
		json_decref(p);
	}
}

static void test_load_problems(void **state)
{
	char *victim;
	size_t n;

	assert_int_equal(state_init(&d), 0);
	put("victim", "precious");
	put("state/vms/good.json", "{\"version\": 1, \"name\": \"good\", "
	    "\"params\": {}, \"owner\": 7}\n");
	put("state/vms/broken.json", "{\"version\": 1, ");
	put("state/vms/v2.json", "{\"version\": 2, \"name\": \"v2\", \"params\": {}}");
	put("state/vms/other.json", "{\"version\": 1, \"name\": \"someone\", \"params\": {}}");
	put("state/vms/badowner.json", "{\"version\": 1, \"name\": \"badowner\", "
	    "\"params\": {}, \"owner\": -3}");
	put("state/vms/.half.json.tmp", "{\"vers");
	put("state/vms/notes.txt", "not ours, left alone");
	assert_int_equal(symlinkat("../../victim", topfd, "state/vms/link.json"), 0);
	assert_int_equal(mkdirat(topfd, "state/vms/dir.json", 0700), 0);
	assert_int_equal(mkfifoat(topfd, "state/vms/fifo.json", 0600), 0);

	assert_int_equal(state_load(&d, add), 0);
	assert_int_equal(nloaded, 1);
	assert_string_equal(loaded[0].name, "good");
	assert_int_equal(loaded[0].owner, 7);
	loaded_clear();

	n = json_array_size(d.state_problems);
	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(d.state_problems, i);

		assert_non_null(json_string_value(json_object_get(o, "file")));
		assert_non_null(json_string_value(json_object_get(o, "problem")));
		assert_non_null(json_string_value(json_object_get(o, "moved_to")));
	}
	assert_false(exists("state/vms/broken.json"));
	assert_false(exists("state/vms/link.json"));
	assert_false(exists("state/vms/.half.json.tmp"));
	assert_true(exists("state/vms/notes.txt"));
	assert_true(exists("state/vms/good.json"));
	victim = content("victim");
	assert_string_equal(victim, "precious");
	free(victim);

	/* loading again finds only the good one, and no new problem */
	json_array_clear(d.state_problems);
	assert_int_equal(state_load(&d, add), 0);
	assert_int_equal(nloaded, 1);
	assert_int_equal(json_array_size(d.state_problems), 0);
	loaded_clear();
}

/*
 * The state directory on a 64 KiB tmpfs, filled up: the save fails with
 * ENOSPC and the old definition stays.  Needs root and a mount namespace
 * of our own (a single-threaded process: the job threads are stopped
 * first; not possible under qemu-user).
 */
static void test_save_enospc_tmpfs(void **state)
{
	json_t *p1 = json_pack("{s:s}", "kernel", "/first"), *p2;
	char big[16 << 10], *before, *after;
	int fd;

	jobs_free(d.jobs);
	d.jobs = NULL;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		print_message("no mount namespace (%s): skipped\n", strerror(errno));
		d.jobs = jobs_new(d.loop, 1);
		json_decref(p1);
		skip();
	}
	/* an fd opened before unshare walks the old namespace's mounts */
	close(topfd);
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(topfd >= 0);
	assert_int_equal(mkdirat(topfd, "state", 0700), 0);
	if (mount("tmpfs", d.state_dir, "tmpfs", 0, "size=64k,mode=0700") < 0) {
		print_message("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		d.jobs = jobs_new(d.loop, 1);
		json_decref(p1);
		skip();
	}
	d.jobs = jobs_new(d.loop, 1);
	assert_non_null(d.jobs);
	assert_int_equal(state_init(&d), 0);
	assert_int_equal(save_and_wait("vm", p1, 1, 0), 0);
	before = content("state/vms/vm.json");

	/* fill it up */
	fd = openat(topfd, "state/filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(big, 'f', sizeof(big));
	while (write(fd, big, sizeof(big)) > 0)
		;
	while (write(fd, big, 1) > 0)
		;
	close(fd);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p2 = json_pack("{s:s, s:s}", "kernel", "/second", "padding", big);
	assert_int_equal(save_and_wait("vm", p2, 1, 0), -ENOSPC);
	after = content("state/vms/vm.json");
	assert_string_equal(before, after);
	assert_false(exists("state/vms/.vm.json.tmp"));

	/* room again: the same save succeeds */
	assert_int_equal(unlinkat(topfd, "state/filler", 0), 0);
	assert_int_equal(save_and_wait("vm", p2, 1, 0), 0);
	free(after);
	after = content("state/vms/vm.json");
	assert_non_null(strstr(after, "/second"));
	free(before);
	free(after);
	json_decref(p1);
	json_decref(p2);
	close(d.state_dirfd);
	d.state_dirfd = -1;
	assert_int_equal(umount(d.state_dir), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_creates),
		T(test_init_refuses),
		T(test_save_load),
		T(test_load_old_format),
		T(test_save_failure_keeps_old),
		T(test_save_order),
		T(test_load_problems),
		/* last: it moves the process into a mount namespace of its own */
		T(test_save_enospc_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
