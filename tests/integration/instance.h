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
	pid_t pid;
	char run[64];
	char base[64]; /* http://127.0.0.1:PORT */
};

/*
 * Starts an instance whose env file holds the stack's project, emulators,
 * bucket and service-account key, then the lines of extra (each
 * "NAME=value\n", overriding the base and the inherited environment).
 * Fails the calling test when /health does not answer within 10 s.
 */
void instance_start(struct instance *in, const char *extra);

/* SIGTERM, wait, remove the run directory. */
void instance_stop(struct instance *in);

/* Path of tests/data/NAME (thread-local buffer). */
const char *test_data(const char *name);

/* A key-map endpoint serving {"kid1": <tests/data/signer1.cert.pem>} with max-age 3600. */
struct testserver *test_cert_server(void);

/* The status of GET url (0 when nothing answers). */
long test_status(const char *url);

#endif
