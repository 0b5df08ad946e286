// SPDX-License-Identifier: MIT
/*
 * The daemon's directories, checked at start, and the VM definitions in
 * STATE_DIR/vms: saved off the loop, in order per name, loaded through a
 * callback (see state.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/jobs.h"
#include "daemon/state.h"
#include "util/fs.h"

/* directories */

/* fd, an open directory, is fit for the daemon: fd, or -errno (closed)
 * after saying why */
static int check_opened(int fd, const char *path, const char *what)
{
	char why[PATH_MAX + 192];
	int r = fs_check_private_fd(fd, path, why, sizeof(why));

	if (r < 0) {
		log_error("refusing the %s directory: %s (it must be a directory of "
			  "root's that only root can write)", what, why);
		close(fd);
		return r;
	}
	return fd;
}

/* path (made with mode if missing), checked: a directory fd, or -errno
 * after saying why */
static int open_private(const char *path, mode_t mode, const char *what)
{
	char why[PATH_MAX + 128];
	int made = mkdir_p(path, mode);
	int fd, r;

	fd = fs_opendir_at(AT_FDCWD, path);
	if (fd < 0) {
		if (fd == -ENOENT && made < 0) {
			log_error("cannot create the %s directory %s: %s", what, path,
				  strerror(-made));
			return made;
		}
		r = fs_check_private_dir(path, why, sizeof(why));
		if (r == 0)
			r = fd;
		log_error("refusing the %s directory: %s", what, why);
		return r;
	}
	return check_opened(fd, path, what);
}

/* the same for name under the directory top (top_path names it) */
static int open_private_at(int top, const char *top_path, const char *name, mode_t mode,
			   const char *what)
{
	char path[PATH_MAX + 64];
	int fd = fs_mkdir_open_at(top, name, mode);

	snprintf(path, sizeof(path), "%s/%s", top_path, name);
	if (fd < 0) {
		log_error("refusing the %s directory %s: %s", what, path, strerror(-fd));
		return fd;
	}
	return check_opened(fd, path, what);
}

int runtime_init(struct daemon *d)
{
	int top, vms;

	d->runtime_dirfd = d->vms_dirfd = -1;
	top = open_private(d->runtime_dir, 0755, "runtime");
	if (top < 0)
		return top;
	vms = open_private_at(top, d->runtime_dir, "vms", 0755, "runtime");
	if (vms < 0) {
		close(top);
		return vms;
	}
	d->runtime_dirfd = top;
	d->vms_dirfd = vms;
	return 0;
}

void state_close(struct daemon *d)
{
	int *fds[] = { &d->state_dirfd, &d->runtime_dirfd, &d->vms_dirfd };

	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int state_init(struct daemon *d)
{
	int top, vms;

	d->state_dirfd = -1;
	top = open_private(d->state_dir, 0700, "state");
	if (top < 0)
		return top;
	vms = open_private_at(top, d->state_dir, "vms", 0700, "state");
	close(top);
	if (vms < 0)
		return vms;
	d->state_dirfd = vms;
	return 0;
}

/*
 * Saves and forgets.  Every one not finished is on one list, in the order
 * asked for; of those of one name only the first runs (a job), the others
 * wait for it: two saves of a name never share the temporary file, and a
 * forget is never undone by a save that finished after it.
 */
enum state_op_kind { STATE_OP_SAVE, STATE_OP_FORGET };

struct state_op {
	struct state_op *next;
	struct daemon *d;
	enum state_op_kind kind;
	bool started;
	int dirfd;			/* copies: the job touches no daemon */
	char name[64];
	char file[80];			/* NAME.json */
	char *text;
	size_t len;
	int err;
	void (*done)(void *arg, int err);
	void *arg;
};

static struct state_op *state_ops;

static bool name_busy(const struct daemon *d, const char *name)
{
	for (const struct state_op *op = state_ops; op; op = op->next)
		if (op->d == d && !strcmp(op->name, name))
			return true;
	return false;
}

static void op_unlink(struct state_op *op)
{
	for (struct state_op **pp = &state_ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			return;
		}
	}
}

static void op_append(struct state_op *op)
{
	struct state_op **pp = &state_ops;

	while (*pp)
		pp = &(*pp)->next;
	op->next = NULL;
	*pp = op;
}

static void op_free(struct state_op *op)
{
	free(op->text);
	free(op);
}

