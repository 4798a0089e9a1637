/*
 * emulator: starts and stops Google's local emulators for a unit-test
 * binary, once, from Criterion's PRE_ALL/POST_ALL report hooks (the runner
 * process). Test processes are exec'd anew, so what they need (host:port, a
 * port, or why the start failed) reaches them through environment variables
 * that these calls set; the structs are the runner's state and belong to the
 * caller, who keeps them static between the two hooks.
 */
#ifndef FX_TEST_EMULATOR_H
#define FX_TEST_EMULATOR_H

#include <stdbool.h>
#include <sys/types.h>

/* A loopback TCP port free right now (nothing listens there), or -1. */
int emu_free_port(void);

/* Google's Cloud Firestore emulator, run directly in its own process group. */
struct emu_firestore {
	pid_t pid;
	char log[256]; /* $TMPDIR/fluxori-test-<name>.<pid>.log, "" before a start */
	char hostport[64]; /* "127.0.0.1:<port>", set once the emulator answers */
};

/*
 * Starts the emulator on a free loopback port and waits up to 60 s for
 * GET / to answer 200 "Ok"; then sets port_env to "127.0.0.1:<port>" and
 * returns 0. On failure (the emulator is not installed, exits at start or
 * does not answer in time) prints why to stderr, prefixed "test_<name>: ",
 * leaves port_env unset and returns -1.
 */
int emu_firestore_start(struct emu_firestore *e, const char *name, const char *port_env);

/* Stops the emulator's whole process group (if running) and removes its log. */
void emu_firestore_stop(struct emu_firestore *e);

/* The emulators scripts/emulators runs, in the order of its port arguments. */
enum emu_service { EMU_FIRESTORE, EMU_AUTH, EMU_STORAGE };

/* Every emulator of scripts/emulators, of which one test binary uses one. */
struct emu_suite {
	char rundir[256]; /* /tmp/fluxori-<name>-test.XXXXXX, "" before a start */
	bool started;
	char port[3][16]; /* indexed by enum emu_service */
};

/*
 * Runs `$top_srcdir/scripts/emulators start` on three free loopback ports (a
 * second time on new ports if the first fails), then sets port_env to the
 * port of service and returns 0. On failure (top_srcdir unset,
 * node_modules/.bin/firebase missing, no run directory, the script failing)
 * prints why to stderr, prefixed "test_<name>: ", sets error_env to the same
 * message and returns -1. Both variables are unset first.
 */
int emu_suite_start(struct emu_suite *s, const char *name, enum emu_service service, const char *port_env,
		    const char *error_env);

/* Runs `scripts/emulators stop` if the start succeeded and removes the run directory. */
void emu_suite_stop(struct emu_suite *s);

#endif
