/*
 * The route fuzzer through nginx (routefuzz.h): every route of every worker
 * binary, generated requests of every kind and caller, against the whole
 * stack. In make check it runs one round with a small budget per route
 * (FLUXORI_ROUTEFUZZ_BUDGET); scripts/fuzz routes MINUTES runs it for as
 * long as asked against an ASan+UBSan build (FLUXORI_ROUTEFUZZ_SECONDS).
 */
#include "client.h"
#include "routefuzz.h"

#include <criterion/criterion.h>

Test(routes, every_route_answers_generated_requests_within_the_contract, .timeout = 0)
{
	struct rf_options o;
	struct rf_result res;

	rf_options_from_env(&o);
	cr_assert_eq(rf_run(&o, &res), 0, "the route fuzzer could not start (see above)");
	cr_assert_gt(res.routes, 0);
	cr_assert_gt(res.requests, res.routes, "every route got requests");
	cr_assert_eq(res.findings, 0,
		     "%ld findings (%ld distinct route/kind) in %ld requests, seed %llu: see the FINDING lines above "
		     "and %s/findings.log",
		     res.findings, res.distinct, res.requests, (unsigned long long)o.seed, o.out_dir);
}
