/*
 * workerkill: what the crash tests (test_channelcrash, test_webhookcrash,
 * test_importcrash) share to kill a route group's workers with SIGKILL
 * through the stack's run directory ($FLUXORI_RUN_DIR: sock/ and state/ of
 * scripts/stack and scripts/fluxorictl), wait for the supervisors to bring
 * them back, and wait for the emulator to let go of what the killed
 * workers left open. Helpers that assert fail the test themselves.
 */
#ifndef FX_TEST_WORKERKILL_H
#define FX_TEST_WORKERKILL_H

#include <stdbool.h>

/*
 * The pid of instance unit ("products.a") of the generation nginx reaches
 * (the socket's symlink names it; then that generation's pid file); 0 or
 * -1 when none runs now (between a kill and the restart).
 */
long workerkill_pid(const char *unit);

/* kill -9 of both instances of group ("imports": imports.a and imports.b); each must be running. */
void workerkill_group(const char *group);

/* Whether both instances of group run again (a pid each) within deadline_s seconds. */
bool workerkill_wait_up(const char *group, long deadline_s);

/*
 * Killed workers leave transactions open in the emulator, which refuses to
 * wipe its data (409) until they expire, so the harness's reset before the
 * next test file would fail: waits (at most 180 s, then fails the test) for
 * the wipe itself to answer 200. Only for a file that holds no other test.
 */
void workerkill_settle_emulator(void);

#endif
