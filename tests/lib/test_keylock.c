#include "config.h"
#include "keylock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/fx-keylock-XXXXXX";
static struct fx_config cfg;

/* Every test runs in its own process: the lock table is mapped on first use, from this config. */
static void setup(void)
{
	struct fx_err e;

	cr_assert_not_null(mkdtemp(dir));
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FLUXORI_METRICS_DIR", dir, 1);
	fx_err_clear(&e);
	cr_assert_eq(fx_config_load(&cfg, "/dev/null", &e), 0, "%s", e.message);
	fx_config_set(&cfg);
}

static void teardown(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(keylock, .init = setup, .fini = teardown);

/* Processes increment a shared counter with a read, a pause and a write: only the lock keeps counts. */
Test(keylock, serialises_one_key_across_processes)
{
	volatile long *counter = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int st;

	cr_assert_neq((void *)counter, MAP_FAILED);
	*counter = 0;
	for (int p = 0; p < 4; p++)
		if (fork() == 0) {
			for (int i = 0; i < 200; i++) {
				long v;

				if (fx_keylock_timed("orders:org-1", 10000) < 0)
					_exit(1);
				v = *counter;
				usleep(20);
				*counter = v + 1;
				fx_keylock_release("orders:org-1");
			}
			_exit(0);
		}
	for (int p = 0; p < 4; p++) {
		cr_assert_gt(wait(&st), 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "no lock timed out");
	}
	cr_expect_eq(*counter, 800, "every increment counted: %ld", *counter);
}

Test(keylock, a_holder_that_dies_releases_the_key)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		fx_keylock("orders:org-2");
		_exit(0); /* killed while holding it, as far as the lock can tell */
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect_eq(fx_keylock_timed("orders:org-2", 2000), 0, "the dead holder's lock is taken over");
	fx_keylock_release("orders:org-2");
	cr_expect_eq(fx_keylock_timed("orders:org-2", 2000), 0, "and works as usual after");
	fx_keylock_release("orders:org-2");
}

Test(keylock, a_held_key_times_out_for_another_process)
{
	int ready[2], done[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(done), 0);
	pid = fork();
	if (pid == 0) {
		fx_keylock("orders:org-3");
		(void)!write(ready[1], "x", 1);
		(void)!read(done[0], &c, 1);
		fx_keylock_release("orders:org-3");
		_exit(0);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_expect_eq(fx_keylock_timed("orders:org-3", 200), -1, "held elsewhere");
	(void)!write(done[1], "x", 1);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_expect_eq(fx_keylock_timed("orders:org-3", 2000), 0);
	fx_keylock_release("orders:org-3");
}

/* Waits (bounded) until process pid sleeps in futex(2): it waits for a lock. */
static void wait_blocked(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 100000; i++) {
		FILE *f = fopen(path, "r");

		if (f && fgets(buf, sizeof(buf), f) && strtol(buf, NULL, 10) == SYS_futex) {
			fclose(f);
			return;
		}
		if (f)
			fclose(f);
		usleep(100);
	}
	cr_assert_fail("process %d never waited for the lock", (int)pid);
}

/* The monotonic clock has moved on by at least a millisecond (what fx_keylock compares). */
static void next_millisecond(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 2);
}

/*
 * A process queued on a key while its holder (another process) loses the
 * backend answers 503 at once; so does the next in that queue; a caller
 * that comes afterwards, and another key, ask the backend themselves.
 */
Test(keylock, the_queue_behind_a_holder_that_lost_its_backend_answers_503_at_once)
{
	struct fx_err failed, e;
	pid_t pid;
	int status;

	fx_err_clear(&failed);
	fx_err_set(&failed, FX_UNAVAILABLE, "firestore unreachable");
	fx_keylock("orders:org-a");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fx_err_clear(&e);
		fx_keylock("orders:org-a"); /* queued behind the parent */
		if (fx_keylock_outage("orders:org-a", &e) != -1 || fx_err_http(e.kind) != 503 || e.retry_after != 1)
			_exit(1);
		fx_keylock_release("orders:org-a");
		next_millisecond();
		fx_err_clear(&e);
		fx_keylock("orders:org-a"); /* came after the failure */
		if (fx_keylock_outage("orders:org-a", &e) != 0 || !fx_err_is(&e, FX_OK))
			_exit(2);
		fx_keylock_release("orders:org-a");
		_exit(0);
	}
	wait_blocked(pid);
	fx_keylock_release_after("orders:org-a", &failed);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the queued process saw case %d", WEXITSTATUS(status));
	/* Another key (whatever its stripe) was never marked. */
	fx_err_clear(&e);
	fx_keylock("orders:org-b");
	cr_assert_eq(fx_keylock_outage("orders:org-b", &e), 0);
	fx_keylock_release("orders:org-b");
}

Test(keylock, a_holder_that_failed_otherwise_does_not_turn_its_queue_away)
{
	struct fx_err conflict, e;
	pid_t pid;
	int status;

	fx_err_clear(&conflict);
	fx_err_set(&conflict, FX_ABORTED, "contention");
	fx_keylock("stock:p1");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fx_err_clear(&e);
		fx_keylock("stock:p1");
		_exit(fx_keylock_outage("stock:p1", &e) == 0 ? 0 : 1);
	}
	wait_blocked(pid);
	fx_keylock_release_after("stock:p1", &conflict);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a 409 is not an outage");
}
