/*
 * Nothing a test starts outlives it, whatever fails (issue 18): each test
 * here runs one case of tests/integration/instance_cases (a Criterion binary
 * beside this one, not a TESTS entry) as a run of its own, in its own process
 * group and its own run directory below this run's (FLUXORI_TEST_RUN): a
 * start every worker refuses, a start one group refuses after the others
 * started, an assertion in setup after the instance is up, a crash (also
 * after a fluxorictl restart run from the test and a SIGKILL of the
 * entrypoint), a Criterion timeout, SIGINT to the whole case run. Then it asks
 * scripts/survivors for any process of that directory, polling until there
 * is none (bounded), and fails with the list (which it then kills).
 */
#include "client.h"

#include <criterion/criterion.h>
#include <criterion/options.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
	char dir[256]; /* the case's FLUXORI_TEST_RUN */
	char log[300]; /* its Criterion output */
	pid_t pid;
	int status;
};

/* Starts instance_cases with only the case name, in a process group of its own (as a shell runs a job). */
static void spawn_case(struct run *c, const char *name)
{
	char exe[PATH_MAX], bin[PATH_MAX + 32], filter[128];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	cr_assert_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/instance_cases", exe);
	snprintf(filter, sizeof(filter), "cases/%s", name);
	/* Short: the workers' socket paths below it must fit in sun_path. */
	snprintf(c->dir, sizeof(c->dir), "%s/c.XXXXXX", getenv("FLUXORI_TEST_RUN"));
	cr_assert_not_null(mkdtemp(c->dir));
	snprintf(c->log, sizeof(c->log), "%s/cases.log", c->dir);
	fflush(NULL);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL); /* as a shell's foreground job has it */
		if (!freopen(c->log, "w", stderr) || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(126);
		setenv("FLUXORI_TEST_RUN", c->dir, 1);
		unsetenv("BXFI_MAP"); /* else the case run takes itself for this test's sandbox (BoxFort) */
		unsetenv("CRITERION_TEST_PATTERN");
		/*
		 * The cases end their workers abruptly on purpose (a start that fails stops workers
		 * still initialising): scripts/memcheck's recorder would count them as killed before
		 * their exit report. Their memory is every other test's business.
		 */
		unsetenv("FLUXORI_WORKER_WRAPPER");
		execl(bin, bin, "--filter", filter, "--jobs", "1", (char *)NULL);
		_exit(127);
	}
	setpgid(c->pid, c->pid);
}

static void wait_case(struct run *c)
{
	while (waitpid(c->pid, &c->status, 0) < 0)
		cr_assert(errno == EINTR);
}

static int file_exists(const char *dir, const char *name)
{
	char path[320];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Polls scripts/survivors on the case's directory until nothing is left (bounded), else fails with the list. */
static void assert_no_survivor(const struct run *c)
{
	char path[320];
	int rc = test_sh("\"$FLUXORI_SRCDIR/scripts/survivors\" '%s' --wait 120 --kill >'%s/survivors' 2>&1", c->dir,
			 c->dir);

	if (rc == 0)
		return;
	snprintf(path, sizeof(path), "%s/survivors", c->dir);
	cr_assert_fail("processes of the case survived it (killed now), pid and command line:\n%s", test_slurp(path));
}

/* Runs a case to its end; its instance (if it got one up) was up, and the case failed as it should. */
static void run_case(struct run *c, const char *name, const char *outcome)
{
	char *log;

	spawn_case(c, name);
	wait_case(c);
	log = test_slurp(c->log);
	cr_assert(WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0, "the case %s failed (status %d):\n%s", name,
		  c->status, log);
	cr_assert_not_null(strstr(log, outcome), "the case %s ended with \"%s\":\n%s", name, outcome, log);
	free(log);
}

Test(instance, a_start_every_worker_refuses_fails_and_leaves_no_process, .timeout = 300)
{
	struct run c;

	run_case(&c, "start_refused_by_every_worker", "start_refused_by_every_worker` crashed during its setup");
	cr_assert_not(file_exists(c.dir, "up"), "the instance never came up");
	assert_no_survivor(&c);
	cr_assert_eq(test_sh("grep -qs 'FLUXORI_WORKER_THREADS must be' '%s'/inst.*/api.log", c.dir), 0,
		     "the instance's log (kept in the case's directory) says why its workers refused to start");
}

Test(instance, a_start_one_group_refuses_stops_the_groups_already_started, .timeout = 300)
{
	struct run c;

	run_case(&c, "start_refused_by_one_group", "start_refused_by_one_group` crashed during its setup");
	cr_assert_not(file_exists(c.dir, "up"), "the instance never came up");
	cr_assert_eq(
		test_sh("grep -q fluxori-users '%s/refuse-users.ran' && grep -v fluxori-users '%s/refuse-users.ran' | "
			"grep -q fluxori-",
			c.dir, c.dir),
		0, "workers of other groups had started when the users workers refused");
	assert_no_survivor(&c);
}

Test(instance, an_assertion_in_setup_after_the_start_leaves_no_process, .timeout = 300)
{
	struct run c;

	run_case(&c, "assertion_in_setup", "an assertion in setup after the instance is up");
	cr_assert(file_exists(c.dir, "up"), "the instance was up");
	assert_no_survivor(&c);
}

Test(instance, a_crash_leaves_no_process, .timeout = 300)
{
	struct run c;

	run_case(&c, "crash", "CRASH");
	cr_assert(file_exists(c.dir, "up"), "the instance was up");
	assert_no_survivor(&c);
}

/*
 * The restarted generation's supervisors were launched from the test
 * process's group, and the entrypoint was SIGKILLed (no graceful stop).
 */
Test(instance, a_crash_after_a_restart_leaves_no_process, .timeout = 300)
{
	struct run c;

	run_case(&c, "crash_after_a_restart", "CRASH");
	cr_assert(file_exists(c.dir, "up"), "the instance was up");
	cr_assert_eq(test_sh("grep -q 'swapped health.b' '%s'/inst.*/api.log", c.dir), 0, "health was swapped");
	assert_no_survivor(&c);
}

Test(instance, a_criterion_timeout_leaves_no_process, .timeout = 300)
{
	struct run c;

	run_case(&c, "timeout", "Timed out");
	cr_assert(file_exists(c.dir, "up"), "the instance was up");
	assert_no_survivor(&c);
}

Test(instance, sigint_to_the_run_leaves_no_process, .timeout = 300)
{
	struct run c;
	time_t deadline = time(NULL) + 240;

	spawn_case(&c, "interrupted");
	/* Until its instance is up (or the case ended without one). */
	while (!file_exists(c.dir, "up") && waitpid(c.pid, &c.status, WNOHANG) == 0 && time(NULL) < deadline)
		usleep(20 * 1000);
	cr_assert(file_exists(c.dir, "up"), "the instance came up:\n%s", test_slurp(c.log));
	cr_assert_eq(kill(-c.pid, SIGINT), 0, "the case run is still running");
	wait_case(&c);
	cr_assert(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGINT, "SIGINT ended the case run (status %d)",
		  c.status);
	assert_no_survivor(&c);
}

/*
 * One case at a time: each starts an instance of twenty workers and ends it
 * abruptly, and twenty at once is what two cores take (four would slow every
 * start and, under scripts/memcheck's ASan, push exits past the reaper's 10 s).
 */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	if (criterion_handle_args(argc, argv, true)) {
		criterion_options.jobs = 1;
		result = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	return result;
}
