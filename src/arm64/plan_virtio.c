// SPDX-License-Identifier: MIT
/*
 * The virtio part of a plan: vm.create's disks, nets, hvc and rng
 * parameters checked and turned into the per-VM device table, one
 * virtio-mmio slot per device (disks first, so the first disk is the
 * guest's vda).  Pure but for fstat() of the disks' descriptors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm64/plan.h"
#include "libarmvm.h"

static int vfail(struct layout_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int vfail(struct layout_error *err, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->code = ARMVM_E_INVALID_PARAMS;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* a string, an object or a list of them, as a new list reference */
static json_t *as_list(json_t *v)
{
	if (!v || json_is_null(v))
		return json_array();
	if (json_is_array(v))
		return json_incref(v);
	return json_pack("[O]", v);
}

static bool serial_valid(const char *s)
{
	if (strlen(s) > VIRTIO_BLK_SERIAL_LEN)
		return false;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* "PATH[,ro][,serial=ID][,queues=N]" */
static int disk_from_string(const char *text, struct virtio_blk_conf *d,
			    char *why, size_t whylen)
{
	char buf[PATH_MAX + 128], *opt, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
		return snprintf(why, whylen, "too long"), -1;
	opt = strchr(buf, ',');
	if (opt)
		*opt++ = '\0';
	if (snprintf(d->path, sizeof(d->path), "%s", buf) >= (int)sizeof(d->path))
		return snprintf(why, whylen, "path too long"), -1;
	for (char *o = opt ? strtok_r(opt, ",", &save) : NULL; o;
	     o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "ro") || !strcmp(o, "readonly")) {
			d->readonly = true;
		} else if (!strcmp(o, "rw")) {
			d->readonly = false;
		} else if (!strncmp(o, "serial=", 7)) {
			snprintf(d->serial, sizeof(d->serial), "%.*s",
				 VIRTIO_BLK_SERIAL_LEN, o + 7);
			if (!serial_valid(o + 7))
				return snprintf(why, whylen, "serial must be at most %d "
						"printable ASCII characters",
						VIRTIO_BLK_SERIAL_LEN), -1;
		} else if (!strncmp(o, "queues=", 7)) {
			char *end;
			long q = strtol(o + 7, &end, 10);

			if (*end || end == o + 7 || q < 1 || q > VIRTIO_BLK_MAX_QUEUES)
				return snprintf(why, whylen, "queues must be 1 to %d",
						VIRTIO_BLK_MAX_QUEUES), -1;
			d->queues = (unsigned)q;
		} else {
			return snprintf(why, whylen, "unknown option '%s' (ro, serial=, "
					"queues=)", o), -1;
		}
	}
	return 0;
}

static int disk_from_object(json_t *o, struct virtio_blk_conf *d,
			    char *why, size_t whylen)
{
	json_t *path = json_object_get(o, "path"), *ro = json_object_get(o, "readonly");
	json_t *serial = json_object_get(o, "serial"), *queues = json_object_get(o, "queues");
	const char *key;
	json_t *v;

	json_t *fd = json_object_get(o, "fd");

	json_object_foreach(o, key, v)
		if (strcmp(key, "path") && strcmp(key, "readonly") &&
		    strcmp(key, "serial") && strcmp(key, "queues") && strcmp(key, "fd"))
			return snprintf(why, whylen, "unknown key '%s' (path, fd, "
					"readonly, serial, queues)", key), -1;
	if (fd && (!json_is_integer(fd) || json_integer_value(fd) < 0 ||
		   json_integer_value(fd) > 1024))
		return snprintf(why, whylen, "fd must be the index of a descriptor "
				"passed with the request"), -1;
	if (fd && !path)
		snprintf(d->path, sizeof(d->path), "descriptor %d",
			 (int)json_integer_value(fd));
	else if (!json_is_string(path) ||
		 snprintf(d->path, sizeof(d->path), "%s", json_string_value(path)) >=
		 (int)sizeof(d->path))
		return snprintf(why, whylen, "path must be a string (a file name)"), -1;
	if (ro && !json_is_boolean(ro))
		return snprintf(why, whylen, "readonly must be true or false"), -1;
	d->readonly = json_is_true(ro);
	if (serial) {
		if (!json_is_string(serial) || !serial_valid(json_string_value(serial)))
			return snprintf(why, whylen, "serial must be at most %d "
					"printable ASCII characters",
					VIRTIO_BLK_SERIAL_LEN), -1;
		snprintf(d->serial, sizeof(d->serial), "%s", json_string_value(serial));
	}
	if (queues) {
		json_int_t q = json_integer_value(queues);

		if (!json_is_integer(queues) || q < 1 || q > VIRTIO_BLK_MAX_QUEUES)
			return snprintf(why, whylen, "queues must be 1 to %d",
					VIRTIO_BLK_MAX_QUEUES), -1;
		d->queues = (unsigned)q;
	}
	return 0;
}

