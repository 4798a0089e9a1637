/*
 * Not a test of its own (not a TESTS entry): the cases that
 * tests/integration/test_instance runs one at a time, each in a run
 * directory of its own (FLUXORI_TEST_RUN), and after which it looks for
 * survivors. Every case here ends badly on purpose, the way a real test can:
 * instance_start failing in a suite's setup, an assertion in setup after the
 * instance is up (Criterion then never runs .fini), a crash (also after a
 * fluxorictl restart run from the test process and a SIGKILL of the
 * entrypoint), a Criterion timeout (the test process is killed), and SIGINT
 * to the whole run (sent by test_instance). A case that got its instance up writes
 * $FLUXORI_TEST_RUN/up (the instance's run directory) first, so the caller
 * knows there was something to leave behind.
 */
#include "client.h"
#include "instance.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct instance api;

static void mark_up(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/up", getenv("FLUXORI_TEST_RUN"));
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fprintf(f, "%s\n", api.run);
	fclose(f);
}

static void start(void)
{
	instance_start(&api, NULL);
	mark_up();
}

static void stop(void)
{
	instance_stop(&api);
}

/* Every worker refuses this configuration (FLUXORI_WORKER_THREADS is 1..256). */
static void start_refused_by_every_worker(void)
{
	instance_start(&api, "FLUXORI_WORKER_THREADS=0\n");
	mark_up();
}

/*
 * Only the users group's workers refuse to start (they exit 78, as on a
 * configuration they reject), after the other groups' workers started: a
 * wrapper (fluxorictl's FLUXORI_WORKER_WRAPPER) notes each worker it runs.
 */
static void start_refused_by_one_group(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/refuse-users", getenv("FLUXORI_TEST_RUN"));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"#!/bin/sh\necho \"$1\" >>'%s.ran'\n"
		"case $1 in */fluxori-users) sleep 0.2; echo 'users: configuration refused' >&2; exit 78 ;; esac\n"
		"exec \"$@\"\n",
		path);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	setenv("FLUXORI_WORKER_WRAPPER", path, 1);
	instance_start(&api, NULL);
	mark_up();
}

/*
 * fluxorictl restart of one group, run from this test process (another
 * process group); then the entrypoint dies without its graceful stop (as
 * under the OOM killer): only the process group can end the stack now.
 */
static void start_then_restart(void)
{
	start();
	cr_assert_eq(test_sh("FLUXORI_RUN_DIR='%s' FLUXORI_ENV_FILE='%s/env' \"$FLUXORI_SRCDIR/scripts/fluxorictl\" "
			     "restart health 2>>'%s/api.log'",
			     api.run, api.run, api.run),
		     0, "fluxorictl restart health");
	cr_assert_eq(kill(api.pid, SIGKILL), 0);
}

/* As the kernel delivers it: under ASan (scripts/memcheck) its handler would turn it into an exit(1) and a report. */
static void crash(void)
{
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

static void start_then_fail(void)
{
	start();
	cr_assert_fail("an assertion in setup after the instance is up");
}

Test(cases, start_refused_by_every_worker, .init = start_refused_by_every_worker, .fini = stop, .timeout = 600)
{
	cr_assert_fail("unreachable: the instance must not start");
}

Test(cases, start_refused_by_one_group, .init = start_refused_by_one_group, .fini = stop, .timeout = 600)
{
	cr_assert_fail("unreachable: the instance must not start");
}

Test(cases, assertion_in_setup, .init = start_then_fail, .fini = stop, .timeout = 600)
{
}

Test(cases, crash, .init = start, .fini = stop, .timeout = 600)
{
	crash();
}

Test(cases, crash_after_a_restart, .init = start_then_restart, .fini = stop, .timeout = 600)
{
	crash();
}

/* Criterion's timeout counts the setup too: 30 s leaves a slow start (2-5 s here under load) time to finish. */
Test(cases, timeout, .init = start, .fini = stop, .timeout = 30)
{
	for (;;)
		pause();
}

/* Waits for test_instance's SIGINT. */
Test(cases, interrupted, .init = start, .fini = stop, .timeout = 600)
{
	for (;;)
		pause();
}
