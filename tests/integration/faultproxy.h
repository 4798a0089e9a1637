/*
 * faultproxy: a TCP proxy on 127.0.0.1 between an API instance's workers
 * and one emulator, that the test process runs (threads of its own) and
 * breaks on command. An instance reaches the emulator through it when its
 * env file names the proxy's port (FIRESTORE_EMULATOR_HOST,
 * STORAGE_EMULATOR_HOST, FIREBASE_AUTH_EMULATOR_HOST). Everything it starts
 * ends with fp_stop or with the test process.
 *
 * Modes, applied at once to new and to open connections:
 *   FP_PASS   bytes flow both ways
 *   FP_DROP   nothing listens: connecting is refused; open connections are
 *             closed (the backend went away)
 *   FP_RESET  connections are accepted and reset at once; open ones reset
 *   FP_STALL  connections are accepted, nothing flows either way (a network
 *             partition: callers wait for their own timeouts); what was sent
 *             flows again once the mode changes back, as after a partition
 *             heals
 *   FP_SLOW   bytes flow, each chunk held for slow_ms first
 *   FP_LOSE_ANSWERS  requests reach the backend, its answers never come
 *             back (the caller times out not knowing whether the call did
 *             its work)
 * An armed trigger (fp_arm) switches the mode the moment a chunk from the
 * client contains a given string, before that chunk goes anywhere: a fault
 * at an exact step of a request (the third call of a handler) rather than
 * at a moment in time.
 */
#ifndef FX_TEST_FAULTPROXY_H
#define FX_TEST_FAULTPROXY_H

enum fp_mode { FP_PASS, FP_DROP, FP_RESET, FP_STALL, FP_SLOW, FP_LOSE_ANSWERS };

struct faultproxy;

/* Listens on a free loopback port, relaying to 127.0.0.1:upstream_port; fails the test when it cannot. */
struct faultproxy *fp_start(int upstream_port);

/* Stops listening, closes every connection, joins its threads, frees; accepts NULL. */
void fp_stop(struct faultproxy *p);

/* The port it listens on (also while FP_DROP has it closed). */
int fp_port(const struct faultproxy *p);

/*
 * Sets the mode (slow_ms counts for FP_SLOW only); an armed trigger stays
 * armed. Returns 0, or -1 when leaving FP_DROP could not listen on its port
 * again (something else took it meanwhile).
 */
int fp_set(struct faultproxy *p, enum fp_mode mode, int slow_ms);

/* The current mode (after a trigger fired, the mode it set). */
enum fp_mode fp_mode(struct faultproxy *p);

/* The next chunk from a client that contains needle switches the proxy to mode, before it goes anywhere. */
void fp_arm(struct faultproxy *p, const char *needle, enum fp_mode mode);

/* Whether the armed trigger has fired since fp_arm. */
int fp_fired(struct faultproxy *p);

/* Disarms the trigger, if one is armed. */
void fp_disarm(struct faultproxy *p);

/* Connections accepted so far. */
long fp_accepted(struct faultproxy *p);

/* Open connections whose client has sent bytes that FP_STALL holds (requests waiting). */
int fp_held(struct faultproxy *p);

#endif