int plan_disk_param(json_t *v, struct virtio_blk_conf *d, int *fd_index,
		    char *why, size_t whylen)
{
	int r = -1;

	memset(d, 0, sizeof(*d));
	d->queues = 1;
	d->fd = -1;
	*fd_index = -1;
	if (json_is_string(v))
		r = disk_from_string(json_string_value(v), d, why, whylen);
	else if (json_is_object(v))
		r = disk_from_object(v, d, why, whylen);
	else
		snprintf(why, whylen, "a disk is \"PATH[,ro]\" or "
			 "{\"path\":..., \"readonly\":...}");
	if (r == 0 && !d->path[0]) {
		snprintf(why, whylen, "no path");
		r = -1;
	}
	if (r == 0 && json_is_integer(json_object_get(v, "fd")))
		*fd_index = (int)json_integer_value(json_object_get(v, "fd"));
	return r;
}

json_t *plan_list_param(json_t *v)
{
	return as_list(v);
}

static int plan_disks(json_t *spec, struct vm_plan *plan, struct layout_error *err)
{
	json_t *list = as_list(json_object_get(spec, "disks"));
	dev_t devs[VIRTIO_MAX_DISKS];
	ino_t inos[VIRTIO_MAX_DISKS];
	char why[PATH_MAX + 64];
	size_t i;
	json_t *v;

	if (json_array_size(list) > VIRTIO_MAX_DISKS) {
		json_decref(list);
		return vfail(err, "at most %d disks", VIRTIO_MAX_DISKS);
	}
	json_array_foreach(list, i, v) {
		struct virtio_blk_conf *d = &plan->disks[i];
		struct stat st;
		const char *base;
		int r, fd_index;

		why[0] = '\0';
		r = plan_disk_param(v, d, &fd_index, why, sizeof(why));
		if (r == 0) {
			struct layout_error ferr;

			d->fd = plan_fd(plan, &plan->files.disks[i], d->path,
					d->readonly ? O_RDONLY : O_RDWR, &ferr, "disk");
			if (d->fd < 0) {
				snprintf(why, sizeof(why), "%s%s", ferr.message + 5,
					 d->readonly ? "" : " (\",ro\" makes it a read-only disk)");
				r = -1;
			}
		}
		if (r == 0 && fstat(d->fd, &st) < 0) {
			snprintf(why, sizeof(why), "%s: %s", d->path, strerror(errno));
			r = -1;
		} else if (r == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			snprintf(why, sizeof(why), "%s: not a regular file or block device",
				 d->path);
			r = -1;
		}
		for (size_t j = 0; r == 0 && j < i; j++) {
			if (devs[j] == st.st_dev && inos[j] == st.st_ino &&
			    !(d->readonly && plan->disks[j].readonly)) {
				snprintf(why, sizeof(why), "%s is disk %zu too (only "
					 "read-only disks may be shared)", d->path, j);
				r = -1;
			}
		}
		if (r < 0) {
			json_decref(list);
			return vfail(err, "disk %zu: %s", i, why);
		}
		devs[i] = st.st_dev;
		inos[i] = st.st_ino;
		if (!d->serial[0]) {
			base = strrchr(d->path, '/');
			snprintf(d->serial, sizeof(d->serial), "%.*s",
				 VIRTIO_BLK_SERIAL_LEN, base ? base + 1 : d->path);
			for (char *c = d->serial; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					*c = '_';
		}
		plan->ndisks++;
	}
	json_decref(list);
	return 0;
}

static bool tap_name_valid(const char *s)
{
	if (strlen(s) > VIRTIO_TAP_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.' || *s == '%'))
			return false;
	return true;
}

int plan_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char sep[5], end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &v[0], &sep[0], &v[1], &sep[1],
		   &v[2], &sep[2], &v[3], &sep[3], &v[4], &sep[4], &v[5], &end) != 11)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (sep[i] != ':' && sep[i] != '-')
			return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1)
		return -EINVAL;		/* multicast */
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* a stable, locally administered unicast address for VM name, interface i */
static void default_mac(const char *name, unsigned i, uint8_t mac[6])
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ i) * 16777619u;
	mac[0] = 0x02;			/* locally administered, unicast */
	mac[1] = 0x41;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

