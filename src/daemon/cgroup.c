// SPDX-License-Identifier: MIT
/*
 * cgroup v2 for the VM workers (cgroup.h has the layout).  The cgroup
 * files are reached only through directory fds, one component at a time,
 * with O_NOFOLLOW: cgroupfs has no symlinks, but the mount point's
 * contents are still not trusted to be what the path says.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/cgroup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC		0x01021994
#endif

/* cgroup files are small; /proc/self/cgroup of a hybrid host has a line
 * per v1 hierarchy */
#define CG_FILE_MAX	4096
#define CG_SELF_MAX	8192
#define CG_WEIGHT_MAX	10000

static int fail(struct cgroup_base *cg, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cgroup_base *cg, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cg->why, sizeof(cg->why), fmt, ap);
	va_end(ap);
	cg->ok = false;
	return r;
}

static int say(char *msg, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *msg, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* ---- the pure parts ---- */

int cgroup_parse_self(const char *text, char *path, size_t len)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n >= 3 && !strncmp(line, "0::", 3)) {
			const char *p = line + 3;

			n -= 3;
			if (n == 0 || p[0] != '/')
				return -EINVAL;
			if (n >= len)
				return -ENAMETOOLONG;
			/* every component a plain name: the path is walked one
			 * component at a time under the mount's fd */
			for (size_t i = 1, start = 1; i <= n; i++) {
				if (i < n && p[i] != '/')
					continue;
				if (i == start) {
					if (!(i == n && n == 1))
						return -EINVAL;	/* "//" or a trailing '/' */
				} else if ((i - start == 1 && p[start] == '.') ||
					   (i - start == 2 && p[start] == '.' && p[start + 1] == '.')) {
					return -EINVAL;
				}
				start = i + 1;
			}
			memcpy(path, p, n);
			path[n] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s%s", a, strcmp(a, "/") ? "/" : "", b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cgroup_layout_for(const char *self, struct cgroup_layout *l)
{
	const char *slash = strrchr(self, '/');

	memset(l, 0, sizeof(*l));
	if (!strcmp(self, "/")) {
		/* the daemon stays: the root cgroup may hold processes and
		 * give controllers to its children at once */
		l->root = true;
		strcpy(l->base, "/" CGROUP_ROOT_TOP);
		strcpy(l->supervisor, "/");
		strcpy(l->vms, "/" CGROUP_ROOT_TOP "/" CGROUP_VMS);
		return 0;
	}
	if (strlen(self) >= sizeof(l->base))
		return -ENAMETOOLONG;
	if (slash && slash != self && !strcmp(slash + 1, CGROUP_SUPERVISOR)) {
		/* systemd's DelegateSubgroup=supervisor, or an earlier move */
		memcpy(l->base, self, (size_t)(slash - self));
		l->base[slash - self] = '\0';
		strcpy(l->supervisor, self);
	} else {
		strcpy(l->base, self);
		if (join(l->supervisor, sizeof(l->supervisor), self, CGROUP_SUPERVISOR) < 0)
			return -ENAMETOOLONG;
		l->move = true;
	}
	return join(l->vms, sizeof(l->vms), l->base, CGROUP_VMS);
}

int cgroup_vm_dirname(const char *name, char *buf, size_t len)
{
	bool escape = strchr(name, '.') || name[0] == '_';
	size_t n = strlen(name);

	if (!n || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (n + escape >= len)
		return -ENAMETOOLONG;
	snprintf(buf, len, "%s%s", escape ? "_" : "", name);
	return 0;
}

int cgroup_parse_keyed(const char *text, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(line + klen + 1, &end, 10);
			if (errno || end == line + klen + 1)
				return -ENOENT;
			*val = v;
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}

/* is the word w (length n) one of the space separated words of list? */
static bool has_word(const char *list, const char *w, size_t n)
{
	for (const char *p = list; *p;) {
		size_t k;

		p += strspn(p, " \t\n");
		k = strcspn(p, " \t\n");
		if (k == n && !strncmp(p, w, n))
			return true;
		p += k;
	}
	return false;
}

bool cgroup_has_all(const char *have, const char *want, char *missing, size_t len)
{
	size_t used = 0;
	bool all = true;

	if (len)
		missing[0] = '\0';
	for (const char *p = want; *p;) {
		size_t k;

		p += strspn(p, " ");
		k = strcspn(p, " ");
		if (k && !has_word(have, p, k)) {
			all = false;
			if (len && used + k + 2 <= len) {
				used += (size_t)snprintf(missing + used, len - used, "%s%.*s",
							 used ? " " : "", (int)k, p);
			}
		}
		p += k;
	}
	return all;
}

/* ---- cgroup files ---- */

/* Read the small file name under dirfd whole into buf, NUL-terminated.
 * Its length or -errno. */
static int cg_read(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t got = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (got + 1 >= len) {
			r = -EFBIG;
			break;
		}
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return r < 0 ? r : (int)got;
}

/* One write of text to file name under dirfd: a cgroup file takes one
 * value per write(), and says what is wrong with it in the errno. */
static int cg_write(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

/* A number file ("123\n", or "max\n": UINT64_MAX).  0 or -errno. */
static int cg_read_u64(int dirfd, const char *name, uint64_t *val)
{
	char buf[64], *end;
	int r = cg_read(dirfd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (!strncmp(buf, "max", 3) && (buf[3] == '\n' || !buf[3])) {
		*val = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*val = strtoull(buf, &end, 10);
	return errno || end == buf ? -EINVAL : 0;
}

/* Open the cgroup at path (absolute, below the mount) one component at a
 * time.  fd or -errno. */
static int cg_open_path(int root_fd, const char *path)
{
	char buf[CGROUP_PATH_MAX];
	int cur;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -errno;
	for (char *p = buf + 1, *next; *p; p = next) {
		int fd;

		next = strchr(p, '/');
		if (next)
			*next++ = '\0';
		else
			next = p + strlen(p);
		fd = fs_opendir_at(cur, p);
		close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
	}
	return cur;
}

/* systemd marks the cgroup of a unit with Delegate= so (since v240 or so;
 * trusted.* wants CAP_SYS_ADMIN to read, user.* is the newer copy) */
static bool cg_delegated(int fd)
{
	static const char *const names[] = { "trusted.delegate", "user.delegate" };
	char v[8];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t n = fgetxattr(fd, names[i], v, sizeof(v));

		if (n == 1 && v[0] == '1')
			return true;
	}
	return false;
}

/* +memory +pids +cpu in dirfd's cgroup.subtree_control (path names it). */
static int cg_enable(struct cgroup_base *cg, int dirfd, const char *path)
{
	char have[512], missing[64], req[96] = "";
	size_t used = 0;
	int r = cg_read(dirfd, "cgroup.subtree_control", have, sizeof(have));

	if (r < 0)
		return fail(cg, r, "reading %s/cgroup.subtree_control: %s", path, strerror(-r));
	if (cgroup_has_all(have, CGROUP_CONTROLLERS, missing, sizeof(missing)))
		return 0;
	for (const char *p = missing; *p;) {
		size_t k = strcspn(p, " ");

		used += (size_t)snprintf(req + used, sizeof(req) - used, "%s+%.*s",
					 used ? " " : "", (int)k, p);
		p += k + strspn(p + k, " ");
	}
	r = cg_write(dirfd, "cgroup.subtree_control", req);
	if (r == -EBUSY)
		return fail(cg, r, "enabling %s for the children of %s: it holds processes "
			    "(cgroup v2 gives controllers only from a cgroup without any)",
			    missing, path);
	if (r < 0)
		return fail(cg, r, "writing \"%s\" to %s/cgroup.subtree_control: %s",
			    req, path, strerror(-r));
	return 0;
}

/* ---- the VM tree ---- */

int cgroup_init(struct cgroup_base *cg, const char *mount)
{
	return cgroup_init_flags(cg, mount, 0);
}

int cgroup_init_flags(struct cgroup_base *cg, const char *mount, unsigned flags)
{
	char text[CG_SELF_MAX];
	int r = cg_read(AT_FDCWD, "/proc/self/cgroup", text, sizeof(text));
	struct stat st;

	if (r < 0) {
		memset(cg, 0, sizeof(*cg));
		cg->root_fd = cg->vms_fd = -1;
		return fail(cg, r, "reading /proc/self/cgroup: %s", strerror(-r));
	}
	/* sd_booted(3)'s test */
	flags &= ~CGROUP_SYSTEMD;
	if (lstat("/run/systemd/system", &st) == 0)
		flags |= CGROUP_SYSTEMD;
	return cgroup_init_from(cg, mount, text, flags);
}

int cgroup_init_from(struct cgroup_base *cg, const char *mount,
		     const char *self_cgroup, unsigned flags)
{
	bool systemd = flags & CGROUP_SYSTEMD;
	char self[CGROUP_PATH_MAX], have[512], missing[64];
	struct cgroup_layout l;
	const char *top_path;
	struct statfs sfs;
	int top = -1, fd, r;

	memset(cg, 0, sizeof(*cg));
	cg->root_fd = cg->vms_fd = -1;

	fd = open(mount, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(cg, -errno, "%s: %s", mount, strerror(errno));
	cg->root_fd = fd;
	if (fstatfs(fd, &sfs) < 0)
		return fail(cg, -errno, "statfs %s: %s", mount, strerror(errno));
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return fail(cg, -ENOTSUP, "%s is not a cgroup2 mount%s", mount,
			    sfs.f_type == TMPFS_MAGIC ?
			    " but a tmpfs: a cgroup v1 or hybrid host (systemd.unified_cgroup_hierarchy=1)" : "");

	r = cgroup_parse_self(self_cgroup, self, sizeof(self));
	if (r == -ENOENT)
		return fail(cg, r, "/proc/self/cgroup has no cgroup v2 line (0::)");
	if (r < 0)
		return fail(cg, r, "/proc/self/cgroup: unusable cgroup v2 path: %s", strerror(-r));
	r = cgroup_layout_for(self, &l);
	if (r < 0)
		return fail(cg, r, "the daemon's cgroup %s: path too long", self);

	if (l.root) {
		/* systemd owns the root of its tree: a daemon there is not in
		 * any unit (or in a container that did not delegate) */
		if (systemd)
			return fail(cg, -EPERM, "the daemon is in the root cgroup of a systemd host: "
				    "run it as armvmd.service (Delegate=%s)", CGROUP_CONTROLLERS);
		top_path = "/";
		top = fcntl(cg->root_fd, F_DUPFD_CLOEXEC, 3);
		if (top < 0)
			return fail(cg, -errno, "dup: %s", strerror(errno));
	} else {
		top_path = l.base;
		top = cg_open_path(cg->root_fd, l.base);
		if (top < 0)
			return fail(cg, top, "the daemon's cgroup %s: %s", l.base, strerror(-top));
		/* without systemd nothing marks a delegation: whoever put us
		 * in a cgroup of our own meant us to use it */
		if (systemd && !cg_delegated(top)) {
			r = fail(cg, -EPERM, "%s is not delegated to the daemon "
				 "(no Delegate= in its systemd unit)", l.base);
			goto out;
		}
		if (systemd && l.move && !(flags & CGROUP_MOVE_SELF)) {
			r = fail(cg, -EBUSY, "systemd started the daemon in %s, not in its %s: "
				 "VM cgroups there would keep the unit from starting again while "
				 "VMs run (DelegateSubgroup=%s needs systemd 254)",
				 l.base, CGROUP_SUPERVISOR, CGROUP_SUPERVISOR);
			goto out;
		}
	}

	r = cg_read(top, "cgroup.controllers", have, sizeof(have));
	if (r < 0) {
		r = fail(cg, r, "reading %s/cgroup.controllers: %s", top_path, strerror(-r));
		goto out;
	}
	if (!cgroup_has_all(have, CGROUP_CONTROLLERS, missing, sizeof(missing))) {
		have[strcspn(have, "\n")] = '\0';
		r = fail(cg, -ENOTSUP, "%s not available in %s (cgroup.controllers: \"%s\")%s",
			 missing, top_path, have,
			 l.root ? "" : ": Delegate=" CGROUP_CONTROLLERS " in the unit?");
		goto out;
	}

	if (l.move) {
		/* cgroup v2's no-internal-processes rule: BASE may give
		 * controllers to vms only once the daemon (all its threads:
		 * cgroup.procs moves the whole process) has left it */
		fd = fs_mkdir_open_at(top, CGROUP_SUPERVISOR, 0755);
		if (fd < 0) {
			r = fail(cg, fd, "creating %s: %s", l.supervisor, strerror(-fd));
			goto out;
		}
		r = cg_write(fd, "cgroup.procs", "0");
		close(fd);
		if (r < 0) {
			r = fail(cg, r, "moving the daemon into %s: %s", l.supervisor, strerror(-r));
			goto out;
		}
		cg->moved = true;
		if (systemd)
			log_warn("cgroups: moved out of %s into %s: while VMs run, systemd "
				 "cannot start the unit again (DelegateSubgroup=%s, systemd 254)",
				 l.base, l.supervisor, CGROUP_SUPERVISOR);
	}

	r = cg_enable(cg, top, top_path);
	if (r < 0)
		goto out;
	if (l.root) {
		fd = fs_mkdir_open_at(top, CGROUP_ROOT_TOP, 0755);
		if (fd < 0) {
			r = fail(cg, fd, "creating %s: %s", l.base, strerror(-fd));
			goto out;
		}
		close(top);
		top = fd;
		r = cg_enable(cg, top, l.base);
		if (r < 0)
			goto out;
	}
	fd = fs_mkdir_open_at(top, CGROUP_VMS, 0755);
	if (fd < 0) {
		r = fail(cg, fd, "creating %s: %s", l.vms, strerror(-fd));
		goto out;
	}
	cg->vms_fd = fd;
	r = cg_enable(cg, fd, l.vms);
	if (r < 0)
		goto out;
	strcpy(cg->path, l.vms);
	cg->ok = true;
	cg->why[0] = '\0';
out:
	if (top >= 0)
		close(top);
	return r;
}

/* the cgroup of VM name has no process (cgroup.events "populated 0") */
static int cg_unpopulated(int fd)
{
	char buf[256];
	uint64_t v;
	int r = cg_read(fd, "cgroup.events", buf, sizeof(buf));

	if (r < 0)
		return r;
	if (cgroup_parse_keyed(buf, "populated", &v) < 0)
		return -EINVAL;
	return v ? -EBUSY : 0;
}

static int cg_set(int fd, const char *file, const char *val, const struct cgroup_base *cg,
		  const char *dir, char *msg, size_t msglen)
{
	int r = cg_write(fd, file, val);

	if (r < 0)
		say(msg, msglen, r, "setting %s of cgroup %s/%s to %s: %s",
		    file, cg->path, dir, val, strerror(-r));
	return r;
}

int cgroup_vm_create(struct cgroup_base *cg, const char *name, uint64_t mem_max,
		     unsigned pids_max, unsigned weight, char *msg, size_t msglen)
{
	char dir[CGROUP_PATH_MAX / 2], mem[32], pids[16], w[16];
	bool made;
	int fd, r;

	if (!cg->ok)
		return say(msg, msglen, -ENOTSUP, "no cgroups for VMs: %s", cg->why);
	r = cgroup_vm_dirname(name, dir, sizeof(dir));
	if (r < 0)
		return say(msg, msglen, r, "VM name \"%s\" cannot name a cgroup", name);
	if (weight > CG_WEIGHT_MAX)
		weight = CG_WEIGHT_MAX;

	made = mkdirat(cg->vms_fd, dir, 0755) == 0;
	if (!made && errno != EEXIST)
		return say(msg, msglen, -errno, "creating cgroup %s/%s: %s",
			   cg->path, dir, strerror(errno));
	fd = fs_opendir_at(cg->vms_fd, dir);
	if (fd < 0)
		return say(msg, msglen, fd, "opening cgroup %s/%s: %s",
			   cg->path, dir, strerror(-fd));
	if (!made) {
		r = cg_unpopulated(fd);
		if (r == -EBUSY)
			say(msg, msglen, r, "cgroup %s/%s still has processes "
			    "(a worker of an earlier VM %s?)", cg->path, dir, name);
		else if (r < 0)
			say(msg, msglen, r, "reading %s/%s/cgroup.events: %s",
			    cg->path, dir, strerror(-r));
		if (r < 0)
			goto fail;
	}

	/* every limit written, the defaults too: a reused cgroup keeps
	 * nothing of the VM before */
	if (mem_max)
		snprintf(mem, sizeof(mem), "%" PRIu64, mem_max);
	else
		strcpy(mem, "max");
	if (pids_max)
		snprintf(pids, sizeof(pids), "%u", pids_max);
	else
		strcpy(pids, "max");
	snprintf(w, sizeof(w), "%u", weight ? weight : 100);

	r = cg_set(fd, "memory.max", mem, cg, dir, msg, msglen);
	if (r < 0)
		goto fail;
	/* guest memory that the host swaps is memory.max dodged; absent
	 * without swap accounting (swapaccount=0, no CONFIG_SWAP) */
	r = cg_write(fd, "memory.swap.max", "0");
	if (r < 0 && r != -ENOENT) {
		say(msg, msglen, r, "setting memory.swap.max of cgroup %s/%s to 0: %s",
		    cg->path, dir, strerror(-r));
		goto fail;
	}
	r = cg_set(fd, "pids.max", pids, cg, dir, msg, msglen);
	if (r < 0)
		goto fail;
	r = cg_set(fd, "cpu.weight", w, cg, dir, msg, msglen);
	if (r < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	if (made)
		unlinkat(cg->vms_fd, dir, AT_REMOVEDIR);
	return r;
}

int cgroup_vm_remove(struct cgroup_base *cg, const char *name)
{
	char dir[CGROUP_PATH_MAX / 2];
	int r;

	if (cg->vms_fd < 0)
		return -ENOTSUP;
	r = cgroup_vm_dirname(name, dir, sizeof(dir));
	if (r < 0)
		return r;
	if (unlinkat(cg->vms_fd, dir, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

int cgroup_move_pid(int fd, pid_t pid)
{
	char text[24];
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid), r = 0;
	int pfd = openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (pfd < 0)
		return -errno;
	if (write(pfd, text, (size_t)n) != n)
		r = -errno;
	close(pfd);
	return r;
}

unsigned cgroup_sweep(struct cgroup_base *cg)
{
	int fd = cg->vms_fd >= 0 ? fcntl(cg->vms_fd, F_DUPFD_CLOEXEC, 3) : -1;
	DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	unsigned n = 0;

	if (!dh) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		/* a cgroup with processes is EBUSY: it stays */
		n += unlinkat(cg->vms_fd, de->d_name, AT_REMOVEDIR) == 0;
	}
	closedir(dh);
	return n;
}

int cgroup_vm_path(const struct cgroup_base *cg, const char *name, char *buf, size_t len)
{
	char dir[CGROUP_PATH_MAX / 2];
	int r;

	if (!cg->ok)
		return -ENOTSUP;
	r = cgroup_vm_dirname(name, dir, sizeof(dir));
	if (r < 0)
		return r;
	return join(buf, len, cg->path, dir);
}

/* key: the number in file, null for "max"; left out when unreadable */
static void stat_put(json_t *o, const char *key, int fd, const char *file)
{
	uint64_t v;

	if (cg_read_u64(fd, file, &v) < 0)
		return;
	json_object_set_new(o, key, v == UINT64_MAX ? json_null() : json_integer((json_int_t)v));
}

json_t *cgroup_vm_stats(const struct cgroup_base *cg, const char *name)
{
	char dir[CGROUP_PATH_MAX / 2], path[CGROUP_PATH_MAX + 64];
	json_t *o;
	int fd;

	if (!cg->ok || cgroup_vm_dirname(name, dir, sizeof(dir)) < 0 ||
	    cgroup_vm_path(cg, name, path, sizeof(path)) < 0)
		return NULL;
	fd = fs_opendir_at(cg->vms_fd, dir);
	if (fd < 0)
		return NULL;
	o = cgroup_stats_fd(fd, path);
	close(fd);
	return o;
}

json_t *cgroup_stats_fd(int fd, const char *path)
{
	char buf[512];
	uint64_t v;
	json_t *o = json_object();

	if (o) {
		json_object_set_new(o, "path", json_string(path));
		stat_put(o, "memory_current", fd, "memory.current");
		stat_put(o, "memory_peak", fd, "memory.peak");
		stat_put(o, "memory_max", fd, "memory.max");
		stat_put(o, "pids_current", fd, "pids.current");
		stat_put(o, "pids_max", fd, "pids.max");
		if (cg_read(fd, "memory.events", buf, sizeof(buf)) >= 0 &&
		    cgroup_parse_keyed(buf, "oom_kill", &v) == 0)
			json_object_set_new(o, "oom_kills", json_integer((json_int_t)v));
	}
	return o;
}

void cgroup_close(struct cgroup_base *cg)
{
	if (cg->vms_fd >= 0)
		close(cg->vms_fd);
	if (cg->root_fd >= 0)
		close(cg->root_fd);
	cg->vms_fd = cg->root_fd = -1;
	cg->ok = false;
}
