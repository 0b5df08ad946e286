// SPDX-License-Identifier: MIT
/*
 * The D-Bus call that asks systemd for a worker's scope (scope.c), decoded
 * here by a reader written from the specification: header, fields, body
 * and every alignment.  (The call itself is checked against systemd in
 * tests/host/cases/systemd.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "daemon/scope.h"

struct rd {
	const unsigned char *b;
	size_t n, at;
};

static void align(struct rd *r, size_t a)
{
	while (r->at % a) {
		assert_true(r->at < r->n);
		assert_int_equal(r->b[r->at], 0);	/* padding is zero */
		r->at++;
	}
}

static uint32_t u32(struct rd *r)
{
	uint32_t v;

	align(r, 4);
	assert_true(r->at + 4 <= r->n);
	memcpy(&v, r->b + r->at, 4);
	r->at += 4;
	return v;
}

static uint64_t u64(struct rd *r)
{
	uint64_t v;

	align(r, 8);
	assert_true(r->at + 8 <= r->n);
	memcpy(&v, r->b + r->at, 8);
	r->at += 8;
	return v;
}

static const char *str(struct rd *r)
{
	uint32_t len = u32(r);
	const char *s = (const char *)r->b + r->at;

	assert_true(r->at + len + 1 <= r->n);
	assert_int_equal(s[len], '\0');
	r->at += len + 1;
	return s;
}

static const char *sig(struct rd *r)
{
	unsigned len;
	const char *s;

	assert_true(r->at < r->n);
	len = r->b[r->at++];
	s = (const char *)r->b + r->at;
	assert_int_equal(s[len], '\0');
	r->at += len + 1;
	return s;
}

static void test_request(void **state)
{
	unsigned char m[4096];
	ssize_t n = scope_request(4242, "armvm-web-1879048192.scope", "armvmd worker of VM web",
				  352u << 20, 5, 200, m, sizeof(m));
	struct rd r = { .b = m };
	uint32_t body_len, fields_len, len;
	size_t end, body_at;
	bool saw_sig = false, saw_member = false, pids = false, mem = false, tasks = false;

	assert_true(n > 16);
	r.n = (size_t)n;
	assert_int_equal(m[0], 'l');
	assert_int_equal(m[1], 1);		/* METHOD_CALL */
	assert_int_equal(m[3], 1);		/* version */
	r.at = 4;
	body_len = u32(&r);
	assert_int_equal(u32(&r), 1);		/* serial */
	fields_len = u32(&r);
	align(&r, 8);
	end = r.at + fields_len;
	while (r.at < end) {
		uint8_t code;
		const char *t;

		align(&r, 8);
		code = r.b[r.at++];
		t = sig(&r);
		if (code == 8) {
			assert_string_equal(t, "g");
			assert_string_equal(sig(&r), "ssa(sv)a(sa(sv))");
			saw_sig = true;
		} else {
			const char *v = str(&r);

			if (code == 3) {
				assert_string_equal(v, "StartTransientUnit");
				saw_member = true;
			}
		}
	}
	assert_int_equal(r.at, end);
	assert_true(saw_sig && saw_member);
	align(&r, 8);
	body_at = r.at;
	assert_int_equal(body_at + body_len, (size_t)n);

	assert_string_equal(str(&r), "armvm-web-1879048192.scope");
	assert_string_equal(str(&r), "fail");
	len = u32(&r);
	align(&r, 8);
	end = r.at + len;
	while (r.at < end) {
		const char *name, *t;

		align(&r, 8);
		name = str(&r);
		t = sig(&r);
		if (!strcmp(name, "PIDs")) {
			assert_string_equal(t, "au");
			assert_int_equal(u32(&r), 4);
			assert_int_equal(u32(&r), 4242);
			pids = true;
		} else if (!strcmp(t, "t")) {
			uint64_t v = u64(&r);

			if (!strcmp(name, "MemoryMax")) {
				assert_int_equal(v, 352u << 20);
				mem = true;
			} else if (!strcmp(name, "TasksMax")) {
				assert_int_equal(v, 5);
				tasks = true;
			}
		} else {
			assert_string_equal(t, "s");
			str(&r);
		}
	}
	assert_int_equal(r.at, end);
	assert_true(pids && mem && tasks);
	/* no auxiliary units: an empty array, padded to its elements */
	assert_int_equal(u32(&r), 0);
	align(&r, 8);
	assert_int_equal(r.at, (size_t)n);
}

static void test_names(void **state)
{
	char buf[64];

	assert_int_equal(scope_unit_name("web", 1879048192, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "armvm-web-1879048192.scope");
	assert_int_equal(scope_unit_name("a-very-long-name-that-does-not-fit", 1, buf, 20),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
