/*
 * A second API instance for tests that need settings the shared stack
 * does not have (its own keys endpoints, token mode, audience): the
 * container's start path, scripts/entrypoint, on a free port and its own
 * run directory, against the stack's emulators. Also the test signer's
 * certificate served the way Google serves its key maps.
 */
#ifndef FX_TEST_INSTANCE_H
#define FX_TEST_INSTANCE_H

#include <sys/types.h>

struct testserver;

struct instance {
	pid_t pid; /* scripts/entrypoint, leader of the instance's process group */
	pid_t reaper; /* ends that group once this process is gone, however it ends */
	int guard; /* the only write end of the reaper's pipe */
	char run[128]; /* $FLUXORI_TEST_RUN/inst.XXXXXX: under the run's directory */
	char base[64]; /* http://127.0.0.1:PORT */
	char metrics[64]; /* 127.0.0.1:PORT of its internal /metrics listener */
};

/*
 * Starts an instance whose env file holds the stack's project, emulators,
 * bucket and service-account key, then the lines of extra (each
 * "NAME=value\n", overriding the base and the inherited environment).
 * Returns once it answers GET /health 200 and its start is over (every
 * instance of every group up: its entrypoint logged so). Fails the calling test at once
 * when its entrypoint exits first (after ending whatever it had started;
 * the message names the log, which is kept), or after a safety bound of
 * minutes; never on a guess of how long a start takes.
 *
 * Nothing it starts outlives the calling process: the entrypoint runs in a
 * process group of its own, and a reaper process (forked here, holding the
 * read end of a pipe whose only write end is in->guard) ends that group,
 * SIGTERM then SIGKILL, as soon as this process is gone: an assertion in
 * setup (Criterion skips .fini), a crash, a timeout's SIGKILL or SIGINT.
 */
void instance_start(struct instance *in, const char *extra);

/*
 * The same with env_file as the whole env file (its names override the
 * inherited environment too), for tests that stand in for Google themselves.
 */
void instance_start_env(struct instance *in, const char *env_file);

/*
 * SIGTERM to the entrypoint (it drains and stops everything), a bounded
 * wait, then SIGKILL to the whole group; ends the reaper; removes the run
 * directory. Also after the test has stopped the entrypoint itself.
 */
void instance_stop(struct instance *in);

/* Lines of in's log (its api.log) holding every one of the strings (NULL-terminated). */
int instance_log_lines(const struct instance *in, const char *const *all);

/*
 * Waits (30 s at most) until every worker of in that is ready has logged
 * its warm-up line (lib/worker.c: one each, also "nothing to warm"; the
 * instance must log at INFO), without a request being made; returns how
 * many warm-up lines hold every string of said (NULL-terminated).
 */
int instance_warmed_up(const struct instance *in, const char *const *said);

/* Path of tests/data/NAME (thread-local buffer). */
const char *test_data(const char *name);

/* A key-map endpoint serving {"kid1": <tests/data/signer1.cert.pem>} with max-age 3600. */
struct testserver *test_cert_server(void);

/* The status of GET url (0 when nothing answers). */
long test_status(const char *url);

#endif
