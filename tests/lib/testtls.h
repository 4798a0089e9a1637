/*
 * testtls: certificates made at test time with OpenSSL (no fixtures, no
 * network) for unit tests whose upstream speaks TLS: a test CA (written to
 * a PEM file a client can be told to trust) and server certificates it
 * signs for the names a test asks for. EC P-256 keys: quick to make, also
 * under valgrind.
 */
#ifndef FX_TESTTLS_H
#define FX_TESTTLS_H

#include <openssl/ssl.h>

struct tt_ca;

/* A new CA named cn, its certificate written to a PEM file of its own (tt_ca_file); aborts the test on failure. */
struct tt_ca *tt_ca_new(const char *cn);

/* The PEM file holding ca's certificate. */
const char *tt_ca_file(const struct tt_ca *ca);

/*
 * A TLS server context (TLS 1.2 and 1.3, OpenSSL's defaults otherwise:
 * session tickets sent after the handshake) whose certificate ca signed for
 * san ("IP:127.0.0.1,DNS:localhost"); aborts the test on failure.
 */
SSL_CTX *tt_server_ctx(const struct tt_ca *ca, const char *san);

/* Removes ca's file and frees it. */
void tt_ca_free(struct tt_ca *ca);

#endif
