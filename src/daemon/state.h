/* SPDX-License-Identifier: MIT */
/*
 * The daemon's directories and the VM definitions on disk.
 *
 * Definitions live in STATE_DIR/vms/NAME.json, written off the loop (a
 * job) with fs_write_atomic_at: temporary file, fsync, rename, fsync of
 * the directory; a save that fails in any step changes nothing on disk
 * and its caller hears the error.  A file that cannot be read back is set
 * aside as NAME.json.corrupt-TIME and reported, never fatal.  This file
 * knows nothing of the registry: loading hands each definition to a
 * callback.
 *
 * Both directories are checked at start (fs_check_private_dir: a real
 * directory, root's, not writable by group or others) and kept open as
 * directory fds in struct daemon; everything below them is reached
 * through those fds without following symlinks.
 */
#ifndef ARMVMD_STATE_H
#define ARMVMD_STATE_H

#include <sys/types.h>
#include <time.h>

#include <jansson.h>

struct daemon;

/* The definition file's format version ("version"). */
#define STATE_VERSION		1
/* A definition larger than this is not one of ours. */
#define STATE_FILE_MAX		(4u << 20)

/*
 * RUNTIME_DIR (made 0755 if missing) and RUNTIME_DIR/vms: checked and
 * opened as d->runtime_dirfd and d->vms_dirfd.  0, or -errno after a log
 * line saying which directory and why ("refusing the runtime directory:
 * /run/armvmd is writable by others (mode 0777)"): the daemon must not
 * start.
 */
int runtime_init(struct daemon *d);

/* STATE_DIR (made 0700 if missing) and STATE_DIR/vms, the same way, the
 * latter opened as d->state_dirfd.  0, or -errno after a log line. */
int state_init(struct daemon *d);

/* Close the directory fds of runtime_init and state_init (shutdown). */
void state_close(struct daemon *d);

/*
 * Save a definition off the loop: the text is built now from (name,
 * params, created_at, owner uid), written with fs_write_atomic_at in a
 * job (d->jobs), and done(arg, 0 or -errno) runs on the loop.  Saves and
 * forgets of one name happen in the order they were asked for.  0, or
 * -errno at once (out of memory, no job runner), and then done is never
 * called.
 */
int state_save(struct daemon *d, const char *name, json_t *params, time_t created_at,
	       uid_t owner, void (*done)(void *arg, int err), void *arg);

/*
 * Remove NAME.json: unlinkat now, the fsync of the directory then off the
 * loop (a job; its failure is logged).  A save of that name still under
 * way would bring the file back: it is removed again after that.  0 or
 * -errno (-ENOENT when there is none and no save is under way).
 */
int state_forget(struct daemon *d, const char *name);

/*
 * Load every definition: for each valid one add(d, name, params,
 * created_at, owner) is called (params borrowed: incref to keep them; a
 * file without "owner" is root's).  Leftover temporaries are removed;
 * corrupt files are set aside and listed in d->state_problems.  0 or
 * -errno when the directory cannot be read.
 */
int state_load(struct daemon *d,
	       void (*add)(struct daemon *d, const char *name, json_t *params,
			   time_t created_at, uid_t owner));

#endif
