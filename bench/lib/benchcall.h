/*
 * benchcall: what the C bench clients (bench/channels.c, bench/webhooks.c)
 * share: one HTTP request through libcurl, a string field of a JSON
 * answer, and percentiles of sorted figures. Benches print figures and
 * exit on failure; nothing here prints. curl_global_init is the caller's.
 */
#ifndef FX_BENCH_BENCHCALL_H
#define FX_BENCH_BENCHCALL_H

#include <stddef.h>

/*
 * One request to url with headers (NULL-terminated lines, may be NULL) and
 * json as the body (NULL: none; a POST then sends an empty body), 300 s at
 * most, never through a proxy. The HTTP status (0 when no answer came);
 * the body (malloc'd, NUL-terminated, NULL when empty) into *out when out
 * is given.
 */
long bench_call_url(const char *method, const char *url, const char *json, char **out, const char *const *headers);

/* The string of the first "key":"..." of a JSON answer into out; -1 when absent or not fitting in len. */
int bench_field(const char *json, const char *key, char *out, size_t len);

/* qsort's comparison of longs, ascending. */
int bench_cmp_long(const void *a, const void *b);

/* The p-th percentile (0..100) of v[0..n), sorted ascending, n > 0. */
long bench_pct(const long *v, int n, int p);

#endif
