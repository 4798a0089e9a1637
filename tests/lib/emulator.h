/*
 * emulator: Google's local emulators for a unit-test binary. Every binary
 * that links emulator.c says which emulator it needs in one definition,
 *
 *     const struct emu_fixture emu_fixture = {"model", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};
 *
 * and emulator.c's PRE_ALL/POST_ALL report hooks (the runner process) start
 * it once before the first test and stop it after the last. Test processes
 * are exec'd anew, so what they need (host:port, a port, or why the start
 * failed) reaches them through environment variables that the start sets;
 * a suite's .init reads them with emu_firestore_use or emu_suite_port.
 */
#ifndef FX_TEST_EMULATOR_H
#define FX_TEST_EMULATOR_H

#include "config.h"

#include <stdbool.h>

/* The emulators scripts/emulators runs, in the order of its port arguments. */
enum emu_service { EMU_FIRESTORE, EMU_AUTH, EMU_STORAGE };

/* How the emulator is run. */
enum emu_run {
	EMU_ALONE, /* the Firestore emulator's own binary, in its own process group (about 5 s to start) */
	EMU_SCRIPT /* every emulator of scripts/emulators (the Firebase CLI), of which the binary uses one */
};

/* The emulator a test binary needs; the binary defines emu_fixture. */
struct emu_fixture {
	const char *name; /* "test_<name>: " prefixes the start's messages; names its log and run directory */
	enum emu_run run;
	enum emu_service service; /* the one whose address goes to port_env (EMU_ALONE: EMU_FIRESTORE) */
	/*
	 * Set once the emulator answers: EMU_ALONE "127.0.0.1:<port>", EMU_SCRIPT
	 * the port. Unset when the start failed, after it printed why to stderr.
	 */
	const char *port_env;
	const char *error_env; /* EMU_SCRIPT: why the start failed, for the tests to fail with; else NULL */
};

extern const struct emu_fixture emu_fixture;

/* A loopback TCP port free right now (nothing listens there), or -1. */
int emu_free_port(void);

/* The library's configuration in a test process, pointed at the Firestore emulator. */
struct emu_client {
	struct fx_config cfg;
	char url[128]; /* "http://<host:port>", what cfg.firestore_url points to */
};

/*
 * In a test process (a suite's .init): zeroes c, points c->cfg at the
 * Firestore emulator whose "host:port" port_env holds (project
 * demo-fluxori, database (default), a 60 s call timeout that only bounds a
 * hang of the JVM emulator on a loaded machine, 1 s to connect) and makes
 * it the library's configuration. fx_config_set keeps the pointer, so c is
 * static and a test may change c->cfg afterwards. Fails the test when
 * port_env is unset: the start failed and said why before the tests.
 */
void emu_firestore_use(struct emu_client *c, const char *port_env);

/*
 * In a test process: the port of service that an EMU_SCRIPT start put in
 * port_env. Fails the test with the start's own message (error_env) when
 * the start failed, or saying the emulator was not started.
 */
const char *emu_suite_port(enum emu_service service, const char *port_env, const char *error_env);

#endif
