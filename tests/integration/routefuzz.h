/*
 * Route fuzzer: every route of every worker binary (fluxori-GROUP --routes)
 * gets generated paths, query strings, headers, bodies and callers of every
 * role through nginx, against the whole stack with real resources behind
 * the ids. A finding is an answer (or a side effect) that breaks the
 * contract's promises for any input: a sanitizer report, a 5xx other than a
 * contract 503, a worker restart, an nginx upstream error, an error body
 * that is not the contract's JSON error (code and canonical status
 * agreeing), an error naming a field the contract does not have (an
 * internal name such as content_type) or an answer without X-Request-Id. Everything it generates
 * follows from the seed; every finding is printed with the seed and a curl
 * reproducer.
 */
#ifndef FX_TEST_ROUTEFUZZ_H
#define FX_TEST_ROUTEFUZZ_H

#include <stdint.h>

struct rf_options {
	uint64_t seed;
	long seconds; /* 0: one round (the brief make check mode) */
	int budget; /* requests per route and round */
	int jobs; /* client threads */
	const char *bin_dir; /* where fluxori-* are */
	const char *run_dir; /* the stack's RUN (state/, nginx-error.log) */
	const char *out_dir; /* reproducer files */
	int prod_storage; /* also fuzz an instance with production storage signing (fakegcs.h) */
	const char *openapi; /* the contract (docs/openapi.yaml): the field names an error may name */
};

struct rf_result {
	long routes;
	long requests;
	long findings; /* every finding */
	long distinct; /* distinct (route, kind) pairs */
	double seconds;
};

/* Fills o from FLUXORI_ROUTEFUZZ_* and the harness's environment. */
void rf_options_from_env(struct rf_options *o);

/* Runs the fuzzer; prints progress, findings and a summary on stderr. 0, or -1 when it could not start. */
int rf_run(const struct rf_options *o, struct rf_result *res);

#endif
