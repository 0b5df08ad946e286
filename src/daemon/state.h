/* SPDX-License-Identifier: MIT */
/*
 * VM definitions on disk: STATE_DIR/vms/NAME.json, written atomically
 * (temporary file, fsync, rename, fsync of the directory).  A file that
 * cannot be read back is set aside as NAME.json.corrupt-TIME and reported,
 * never fatal.
 */
#ifndef ARMVMD_STATE_H
#define ARMVMD_STATE_H

struct daemon;
struct vm_entry;

int state_init(struct daemon *d);
int state_save(struct vm_entry *e);
void state_forget(struct vm_entry *e);
/* Load every definition into the registry (state stopped). */
int state_load(struct daemon *d);

#endif