/* "tap=NAME[,mac=MAC]"; "" or "tap": a TAP the kernel names */
static int net_from_string(const char *text, struct virtio_net_conf *n,
			   bool *mac_given, char *why, size_t whylen)
{
	char buf[256], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
		return snprintf(why, whylen, "too long"), -1;
	for (char *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "tap")) {
			n->tap[0] = '\0';
		} else if (!strncmp(o, "tap=", 4)) {
			if (!tap_name_valid(o + 4))
				return snprintf(why, whylen, "tap: an interface name of at "
						"most %d of [A-Za-z0-9_.-]",
						VIRTIO_TAP_NAME_MAX), -1;
			snprintf(n->tap, sizeof(n->tap), "%s", o + 4);
		} else if (!strncmp(o, "mac=", 4)) {
			if (plan_parse_mac(o + 4, n->mac) < 0)
				return snprintf(why, whylen, "mac: '%s' is not a unicast "
						"address like 02:00:00:00:00:01", o + 4), -1;
			*mac_given = true;
		} else {
			return snprintf(why, whylen, "unknown option '%s' (tap=, mac=)", o), -1;
		}
	}
	return 0;
}

static int net_from_object(json_t *o, struct virtio_net_conf *n, bool *mac_given,
			   char *why, size_t whylen)
{
	json_t *tap = json_object_get(o, "tap"), *mac = json_object_get(o, "mac");
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
		if (strcmp(key, "tap") && strcmp(key, "mac"))
			return snprintf(why, whylen, "unknown key '%s' (tap, mac)", key), -1;
	if (tap && (!json_is_string(tap) || !tap_name_valid(json_string_value(tap))))
		return snprintf(why, whylen, "tap: an interface name of at most %d of "
				"[A-Za-z0-9_.-]", VIRTIO_TAP_NAME_MAX), -1;
	if (tap)
		snprintf(n->tap, sizeof(n->tap), "%s", json_string_value(tap));
	if (mac) {
		if (!json_is_string(mac) || plan_parse_mac(json_string_value(mac), n->mac) < 0)
			return snprintf(why, whylen, "mac: not a unicast address like "
					"02:00:00:00:00:01"), -1;
		*mac_given = true;
	}
	return 0;
}

int plan_net_param(json_t *v, struct virtio_net_conf *n, bool *mac_given,
		   char *why, size_t whylen)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	*mac_given = false;
	if (json_is_string(v))
		return net_from_string(json_string_value(v), n, mac_given, why, whylen);
	if (json_is_object(v))
		return net_from_object(v, n, mac_given, why, whylen);
	snprintf(why, whylen, "a network interface is "
		 "\"tap=NAME[,mac=MAC]\" or {\"tap\":..., \"mac\":...}");
	return -1;
}