/* On a job thread. */
static void op_work(void *p)
{
	struct state_op *op = p;

	if (op->kind == STATE_OP_SAVE) {
		op->err = fs_write_atomic_at(op->dirfd, op->file, op->text, op->len, 0600);
		return;
	}
	op->err = unlinkat(op->dirfd, op->file, 0) < 0 ? -errno : 0;
	if (op->err == -ENOENT)
		op->err = 0;
	else if (!op->err && fsync(op->dirfd) < 0)
		op->err = -errno;
}

static void op_done(void *p);

static int op_start(struct state_op *op)
{
	op->started = true;
	return jobs_submit(op->d->jobs, op_work, op_done, op);
}

/* The op of d's name that ran is off the list: start the next one. */
static void start_next(struct daemon *d, const char *name)
{
	struct state_op *op;

	for (;;) {
		for (op = state_ops; op; op = op->next)
			if (op->d == d && !strcmp(op->name, name))
				break;
		if (!op || op->started || op_start(op) == 0)
			return;
		/* out of memory for the job: that one fails, the next may not */
		op_unlink(op);
		log_error("definition of %s: %s", op->name, strerror(ENOMEM));
		if (op->done)
			op->done(op->arg, -ENOMEM);
		op_free(op);
	}
}

/* On the loop. */
static void op_done(void *p)
{
	struct state_op *op = p;

	op_unlink(op);
	/* the next one of this name first: a save the callback asks for
	 * queues behind those asked for before it */
	start_next(op->d, op->name);
	if (op->err < 0)
		log_error("%s the definition of %s: %s",
			  op->kind == STATE_OP_SAVE ? "saving" : "removing", op->name,
			  strerror(-op->err));
	if (op->done)
		op->done(op->arg, op->err);
	op_free(op);
}

static struct state_op *op_new(struct daemon *d, enum state_op_kind kind, const char *name)
{
	struct state_op *op;

	if (!plan_name_valid(name) || strlen(name) >= sizeof(op->name))
		return NULL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->d = d;
	op->kind = kind;
	op->dirfd = d->state_dirfd;
	snprintf(op->name, sizeof(op->name), "%s", name);
	snprintf(op->file, sizeof(op->file), "%s.json", name);
	return op;
}

/* Queue op behind the others of its name, or start it.  0 or -ENOMEM
 * (then it is not queued). */
static int op_submit(struct state_op *op)
{
	bool busy = name_busy(op->d, op->name);

	op_append(op);
	if (!busy && op_start(op) < 0) {
		op_unlink(op);
		return -ENOMEM;
	}
	return 0;
}

/* the file's text, with a final newline */
static char *definition_text(const char *name, json_t *params, time_t created_at,
			     uid_t owner, size_t *len)
{
	json_t *j = json_pack("{s:i, s:s, s:O, s:I, s:I}", "version", STATE_VERSION,
			      "name", name, "params", params,
			      "created_at", (json_int_t)created_at,
			      "owner", (json_int_t)owner);
	char *text, *nl;
	size_t n;

	if (!j)
		return NULL;
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!text)
		return NULL;
	n = strlen(text);
	nl = realloc(text, n + 2);
	if (!nl) {
		free(text);
		return NULL;
	}
	nl[n] = '\n';
	nl[n + 1] = '\0';
	*len = n + 1;
	return nl;
}

int state_save(struct daemon *d, const char *name, json_t *params, time_t created_at,
	       uid_t owner, void (*done)(void *arg, int err), void *arg)
{
	struct state_op *op;

	if (!d->jobs || d->state_dirfd < 0)
		return -EBADF;
	if (!plan_name_valid(name) || !json_is_object(params))
		return -EINVAL;
	op = op_new(d, STATE_OP_SAVE, name);
	if (!op)
		return -ENOMEM;
	op->text = definition_text(name, params, created_at, owner, &op->len);
	if (!op->text) {
		op_free(op);
		return -ENOMEM;
	}
	op->done = done;
	op->arg = arg;
	if (op_submit(op) < 0) {
		op_free(op);
		return -ENOMEM;
	}
	return 0;
}

