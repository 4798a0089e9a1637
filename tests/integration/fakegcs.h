/*
 * A Cloud Storage stand-in for the route fuzzer's production-storage pass:
 * an API instance without STORAGE_EMULATOR_HOST signs V4 URLs as on Google
 * (no emulator upload session, so none of the emulator-only checks), and
 * this server takes the signed PUTs, the JSON API calls the API makes
 * (object metadata, media download, multipart upload, delete, list) and the
 * OAuth token request. Objects live in memory (at most 60 KiB each).
 */
#ifndef FX_TEST_FAKEGCS_H
#define FX_TEST_FAKEGCS_H

struct fakegcs;

/* Starts the server; NULL when it cannot. */
struct fakegcs *fakegcs_start(const char *bucket);

/* "http://127.0.0.1:PORT", valid until fakegcs_stop. */
const char *fakegcs_url(const struct fakegcs *g);

/* Stops the server and frees its objects; accepts NULL. */
void fakegcs_stop(struct fakegcs *g);

#endif
