#include "seal.h"

#include "b64.h"
#include "log.h"
#include "mem.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "v1:"
#define PREFIX_LEN 3
/* "v1:" + id + ":" */
#define HEAD_LEN (PREFIX_LEN + FX_SEAL_KEY_ID_LEN + 1)
/* A key file is a line of at most 44 characters; anything much longer is not a key. */
#define KEY_FILE_MAX 256

/*
 * The demo key: used only in demo- projects (emulators, tests, scripts/dev)
 * that have no key file. It is public (it is in this file), so it protects
 * nothing; fx_seal_keys_load refuses to fall back to it anywhere else.
 */
static const char demo_key_hex[] = "d5026b6eb6141a082326bc577568839f068e5a7ad3e6f394943394a9e5e8eb25";

struct key {
	bool set;
	unsigned char k[KEY_LEN];
	char id[FX_SEAL_KEY_ID_LEN + 1];
};

static struct key current, old;

static void key_clear(struct key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void fx_seal_keys_clear(void)
{
	key_clear(&current);
	key_clear(&old);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly 2 * KEY_LEN hex digits into k; -1 on any other text. */
static int parse_hex_key(const char *s, size_t n, unsigned char *k)
{
	if (n != 2 * KEY_LEN)
		return -1;
	for (size_t i = 0; i < KEY_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		k[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/*
 * Sets k's id: the first 8 hex digits of SHA-256 of its bytes. With
 * OpenSSL's own SHA-256 functions, not SHA256() or EVP: in OpenSSL 3 those
 * fetch the digest, and the first fetch builds the provider's table of
 * algorithm names: ~3 M instructions, a third of a worker's start before
 * it is ready (docs/performance.md, "A worker's own start").
 * The worker does that fetch after ready (lib/worker.c). The functions are
 * deprecated in OpenSSL 3, not removed; the same bytes, the same id.
 */
static void key_name(struct key *k)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	SHA256_Init(&c);
	SHA256_Update(&c, k->k, KEY_LEN);
	SHA256_Final(d, &c);
#pragma GCC diagnostic pop
	OPENSSL_cleanse(&c, sizeof(c));
	/* 4 bytes make 8 digits and a NUL in id[9]: cannot fail. */
	fx_err_ignore(fx_str_hex(k->id, sizeof(k->id), d, FX_SEAL_KEY_ID_LEN / 2));
	OPENSSL_cleanse(d, sizeof(d));
	k->set = true;
}

/* Reads the key in path into k; var names the variable for messages, which never quote the file. */
static int read_key(const char *var, const char *path, struct key *k, struct fx_err *e)
{
	char text[KEY_FILE_MAX + 1];
	unsigned char raw[KEY_LEN + 3]; /* base64 of 44 characters decodes to at most 33 bytes */
	size_t len = 0, raw_n = 0;
	struct stat st;
	int fd = -1, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: cannot open %s: %s", var, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fx_err_set(e, FX_INTERNAL, "%s: %s is not a regular file", var, path);
		goto out;
	}
	while (len < sizeof(text) - 1) {
		ssize_t r = read(fd, text + len, sizeof(text) - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fx_err_set(e, FX_INTERNAL, "%s: cannot read %s: %s", var, path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len >= KEY_FILE_MAX) {
		fx_err_set(e, FX_INTERNAL, "%s: %s is too long for a key (32 bytes as 64 hex digits or base64)", var,
			   path);
		goto out;
	}
	while (len > 0 &&
	       (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 2 * KEY_LEN) {
		if (parse_hex_key(text, len, k->k) == 0)
			rc = 0;
	} else if (len == 44) {
		struct fx_err ignored;

		if (fx_b64_decode(text, len, raw, sizeof(raw), &raw_n, &ignored) == 0 && raw_n == KEY_LEN &&
		    fx_str_mem_copy(k->k, sizeof(k->k), raw, KEY_LEN) == 0)
			rc = 0;
	}
	if (rc < 0) {
		fx_err_set(e, FX_INTERNAL,
			   "%s: %s does not hold a 32-byte key as 64 hex digits or 44 characters of base64", var, path);
		goto out;
	}
	key_name(k);
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int fx_seal_keys_load(const char *project, const char *key_file, const char *old_key_file, struct fx_err *e)
{
	static bool warned;

	fx_seal_keys_clear();
	if (key_file && *key_file) {
		if (read_key("FLUXORI_SECRETS_KEY_FILE", key_file, &current, e) < 0)
			goto fail;
	} else if (project && strncmp(project, "demo-", 5) == 0) {
		/* The literal is 64 hex digits: cannot fail. */
		fx_err_ignore(parse_hex_key(demo_key_hex, strlen(demo_key_hex), current.k));
		key_name(&current);
		if (!warned)
			fx_log_warn("FLUXORI_SECRETS_KEY_FILE is not set: secrets are sealed under the public demo key "
				    "(demo- project %s only)",
				    project);
		warned = true;
	} else {
		fx_err_set(e, FX_INTERNAL,
			   "FLUXORI_SECRETS_KEY_FILE is not set and project %s is not a demo- project: refusing to "
			   "start",
			   project ? project : "(none)");
		goto fail;
	}
	if (old_key_file && *old_key_file && read_key("FLUXORI_SECRETS_OLD_KEY_FILE", old_key_file, &old, e) < 0)
		goto fail;
	return 0;
fail:
	fx_seal_keys_clear();
	return -1;
}

void fx_seal_key_id(char out[FX_SEAL_KEY_ID_LEN + 1])
{
	if (fx_str_set(out, FX_SEAL_KEY_ID_LEN + 1, current.set ? current.id : "") < 0)
		out[0] = '\0';
}

void fx_seal_clear_free(char *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

int fx_seal(const char *plain, size_t n, const char *aad, char **out, struct fx_err *e)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *text = NULL;
	size_t raw_n = NONCE_LEN + n + TAG_LEN, text_size;
	int len = 0, rc = -1;

	*out = NULL;
	if (!current.set)
		return fx_err_set(e, FX_INTERNAL, "no secrets key is loaded");
	if (!aad || (!plain && n > 0))
		return fx_err_set(e, FX_INTERNAL, "fx_seal needs a plain text and an aad");
	if (n > FX_SEAL_MAX_PLAIN)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "a secret is at most %d bytes", FX_SEAL_MAX_PLAIN);
	raw = fx_mem_xmalloc(raw_n);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || RAND_bytes(raw, NONCE_LEN) != 1 ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, current.k, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    (n > 0 && EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &len, (const unsigned char *)plain, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + n, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + n) != 1) {
		fx_err_set(e, FX_INTERNAL, "sealing a secret failed");
		goto out;
	}
	text_size = HEAD_LEN + fx_b64_encoded_len(raw_n) + 1;
	text = fx_mem_xmalloc(text_size);
	if (fx_str_fmt(text, text_size, PREFIX "%s:", current.id) < 0 ||
	    fx_b64_encode(raw, raw_n, text + HEAD_LEN, text_size - HEAD_LEN, e) < 0) {
		fx_err_set(e, FX_INTERNAL, "sealing a secret failed");
		goto out;
	}
	*out = text;
	text = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	fx_seal_clear_free((char *)raw, raw_n);
	free(text);
	return rc;
}

/* The loaded key that id (FX_SEAL_KEY_ID_LEN characters) names, or NULL. */
static const struct key *key_for(const char *id)
{
	if (current.set && strncmp(current.id, id, FX_SEAL_KEY_ID_LEN) == 0)
		return &current;
	if (old.set && strncmp(old.id, id, FX_SEAL_KEY_ID_LEN) == 0)
		return &old;
	return NULL;
}

/* Whether sealed starts with "v1:" and 8 lower-case hex digits and ":". */
static bool well_headed(const char *sealed)
{
	if (strncmp(sealed, PREFIX, PREFIX_LEN) != 0)
		return false;
	for (size_t i = PREFIX_LEN; i < PREFIX_LEN + FX_SEAL_KEY_ID_LEN; i++)
		if (!((sealed[i] >= '0' && sealed[i] <= '9') || (sealed[i] >= 'a' && sealed[i] <= 'f')))
			return false;
	return sealed[HEAD_LEN - 1] == ':';
}

bool fx_seal_is_current(const char *sealed)
{
	return sealed && current.set && well_headed(sealed) &&
	       strncmp(sealed + PREFIX_LEN, current.id, FX_SEAL_KEY_ID_LEN) == 0;
}

int fx_seal_open(const char *sealed, const char *aad, char **out, size_t *n, struct fx_err *e)
{
	const size_t max_text = fx_b64_encoded_len(NONCE_LEN + FX_SEAL_MAX_PLAIN + TAG_LEN);
	EVP_CIPHER_CTX *ctx = NULL;
	const struct key *k;
	unsigned char *raw = NULL;
	char *plain = NULL;
	size_t text_n, raw_max = 0, raw_n = 0, plain_n = 0;
	struct fx_err ignored;
	int len = 0, rc = -1;

	*out = NULL;
	*n = 0;
	if (!sealed || !aad || !well_headed(sealed))
		goto out;
	k = key_for(sealed + PREFIX_LEN);
	if (!k)
		goto out;
	text_n = strnlen(sealed + HEAD_LEN, max_text + 1);
	if (text_n > max_text)
		goto out;
	raw_max = fx_b64_decoded_max(text_n);
	raw = fx_mem_xmalloc(raw_max ? raw_max : 1);
	if (fx_b64_decode(sealed + HEAD_LEN, text_n, raw, raw_max, &raw_n, &ignored) < 0 || raw_n < NONCE_LEN + TAG_LEN)
		goto out;
	plain_n = raw_n - NONCE_LEN - TAG_LEN;
	plain = fx_mem_xmalloc(plain_n + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, k->k, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    (plain_n > 0 && EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, raw + NONCE_LEN, (int)plain_n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + plain_n) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + plain_n, &len) != 1)
		goto out;
	plain[plain_n] = '\0';
	*out = plain;
	*n = plain_n;
	plain = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	fx_seal_clear_free((char *)raw, raw_max);
	fx_seal_clear_free(plain, plain_n + 1);
	if (rc < 0)
		fx_err_set(e, FX_INTERNAL, "a stored secret could not be opened");
	return rc;
}
