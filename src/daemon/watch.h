/* SPDX-License-Identifier: MIT */
/*
 * Watching a VM's worker from the supervisor's loop: a pidfd tells when it
 * ends (whether it is our child or one a previous daemon left running), an
 * event link carries its worker.event notifications, and a console link
 * turns its console into line events while someone subscribed to them.
 */
#ifndef ARMVMD_WATCH_H
#define ARMVMD_WATCH_H

#include <stdbool.h>

struct vm_entry;

/* Start watching e->pid.  -errno if the process is already gone. */
int watch_start(struct vm_entry *e);
void watch_stop(struct vm_entry *e);

/* Subscribe to the worker's events (after it is ready). */
int watch_link(struct vm_entry *e);
void watch_unlink(struct vm_entry *e);

/* Open or close the console link as subscriptions require. */
void watch_console_update(struct vm_entry *e);

#endif