static int plan_nets(json_t *spec, struct vm_plan *plan, struct layout_error *err)
{
	json_t *list = as_list(json_object_get(spec, "nets"));
	char why[256];
	size_t i;
	json_t *v;

	if (json_array_size(list) > VIRTIO_MAX_NETS) {
		json_decref(list);
		return vfail(err, "at most %d network interfaces", VIRTIO_MAX_NETS);
	}
	json_array_foreach(list, i, v) {
		struct virtio_net_conf *n = &plan->nets[i];
		bool mac_given = false;
		int r = -1;

		r = plan_net_param(v, n, &mac_given, why, sizeof(why));
		n->fd = plan->files.nets[i];
		for (size_t j = 0; r == 0 && j < i; j++) {
			if (n->tap[0] && !strcmp(n->tap, plan->nets[j].tap)) {
				snprintf(why, sizeof(why), "TAP %s is interface %zu too",
					 n->tap, j);
				r = -1;
			}
			if (mac_given && !memcmp(n->mac, plan->nets[j].mac, 6)) {
				snprintf(why, sizeof(why), "the MAC address of interface %zu",
					 j);
				r = -1;
			}
		}
		if (r < 0) {
			json_decref(list);
			return vfail(err, "net %zu: %s", i, why);
		}
		if (!mac_given)
			default_mac(plan->name, (unsigned)i, n->mac);
		plan->nnets++;
	}
	json_decref(list);
	return 0;
}

static void add_slot(struct vm_plan *plan, enum virtio_kind kind, unsigned index)
{
	plan->virtio[plan->nvirtio++] = (struct virtio_slot_conf){ kind, index };
}

int plan_virtio(json_t *spec, struct vm_plan *plan, struct layout_error *err)
{
	json_t *hvc = json_object_get(spec, "hvc"), *rng = json_object_get(spec, "rng");

	plan->ndisks = plan->nnets = plan->nvirtio = 0;
	if ((hvc && !json_is_boolean(hvc)) || (rng && !json_is_boolean(rng)))
		return vfail(err, "hvc and rng are true or false");
	if (plan_disks(spec, plan, err) < 0 || plan_nets(spec, plan, err) < 0)
		return -1;
	plan->hvc = json_is_true(hvc);
	plan->rng = json_is_true(rng);
	if (plan->ndisks + plan->nnets + plan->hvc + plan->rng > LAYOUT_VIRTIO_SLOTS)
		return vfail(err, "%u virtio devices: at most %d",
			     plan->ndisks + plan->nnets + plan->hvc + plan->rng,
			     LAYOUT_VIRTIO_SLOTS);
	for (unsigned i = 0; i < plan->ndisks; i++)
		add_slot(plan, VIRTIO_KIND_BLK, i);
	for (unsigned i = 0; i < plan->nnets; i++)
		add_slot(plan, VIRTIO_KIND_NET, i);
	if (plan->hvc)
		add_slot(plan, VIRTIO_KIND_CONSOLE, 0);
	if (plan->rng)
		add_slot(plan, VIRTIO_KIND_RNG, 0);
	return 0;
}

static json_t *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_string(buf);
}

json_t *plan_virtio_json(const struct vm_plan *p, unsigned slot)
{
	const struct virtio_slot_conf *s = &p->virtio[slot];
	uint64_t base = LAYOUT_VIRTIO_BASE + slot * LAYOUT_VIRTIO_STRIDE;
	static const char *const names[] = {
		[VIRTIO_KIND_BLK] = "virtio-blk", [VIRTIO_KIND_NET] = "virtio-net",
		[VIRTIO_KIND_CONSOLE] = "virtio-console", [VIRTIO_KIND_RNG] = "virtio-rng",
	};
	json_t *o = json_pack("{s:s, s:o, s:I, s:o, s:i, s:i}", "name", names[s->kind],
			      "base", hex(base), "size", (json_int_t)LAYOUT_VIRTIO_STRIDE,
			      "end", hex(base + LAYOUT_VIRTIO_STRIDE - 1), "slot", (int)slot,
			      "spi", LAYOUT_IRQ_VIRTIO + (int)slot);

	if (s->kind == VIRTIO_KIND_BLK) {
		const struct virtio_blk_conf *d = &p->disks[s->index];

		json_object_set_new(o, "path", json_string(d->path));
		json_object_set_new(o, "readonly", json_boolean(d->readonly));
		json_object_set_new(o, "serial", json_string(d->serial));
		json_object_set_new(o, "queues", json_integer(d->queues));
	} else if (s->kind == VIRTIO_KIND_NET) {
		const struct virtio_net_conf *n = &p->nets[s->index];
		char mac[24];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
			 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_object_set_new(o, "tap", json_string(n->tap));
		json_object_set_new(o, "mac", json_string(mac));
	}
	return o;
}