int state_forget(struct daemon *d, const char *name)
{
	struct state_op *op;
	char file[80];
	bool busy;
	int r;

	if (d->state_dirfd < 0)
		return -EBADF;
	if (!plan_name_valid(name) ||
	    snprintf(file, sizeof(file), "%s.json", name) >= (int)sizeof(file))
		return -EINVAL;
	busy = name_busy(d, name);
	r = unlinkat(d->state_dirfd, file, 0) < 0 ? -errno : 0;
	if (r == -ENOENT && busy)
		r = 0;		/* a save under way: removed after it */
	if (r < 0) {
		if (r != -ENOENT)
			log_error("removing the definition of %s: %s", name, strerror(-r));
		return r;
	}
	/*
	 * The directory's fsync off the loop, in the order of this name's
	 * saves: after one under way the file is removed again (a rename
	 * that lands after this unlink would bring it back).
	 */
	op = d->jobs ? op_new(d, STATE_OP_FORGET, name) : NULL;
	if (!op || op_submit(op) < 0) {
		free(op);
		if (busy)
			log_error("definition of %s: cannot queue its removal", name);
		if (fsync(d->state_dirfd) < 0) {
			r = -errno;
			log_error("removing the definition of %s: syncing the directory: %s",
				  name, strerror(-r));
		}
	}
	return r;
}

/* loading */

static void problem(struct daemon *d, const char *file, const char *why, bool set_aside)
{
	char shown[PATH_MAX + 320], to[300];
	json_t *o;

	snprintf(shown, sizeof(shown), "%s/vms/%s", d->state_dir, file);
	o = json_pack("{s:s, s:s}", "file", shown, "problem", why);
	if (!set_aside) {
		log_error("state file %s: %s", shown, why);
	} else {
		snprintf(to, sizeof(to), "%s.corrupt-%ld", file, (long)time(NULL));
		if (renameat(d->state_dirfd, file, d->state_dirfd, to) == 0) {
			log_error("state file %s: %s; set aside as %s", shown, why, to);
			snprintf(shown, sizeof(shown), "%s/vms/%s", d->state_dir, to);
			json_object_set_new(o, "moved_to", json_string(shown));
		} else {
			log_error("state file %s: %s (cannot set it aside: %s)", shown, why,
				  strerror(errno));
		}
	}
	if (o)
		json_array_append_new(d->state_problems, o);
}

static void load_one(struct daemon *d, const char *file,
		     void (*add)(struct daemon *, const char *, json_t *, time_t, uid_t))
{
	size_t n = strlen(file) - 5, len;
	json_t *j, *params, *owner;
	json_error_t jerr;
	const char *jname;
	char name[64], *text;
	int err;

	text = fs_read_at(d->state_dirfd, file, STATE_FILE_MAX, &len, &err);
	if (!text) {
		if (err == -ENOENT)
			return;		/* gone meanwhile */
		problem(d, file, err == -ELOOP ? "a symlink, not a file" :
			err == -EINVAL ? "not a regular file" :
			err == -EFBIG ? "too large for a definition" : strerror(-err),
			err == -ELOOP || err == -EINVAL || err == -EFBIG);
		return;
	}
	j = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!j) {
		problem(d, file, jerr.text, true);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1),
		 file);
	jname = json_string_value(json_object_get(j, "name"));
	params = json_object_get(j, "params");
	owner = json_object_get(j, "owner");
	if (json_integer_value(json_object_get(j, "version")) != STATE_VERSION ||
	    n >= sizeof(name) || !plan_name_valid(name) || !jname || strcmp(jname, name) ||
	    !json_is_object(params) ||
	    (owner && (!json_is_integer(owner) || json_integer_value(owner) < 0 ||
		       json_integer_value(owner) > (json_int_t)(uid_t)-1))) {
		problem(d, file, "not an armvmd VM definition (version, name, params or owner)",
			true);
		json_decref(j);
		return;
	}
	add(d, name, params, (time_t)json_integer_value(json_object_get(j, "created_at")),
	    owner ? (uid_t)json_integer_value(owner) : 0);
	json_decref(j);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && !strcmp(s + n - k, suffix);
}

int state_load(struct daemon *d,
	       void (*add)(struct daemon *d, const char *name, json_t *params,
			   time_t created_at, uid_t owner))
{
	struct dirent *de;
	DIR *dh;
	int fd;

	if (d->state_dirfd < 0)
		return -EBADF;
	fd = fcntl(d->state_dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	dh = fdopendir(fd);
	if (!dh) {
		close(fd);
		return -errno;
	}
	rewinddir(dh);
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.') {
			/* a temporary file of a write that never finished */
			if (ends_with(de->d_name, n, ".json.tmp")) {
				log_warn("removing half-written %s/vms/%s", d->state_dir,
					 de->d_name);
				unlinkat(d->state_dirfd, de->d_name, 0);
			}
			continue;
		}
		if (ends_with(de->d_name, n, ".json"))
			load_one(d, de->d_name, add);
	}
	closedir(dh);
	return 0;
}
