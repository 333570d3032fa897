/* Key pairs of the MT6D protocol (docs/PROTOCOL.md, "Keys"): X25519, as
 * libsodium's crypto_box keys, written as 44 characters of standard base64
 * (the format of `wg genkey`), and the shared secret s of two key pairs.
 *
 * Pure functions except keys_load_private_file, which reads one file. */
#ifndef MT6D_KEYS_H
#define MT6D_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define MT6D_KEY_LEN 32
#define MT6D_KEY_B64_LEN 45      /* 44 characters and the terminating NUL */
/* "SHA256:" then 16 groups of 4 hex digits separated by ':' */
#define MT6D_FINGERPRINT_LEN (7 + 16 * 4 + 15 + 1)

/* A fresh key pair from the CSPRNG. */
void keys_generate(uint8_t priv_out[static MT6D_KEY_LEN], uint8_t pub_out[static MT6D_KEY_LEN]);

/* The public key of a private key (X25519 base-point multiplication). */
void keys_public_from_private(uint8_t pub_out[static MT6D_KEY_LEN],
			      const uint8_t priv[static MT6D_KEY_LEN]);

void keys_to_base64(char b64_out[static MT6D_KEY_B64_LEN], const uint8_t key[static MT6D_KEY_LEN]);

/* Strict: exactly 44 characters of standard base64 with its padding, nothing
 * before or after. -EINVAL otherwise, and key_out is left untouched. The
 * all-zero key is refused too (it is no one's key, and a blank that slipped
 * through a template). */
int keys_from_base64(uint8_t key_out[static MT6D_KEY_LEN], const char *b64);

/* s = X25519(own_priv, peer_pub), the same on both sides (docs/PROTOCOL.md).
 * -EINVAL when peer_pub is a low-order point (the result would be all zero
 * and known to everyone). */
int keys_shared_secret(uint8_t s_out[static MT6D_KEY_LEN], const uint8_t own_priv[static MT6D_KEY_LEN],
		       const uint8_t peer_pub[static MT6D_KEY_LEN]);

/* The full fingerprint of a public key, for comparing keys out of band:
 * "SHA256:" and the 256-bit H_"mt6d/1 fingerprint"(pub) in hex groups. */
void keys_fingerprint(char fp_out[static MT6D_FINGERPRINT_LEN], const uint8_t pub[static MT6D_KEY_LEN]);

/* Reads a private key file: one base64 key, optional trailing whitespace.
 * Refuses a file that group or others may access (-EACCES: a key others can
 * read is as good as lost), anything but a regular file (-EINVAL), and
 * content that is not one key (-EINVAL). Other failures are -errno of
 * open/read. On error, why (without any key material) goes to msg. */
int keys_load_private_file(const char *path, uint8_t priv_out[static MT6D_KEY_LEN], char *msg,
			   size_t msg_len);

#endif
