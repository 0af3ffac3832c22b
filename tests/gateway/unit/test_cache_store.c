/*
 * test_cache_store.c
 *		Unit tests of gateway/cache_store.c: values, their Redis encoding,
 *		the in-process store's budget and eviction, and single flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "cache_store.h"

/* A value holds copies of its strings and an ETag of their content */
static void
test_value(void **state)
{
	char		data[] = "[1,2]";
	struct cache_value *a = cache_value_new(7, 1000, 31000, 12, 200, data, "{\"limit\":2}", "exact");
	struct cache_value *b = cache_value_new(7, 1000, 31000, 12, 200, "[1,2]", "{\"limit\":2}", "exact");
	struct cache_value *c = cache_value_new(7, 1000, 31000, 12, 200, "[1,2]", NULL, NULL);
	struct cache_value *d = cache_value_new(7, 1000, 31000, 12, 200, "[1,", "2]", NULL);

	(void) state;
	data[1] = '9';
	assert_string_equal(a->data, "[1,2]");
	assert_string_equal(a->pagination, "{\"limit\":2}");
	assert_string_equal(a->count, "exact");
	assert_null(c->pagination);
	assert_null(c->count);
	assert_int_equal(strlen(a->etag), 18);
	assert_string_equal(a->etag, b->etag);
	assert_string_not_equal(a->etag, c->etag);
	assert_string_not_equal(c->etag, d->etag);
	cache_value_release(a);
	cache_value_release(b);
	cache_value_release(c);
	cache_value_release(d);
}

/* Encoding round-trips, NULL parts included; garbage does not decode */
static void
test_encoding(void **state)
{
	static const char *const bad[] = {
		"", "QRC1", "QRC1 1 2 3 4 200 5 -1 -1\n[1,2", "QRC2 1 2 3 4 200 5 -1 -1\n[1,2]",
		"QRC1 1 2 3 4 200 5 -1 -1 9\n[1,2]", "QRC1 1 2 3 4 200 -5 -1 -1\n[1,2]",
		"QRC1 1 2 3 4 200 5 -2 -1\n[1,2]", "QRC1 x 2 3 4 200 5 -1 -1\n[1,2]",
		"QRC1 0 0 0 0 200 2 9223372036854775807 9223372036854775807\n[]", NULL
	};
	struct cache_value *v = cache_value_new(42, 1700000000000, 1700000030000, 9, 200,
											"[{\"a\":\"x\\ny\"}]", "{}", NULL);
	struct cache_value *back;
	char	   *text;
	size_t		len;

	(void) state;
	assert_true(cache_value_encode(v, &text, &len));
	back = cache_value_decode(text, len);
	assert_non_null(back);
	assert_int_equal(back->gen, 42);
	assert_int_equal(back->stored_ms, 1700000000000);
	assert_int_equal(back->expiry_ms, 1700000030000);
	assert_int_equal(back->delta_ms, 9);
	assert_int_equal(back->status, 200);
	assert_string_equal(back->data, v->data);
	assert_string_equal(back->pagination, "{}");
	assert_null(back->count);
	assert_string_equal(back->etag, v->etag);
	assert_null(cache_value_decode(text, len - 1));
	free(text);
	for (int i = 0; bad[i] != NULL; i++)
		if (cache_value_decode(bad[i], strlen(bad[i])) != NULL)
			fail_msg("decoded \"%s\"", bad[i]);
	cache_value_release(back);
	cache_value_release(v);
}

/* The store keeps values within its budget, oldest evicted first */
static void
test_budget(void **state)
{
	struct cache_store *store = cache_store_new(16 * 4096);
	char		key[32];
	char		big[3000];
	struct cache_value *v;
	struct cache_value *got;

	(void) state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 500; i++)
	{
		snprintf(key, sizeof(key), "key %d", i);
		v = cache_value_new(i, 0, 0, 0, 200, big, NULL, NULL);
		cache_store_put(store, key, v);
		cache_value_release(v);
	}
	assert_true(cache_store_bytes(store) <= 16 * 4096);
	assert_true(cache_store_bytes(store) > 0);
	got = cache_store_get(store, "key 499");
	assert_non_null(got);
	assert_int_equal(got->gen, 499);
	cache_value_release(got);
	assert_null(cache_store_get(store, "key 0"));
	v = cache_value_new(1000, 0, 0, 0, 200, "[]", NULL, NULL);
	cache_store_put(store, "key 499", v);
	cache_value_release(v);
	got = cache_store_get(store, "key 499");
	assert_int_equal(got->gen, 1000);
	cache_store_free(store);
	assert_int_equal(got->gen, 1000);	/* a held value outlives the store */
	cache_value_release(got);
	store = cache_store_new(0);
	v = cache_value_new(1, 0, 0, 0, 200, "[]", NULL, NULL);
	cache_store_put(store, "k", v);
	assert_null(cache_store_get(store, "k"));
	cache_value_release(v);
	cache_store_free(store);
}

struct flight
{
	struct cache_store *store;
	int			computed;
	pthread_mutex_t lock;
};

/* One caller: compute when it may, else wait for the one who does */
static void *
flight_main(void *arg)
{
	struct flight *f = arg;
	struct cache_value *v;

	if ((v = cache_store_get(f->store, "hot")) != NULL)
	{
		cache_value_release(v);
		return NULL;
	}
	if (cache_store_begin(f->store, "hot"))
	{
		pthread_mutex_lock(&f->lock);
		f->computed++;
		pthread_mutex_unlock(&f->lock);
		v = cache_value_new(1, 0, 0, 0, 200, "[]", NULL, NULL);
		cache_store_put(f->store, "hot", v);
		cache_value_release(v);
		cache_store_end(f->store, "hot");
		return NULL;
	}
	cache_store_wait(f->store, "hot", 5000);
	v = cache_store_get(f->store, "hot");
	assert_non_null(v);
	cache_value_release(v);
	return NULL;
}

/* Of 32 threads asking at once, one computes; the others wait for its value */
static void
test_single_flight(void **state)
{
	struct flight f = {cache_store_new(1 << 20), 0, PTHREAD_MUTEX_INITIALIZER};
	pthread_t	threads[32];

	(void) state;
	for (int i = 0; i < 32; i++)
		pthread_create(&threads[i], NULL, flight_main, &f);
	for (int i = 0; i < 32; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(f.computed, 1);
	assert_true(cache_store_begin(f.store, "hot"));	/* free again */
	cache_store_end(f.store, "hot");
	assert_true(cache_store_begin(f.store, "cold"));
	assert_false(cache_store_begin(f.store, "cold"));
	cache_store_end(f.store, "cold");
	cache_store_wait(f.store, "cold", 10);	/* nothing computing: returns */
	cache_store_free(f.store);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_single_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
