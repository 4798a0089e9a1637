/*
 * lib/lease against Google's Cloud Firestore emulator (this binary starts
 * it): one holder at a time; the holder that finds it taken learns until
 * when and by whom; only the holder releases; an expired lease is taken
 * over.
 */
#include "lease.h"

#include "emulator.h"
#include "firestore.h"
#include "fswrite.h"
#include "log.h"
#include "map.h"
#include "model.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PORT_ENV "FLUXORI_TEST_LEASE_FIRESTORE" /* host:port, set once the emulator answers */

const struct emu_fixture emu_fixture = {"lease", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;
static char rel[64];

static void setup(void)
{
	char id[FX_ID_LEN + 1];

	fx_log_init("test_lease", FX_LOG_ERROR + 1);
	emu_firestore_use(&emu, PORT_ENV);
	fx_model_id_new(id);
	snprintf(rel, sizeof(rel), "jobLeases/test-%s", id); /* a lease of its own per test */
}

TestSuite(lease, .init = setup, .timeout = 180);

static struct fx_lease of(const char *holder, int64_t seconds)
{
	return (struct fx_lease){.rel = rel, .holder = holder, .seconds = seconds};
}

Test(lease, a_second_holder_finds_it_taken_until_the_first_releases_it)
{
	struct fx_lease a = of("run-a", 600), b = of("run-b", 600);
	struct fx_err e;
	int64_t before, after;

	fx_err_clear(&e);
	before = (int64_t)time(NULL);
	cr_assert_eq(fx_lease_take(&a, &e), 0, "%s", e.message);
	after = (int64_t)time(NULL);
	cr_assert_not(a.busy, "the first holder takes it");
	cr_assert_eq(fx_lease_take(&b, &e), 0, "%s", e.message);
	cr_assert(b.busy, "the second finds it taken");
	cr_assert_str_eq(b.busy_holder, "run-a");
	/* 600 s from the moment it was taken, which lies between before and after. */
	cr_assert(b.busy_until >= before + 600 && b.busy_until <= after + 600,
		  "held until 600 s after it was taken: %lld s after the call began, %lld before it ended",
		  (long long)(b.busy_until - before), (long long)(after - b.busy_until));
	cr_assert_eq(fx_lease_release(&b, &e), 0, "%s", e.message);
	cr_assert_eq(fx_lease_take(&b, &e), 0, "%s", e.message);
	cr_assert(b.busy, "a release by another holder leaves the lease where it was");
	cr_assert_eq(fx_lease_release(&a, &e), 0, "%s", e.message);
	cr_assert_eq(fx_lease_take(&b, &e), 0, "%s", e.message);
	cr_assert_not(b.busy, "once its holder released it, the second takes it");
}

Test(lease, an_expired_lease_is_taken_over)
{
	struct fx_lease a = of("run-a", -5), b = of("run-b", 600);
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_lease_take(&a, &e), 0, "%s", e.message);
	cr_assert_not(a.busy);
	cr_assert_eq(fx_lease_take(&b, &e), 0, "%s", e.message);
	cr_assert_not(b.busy, "a lease past its expiresAt is anyone's");
	cr_assert_eq(fx_lease_release(&a, &e), 0, "%s", e.message);
	cr_assert_eq(fx_lease_take(&a, &e), 0, "%s", e.message);
	cr_assert(a.busy, "the old holder's late release did not free the new holder's lease");
	cr_assert_str_eq(a.busy_holder, "run-b");
}
