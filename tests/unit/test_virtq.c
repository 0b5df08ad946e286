// SPDX-License-Identifier: MIT
/*
 * Virtqueue walking on a fake guest memory: good chains, indirect tables,
 * loops, buffers out of range, chains too long, and random tables that
 * must never yield a buffer outside guest RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"

#define RAM_BASE	0x80000000ULL
#define RAM_SIZE	(1u << 20)
#define QSIZE		8
#define DESC_GPA	(RAM_BASE + 0x1000)
#define AVAIL_GPA	(RAM_BASE + 0x2000)
#define USED_GPA	(RAM_BASE + 0x3000)
#define TABLE_GPA	(RAM_BASE + 0x4000)	/* indirect tables */
#define DATA_GPA	(RAM_BASE + 0x10000)

static uint8_t *ram;
static unsigned maps;

static void *fake_map(void *opaque, uint64_t gpa, uint64_t len)
{
	maps++;
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static const struct virtq_mem mem = { .map = fake_map };

static void *at(uint64_t gpa)
{
	return ram + (gpa - RAM_BASE);
}

static struct vring_desc *desc(unsigned i)
{
	return (struct vring_desc *)at(DESC_GPA) + i;
}

static struct vring_desc *table(unsigned i)
{
	return (struct vring_desc *)at(TABLE_GPA) + i;
}

static void set(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static struct vring_avail *avail(void)
{
	return at(AVAIL_GPA);
}

static struct vring_used *used(void)
{
	return at(USED_GPA);
}

/* the driver makes head available */
static void offer(uint16_t head)
{
	struct vring_avail *a = avail();

	a->ring[a->idx % QSIZE] = head;
	a->idx++;
}

static void start(struct virtq *q, bool event_idx, bool indirect)
{
	memset(ram, 0, RAM_SIZE);
	memset(q, 0, sizeof(*q));
	q->num = QSIZE;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	assert_int_equal(virtq_start(q, &mem, 256, event_idx, indirect), 0);
}

static int setup(void **state)
{
	ram = calloc(1, RAM_SIZE);
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	free(ram);
	return 0;
}

static struct virtq q;
static struct virtq_chain c;

static void test_good_chain(void **state)
{
	start(&q, false, false);
	/* a block request: header, two data buffers, status */
	set(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 3);
	set(desc(3), DATA_GPA + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	set(desc(5), DATA_GPA + 0x400, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 7);
	set(desc(7), DATA_GPA + 0x800, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(virtq_pop(&q, &c), 0);		/* empty */
	offer(0);
	assert_true(virtq_has_work(&q));
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 3);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 1025);
	assert_ptr_equal(c.iov[0].iov_base, at(DATA_GPA));
	assert_ptr_equal(c.iov[3].iov_base, at(DATA_GPA + 0x800));
	assert_int_equal(virtq_pop(&q, &c), 0);
	virtq_push(&q, c.head, 1025);
	assert_int_equal(used()->idx, 1);
	assert_int_equal(used()->ring[0].id, 0);
	assert_int_equal(used()->ring[0].len, 1025);
	assert_true(virtq_should_notify(&q));
	assert_false(virtq_should_notify(&q));	/* nothing new since */
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	virtq_push(&q, c.head, 0);
	assert_false(virtq_should_notify(&q));
	assert_int_equal(q.chains, 2);
}

static void test_zero_length_and_wrap(void **state)
{
	start(&q, false, false);
	set(desc(1), DATA_GPA, 0, VRING_DESC_F_NEXT, 2);	/* skipped */
	set(desc(2), DATA_GPA, 64, 0, 0);
	/* the 16-bit indices wrap around */
	avail()->idx = 65534;
	q.last_avail = 65534;
	q.used_idx = 65534;
	for (int i = 0; i < 4; i++) {
		offer(1);
		assert_int_equal(virtq_pop(&q, &c), 1);
		assert_int_equal(c.nout, 1);
		assert_int_equal(c.out_len, 64);
		virtq_push(&q, c.head, 0);
	}
	assert_int_equal(used()->idx, 2);
}

static void test_indirect(void **state)
{
	start(&q, false, true);
	set(table(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set(table(1), DATA_GPA + 0x100, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set(table(2), DATA_GPA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	/* a direct buffer first, then the table */
	set(desc(4), DATA_GPA + 0x3000, 8, VRING_DESC_F_NEXT, 6);
	set(desc(6), TABLE_GPA, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	offer(4);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.head, 4);
	assert_int_equal(c.nout, 2);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 24);
	assert_int_equal(c.in_len, 4097);
}

/* one chain at head 0 must fail with err and take nothing */
static void expect_fail(int err, const char *why)
{
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), err);
	assert_non_null(strstr(q.error, why));
	assert_int_equal(q.last_avail, 0);
}

static void test_indirect_rules(void **state)
{
	start(&q, false, false);
	set(desc(0), TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	expect_fail(-EINVAL, "not negotiated");

	start(&q, false, true);
	set(desc(0), TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	expect_fail(-EINVAL, "NEXT");

	start(&q, false, true);
	set(desc(0), TABLE_GPA, 20, VRING_DESC_F_INDIRECT, 0);
	expect_fail(-EINVAL, "indirect table of 20 bytes");

	start(&q, false, true);
	set(desc(0), TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	expect_fail(-EINVAL, "indirect table of 0 bytes");

	start(&q, false, true);	/* a table inside a table */
	set(desc(0), TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	set(table(0), TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	expect_fail(-EINVAL, "inside an indirect table");

	start(&q, false, true);	/* a table outside RAM */
	set(desc(0), RAM_BASE + RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	expect_fail(-EFAULT, "not guest RAM");

	start(&q, false, true);	/* more entries than a chain may have */
	set(desc(0), TABLE_GPA, (VIRTQ_MAX_SEGS + 1) * sizeof(struct vring_desc),
	    VRING_DESC_F_INDIRECT, 0);
	expect_fail(-E2BIG, "entries");
}

static void test_loops(void **state)
{
	start(&q, false, false);
	set(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set(desc(1), DATA_GPA, 16, VRING_DESC_F_NEXT, 0);
	expect_fail(-ELOOP, "loop");

	start(&q, false, false);	/* a descriptor pointing at itself */
	set(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 0);
	expect_fail(-ELOOP, "loop");

	start(&q, false, true);		/* a loop inside an indirect table */
	set(desc(0), TABLE_GPA, 2 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	set(table(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set(table(1), DATA_GPA, 16, VRING_DESC_F_NEXT, 0);
	expect_fail(-ELOOP, "loop");

	/* a chain as long as its table is fine */
	start(&q, false, false);
	for (unsigned i = 0; i < QSIZE; i++)
		set(desc(i), DATA_GPA + 64 * i, 64,
		    i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, QSIZE);
}

static void test_out_of_range(void **state)
{
	start(&q, false, false);
	set(desc(0), RAM_BASE + RAM_SIZE, 1, 0, 0);		/* just past RAM */
	expect_fail(-EFAULT, "not guest RAM");

	start(&q, false, false);
	set(desc(0), RAM_BASE + RAM_SIZE - 8, 16, 0, 0);	/* straddles the end */
	expect_fail(-EFAULT, "not guest RAM");

	start(&q, false, false);
	set(desc(0), 0xfffffffffffff000ULL, 0x2000, 0, 0);	/* wraps around */
	expect_fail(-EFAULT, "not guest RAM");

	start(&q, false, false);
	set(desc(0), 0x1000, 16, 0, 0);				/* below RAM */
	expect_fail(-EFAULT, "not guest RAM");

	start(&q, false, false);
	set(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT, QSIZE);	/* next beyond */
	expect_fail(-EINVAL, "beyond");

	start(&q, false, false);
	avail()->ring[0] = QSIZE;				/* head beyond */
	avail()->idx = 1;
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	assert_non_null(strstr(q.error, "head"));

	start(&q, false, false);
	avail()->idx = QSIZE + 1;				/* index jumped */
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	assert_non_null(strstr(q.error, "moved"));

	start(&q, false, false);		/* readable after writable */
	set(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set(desc(1), DATA_GPA, 16, 0, 0);
	expect_fail(-EINVAL, "readable");
}

static void test_too_long(void **state)
{
	unsigned n = VIRTQ_MAX_SEGS;

	/* a full table of buffers is fine, one more buffer is not */
	start(&q, false, true);
	set(desc(0), TABLE_GPA, n * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < n; i++)
		set(table(i), DATA_GPA, 1, i + 1 < n ? VRING_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, n);

	start(&q, false, true);
	set(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	set(desc(1), TABLE_GPA, n * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < n; i++)
		set(table(i), DATA_GPA, 1, i + 1 < n ? VRING_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	expect_fail(-E2BIG, "more than");
}

static void test_start_checks(void **state)
{
	struct virtq v;

	memset(&v, 0, sizeof(v));
	v.num = 6;					/* not a power of two */
	v.desc_gpa = DESC_GPA, v.avail_gpa = AVAIL_GPA, v.used_gpa = USED_GPA;
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), -EINVAL);
	assert_false(v.ready);
	v.num = 512;					/* above the maximum */
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), -EINVAL);
	v.num = 0;
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), -EINVAL);
	v.num = 8;
	v.desc_gpa = DESC_GPA + 8;			/* misaligned */
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), -EINVAL);
	v.desc_gpa = DESC_GPA;
	v.used_gpa = RAM_BASE + RAM_SIZE - 8;		/* partly outside */
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), -EFAULT);
	assert_non_null(strstr(v.error, "device ring"));
	v.used_gpa = USED_GPA;
	assert_int_equal(virtq_start(&v, &mem, 256, false, false), 0);
	assert_true(v.ready);
	virtq_reset(&v);
	assert_false(v.ready);
	assert_int_equal(virtq_pop(&v, &c), 0);		/* not ready: nothing */
}

static void test_event_idx(void **state)
{
	uint16_t *used_event, *avail_event;

	start(&q, true, false);
	used_event = (uint16_t *)&avail()->ring[QSIZE];
	avail_event = (uint16_t *)&used()->ring[QSIZE];
	set(desc(0), DATA_GPA, 16, 0, 0);
	/* empty: we ask to be kicked at the next entry */
	assert_int_equal(virtq_pop(&q, &c), 0);
	assert_int_equal(*avail_event, 0);
	offer(0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(virtq_pop(&q, &c), 0);
	assert_int_equal(*avail_event, 2);
	assert_int_equal(used()->flags, 0);	/* flags are not used with event idx */
	/* the driver wants an interrupt once used->idx passes 1 */
	*used_event = 1;
	virtq_push(&q, 0, 0);			/* idx 1: not past 1 yet */
	assert_false(virtq_should_notify(&q));
	virtq_push(&q, 0, 0);			/* idx 2 */
	assert_true(virtq_should_notify(&q));
	/* unpop gives chains back, kick_on_next asks for the next entry */
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	virtq_unpop(&q, 1);
	assert_int_equal(q.last_avail, 2);
	assert_false(virtq_kick_on_next(&q));
	assert_int_equal(*avail_event, 3);
	assert_int_equal(virtq_pop(&q, &c), 1);
}

static void test_kick_suppression(void **state)
{
	start(&q, false, false);
	set(desc(0), DATA_GPA, 16, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	/* busy: the driver need not kick */
	assert_int_equal(used()->flags, VRING_USED_F_NO_NOTIFY);
	assert_int_equal(virtq_pop(&q, &c), 0);
	assert_int_equal(used()->flags, 0);
}

static void test_iov_helpers(void **state)
{
	uint8_t a[5], b[3], c2[8], out[8];
	struct iovec iov[3] = { { a, 5 }, { b, 3 }, { c2, 8 } }, dst[3];
	size_t got;
	unsigned n;

	assert_int_equal(iov_from_buf(iov, 3, 3, "ABCDEFGHIJ", 10), 10);
	assert_memory_equal(a + 3, "AB", 2);
	assert_memory_equal(b, "CDE", 3);
	assert_memory_equal(c2, "FGHIJ", 5);
	assert_int_equal(iov_to_buf(iov, 3, 4, out, 8), 8);
	assert_memory_equal(out, "BCDEFGHI", 8);
	assert_int_equal(iov_to_buf(iov, 3, 15, out, 8), 1);
	assert_int_equal(iov_to_buf(iov, 3, 16, out, 8), 0);
	n = iov_slice(iov, 3, 4, 5, dst, 3, &got);
	assert_int_equal(n, 3);
	assert_int_equal(got, 5);
	assert_ptr_equal(dst[0].iov_base, a + 4);
	assert_int_equal(dst[0].iov_len, 1);
	assert_int_equal(dst[1].iov_len, 3);
	assert_int_equal(dst[2].iov_len, 1);
	n = iov_slice(iov, 3, 0, 100, dst, 2, &got);	/* capped by max */
	assert_int_equal(n, 2);
	assert_int_equal(got, 8);
}

/* random tables: every buffer a chain yields lies inside guest RAM */
static void test_random_tables(void **state)
{
	unsigned ok = 0, bad = 0;

	srand(12345);
	for (int round = 0; round < 2000; round++) {
		start(&q, round & 1, round & 2);
		for (unsigned i = 0; i < QSIZE; i++) {
			uint64_t addr = rand() % 4 ? DATA_GPA + (uint64_t)(rand() % 0x1000)
				      : ((uint64_t)rand() << 33) ^ (uint64_t)rand();
			uint16_t flags = (uint16_t)(rand() & 7);

			if (flags & VRING_DESC_F_INDIRECT && rand() % 2)
				addr = TABLE_GPA;
			set(desc(i), addr, (uint32_t)(rand() % 3 ? rand() % 0x2000 : rand()),
			    flags, (uint16_t)(rand() % (QSIZE + 2)));
			set(table(i), addr, (uint32_t)(rand() % 0x800), flags,
			    (uint16_t)(rand() % (QSIZE + 2)));
		}
		for (int k = 0; k < 4; k++) {
			int r;

			offer((uint16_t)(rand() % (QSIZE + 1)));
			r = virtq_pop(&q, &c);
			if (r < 0) {
				bad++;
				assert_true(q.error[0] != '\0');
				break;
			}
			assert_int_equal(r, 1);
			ok++;
			for (unsigned i = 0; i < c.nout + c.nin; i++) {
				uint8_t *p = c.iov[i].iov_base;

				assert_true(p >= ram && p + c.iov[i].iov_len <= ram + RAM_SIZE);
			}
			virtq_push(&q, c.head, 0);
		}
	}
	assert_true(ok > 0);
	assert_true(bad > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_zero_length_and_wrap),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_indirect_rules),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_start_checks),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_kick_suppression),
		cmocka_unit_test(test_iov_helpers),
		cmocka_unit_test(test_random_tables),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
