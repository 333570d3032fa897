#include "mt6d/core/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt6d/core/hash.h"
#include "mt6d/core/util.h"

_Static_assert(MT6D_KEY_LEN == crypto_box_PUBLICKEYBYTES, "X25519 public key size");
_Static_assert(MT6D_KEY_LEN == crypto_box_SECRETKEYBYTES, "X25519 private key size");
_Static_assert(MT6D_KEY_LEN == crypto_scalarmult_BYTES, "X25519 shared secret size");
_Static_assert(MT6D_KEY_B64_LEN ==
		       sodium_base64_ENCODED_LEN(MT6D_KEY_LEN, sodium_base64_VARIANT_ORIGINAL),
	       "base64 key length");

void keys_generate(uint8_t priv_out[static MT6D_KEY_LEN], uint8_t pub_out[static MT6D_KEY_LEN])
{
	crypto_box_keypair(pub_out, priv_out);
}

void keys_public_from_private(uint8_t pub_out[static MT6D_KEY_LEN],
			      const uint8_t priv[static MT6D_KEY_LEN])
{
	crypto_scalarmult_base(pub_out, priv);
}

void keys_to_base64(char b64_out[static MT6D_KEY_B64_LEN], const uint8_t key[static MT6D_KEY_LEN])
{
	sodium_bin2base64(b64_out, MT6D_KEY_B64_LEN, key, MT6D_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int keys_from_base64(uint8_t key_out[static MT6D_KEY_LEN], const char *b64)
{
	uint8_t key[MT6D_KEY_LEN];
	size_t len = strlen(b64), bin_len = 0;
	const char *end = NULL;
	int rc = -EINVAL;

	/* sodium_base642bin stops at the first character it cannot decode and
	 * reports it through end, so trailing garbage is caught there. */
	if (len == MT6D_KEY_B64_LEN - 1 &&
	    sodium_base642bin(key, sizeof(key), b64, len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    bin_len == MT6D_KEY_LEN && end == b64 + len && !sodium_is_zero(key, sizeof(key))) {
		memcpy(key_out, key, MT6D_KEY_LEN);
		rc = 0;
	}
	sodium_memzero(key, sizeof(key));
	return rc;
}

int keys_shared_secret(uint8_t s_out[static MT6D_KEY_LEN], const uint8_t own_priv[static MT6D_KEY_LEN],
		       const uint8_t peer_pub[static MT6D_KEY_LEN])
{
	/* crypto_scalarmult fails exactly when the result is all zero. */
	if (crypto_scalarmult(s_out, own_priv, peer_pub) != 0) {
		sodium_memzero(s_out, MT6D_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void keys_fingerprint(char fp_out[static MT6D_FINGERPRINT_LEN], const uint8_t pub[static MT6D_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;
	char *p = fp_out;
	size_t i;

	hash_begin(&ctx, "mt6d/1 fingerprint");
	hash_add(&ctx, pub, MT6D_KEY_LEN);
	hash_end(&ctx, h);
	memcpy(p, "SHA256:", 7);
	p += 7;
	for (i = 0; i < sizeof(h); i++) {
		if (i && i % 2 == 0)
			*p++ = ':';
		*p++ = hex[h[i] >> 4];
		*p++ = hex[h[i] & 15];
	}
	*p = '\0';
}

int keys_load_private_file(const char *path, uint8_t priv_out[static MT6D_KEY_LEN], char *msg,
			   size_t msg_len)
{
	/* Room for one key, a CRLF and a little whitespace; more is not a key. */
	char buf[MT6D_KEY_B64_LEN + 16];
	size_t len = 0;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		set_msg(msg, msg_len, "%s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		set_msg(msg, msg_len, "%s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		set_msg(msg, msg_len, "not a regular file");
		goto out;
	}
	if (st.st_mode & 0077) {
		rc = -EACCES;
		set_msg(msg, msg_len,
			"private key file is accessible by group or others (mode %04o); "
			"run chmod 600 on it",
			(unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_msg(msg, msg_len, "%s", strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1) {
			rc = -EINVAL;
			set_msg(msg, msg_len, "not a private key (too long for one key)");
			goto out;
		}
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	/* A NUL would end the string early and hide what follows it. */
	if (memchr(buf, '\0', len) != NULL || keys_from_base64(priv_out, buf) < 0) {
		rc = -EINVAL;
		set_msg(msg, msg_len,
			"not a private key (44 characters of base64 expected, as 'mt6d genkey' prints)");
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
