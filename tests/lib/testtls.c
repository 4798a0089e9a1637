#include "testtls.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tt_ca {
	EVP_PKEY *key;
	X509 *cert;
	char file[64];
};

static long serial = 1;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	cr_assert_not_null(ext, "extension %d = %s", nid, value);
	cr_assert_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (itself when NULL) with ikey. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name;

	cr_assert_not_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (!issuer) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	cr_assert(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	return x;
}

struct tt_ca *tt_ca_new(const char *cn)
{
	struct tt_ca *ca = calloc(1, sizeof(*ca));
	FILE *f;
	int fd;

	cr_assert_not_null(ca);
	ca->key = EVP_EC_gen("P-256");
	cr_assert_not_null(ca->key);
	ca->cert = make_cert(ca->key, cn, NULL, NULL, NULL);
	snprintf(ca->file, sizeof(ca->file), "/tmp/fx-testca-XXXXXX");
	fd = mkstemp(ca->file);
	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(PEM_write_X509(f, ca->cert), 1);
	cr_assert_eq(fclose(f), 0);
	return ca;
}

const char *tt_ca_file(const struct tt_ca *ca)
{
	return ca->file;
}

SSL_CTX *tt_server_ctx(const struct tt_ca *ca, const char *san)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert;

	cr_assert(ctx && key);
	cert = make_cert(key, "fluxori test server", ca->cert, ca->key, san);
	cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), 1);
	cr_assert_eq(SSL_CTX_use_certificate(ctx, cert), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

void tt_ca_free(struct tt_ca *ca)
{
	if (!ca)
		return;
	unlink(ca->file);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}
