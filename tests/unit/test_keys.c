#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/keys.h"

/* Known-answer vectors: tests/vectors/vectors.json ("Test vectors" in
 * docs/PROTOCOL.md), recomputed by tests/vectors/check_vectors.py. */
static const char kat_client_priv_hex[] =
	"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
static const char kat_server_priv_hex[] =
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
static const char kat_client_pub_hex[] =
	"d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66";
static const char kat_server_pub_hex[] =
	"79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
static const char kat_client_pub_b64[] = "2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y=";
static const char kat_server_pub_b64[] = "eaYx7t4b+cmPEgMs3q3Q56B5OY/HhriMyEbsia+FpRo=";
static const char kat_client_priv_b64[] = "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=";
static const char kat_client_fingerprint[] =
	"SHA256:0982:0c77:3d75:44e7:2c5e:abda:b658:166b:ec90:67cb:bbd5:cd50:e230:7659:9727:81fa";
static const char kat_shared_secret_hex[] =
	"0b7480daab7ce8926aaf208e30ef89c8403f7d00aa3db0428f914ead05c85e09";

static char tmpdir[64];

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void test_public_keys_and_base64_vectors(void **state)
{
	(void)state;
	uint8_t c[32], s[32], pub[32], want[32], back[32];
	char b64[MT6D_KEY_B64_LEN];

	unhex(kat_client_priv_hex, c, 32);
	unhex(kat_server_priv_hex, s, 32);
	keys_public_from_private(pub, c);
	unhex(kat_client_pub_hex, want, 32);
	assert_memory_equal(pub, want, 32);
	keys_to_base64(b64, pub);
	assert_string_equal(b64, kat_client_pub_b64);
	assert_int_equal(keys_from_base64(back, kat_client_pub_b64), 0);
	assert_memory_equal(back, pub, 32);

	keys_public_from_private(pub, s);
	unhex(kat_server_pub_hex, want, 32);
	assert_memory_equal(pub, want, 32);
	keys_to_base64(b64, pub);
	assert_string_equal(b64, kat_server_pub_b64);

	keys_to_base64(b64, c);
	assert_string_equal(b64, kat_client_priv_b64);
}

static void test_shared_secret_vector_and_symmetry(void **state)
{
	(void)state;
	uint8_t c[32], s[32], C[32], S[32], s1[32], s2[32], want[32];

	unhex(kat_client_priv_hex, c, 32);
	unhex(kat_server_priv_hex, s, 32);
	keys_public_from_private(C, c);
	keys_public_from_private(S, s);
	assert_int_equal(keys_shared_secret(s1, c, S), 0);
	assert_int_equal(keys_shared_secret(s2, s, C), 0);
	unhex(kat_shared_secret_hex, want, 32);
	assert_memory_equal(s1, want, 32);
	assert_memory_equal(s2, want, 32);
}

static void test_fingerprint_vector(void **state)
{
	(void)state;
	uint8_t C[32];
	char fp[MT6D_FINGERPRINT_LEN];

	unhex(kat_client_pub_hex, C, 32);
	keys_fingerprint(fp, C);
	assert_string_equal(fp, kat_client_fingerprint);
	assert_int_equal(strlen(fp), MT6D_FINGERPRINT_LEN - 1);
	C[31] ^= 0x80;
	keys_fingerprint(fp, C);
	assert_string_not_equal(fp, kat_client_fingerprint);
}

static void test_generate(void **state)
{
	(void)state;
	uint8_t priv[32], pub[32], pub2[32], priv2[32], pub3[32];
	char b64[MT6D_KEY_B64_LEN];

	keys_generate(priv, pub);
	keys_public_from_private(pub2, priv);
	assert_memory_equal(pub, pub2, 32);
	keys_generate(priv2, pub3);
	assert_memory_not_equal(priv, priv2, 32);
	assert_memory_not_equal(pub, pub3, 32);
	keys_to_base64(b64, priv);
	assert_int_equal(strlen(b64), 44);
	assert_int_equal(keys_from_base64(priv2, b64), 0);
	assert_memory_equal(priv, priv2, 32);
}

/* Low-order points (libsodium's list, RFC 7748 §6.1): all give an all-zero
 * secret, known to everyone, so they are refused; also with the top bit set,
 * which X25519 ignores. */
static void test_low_order_public_keys_refused(void **state)
{
	(void)state;
	static const char *low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t priv[32], pub[32], out[32];
	size_t i;

	unhex(kat_client_priv_hex, priv, 32);
	for (i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		unhex(low_order[i], pub, 32);
		memset(out, 0x55, sizeof(out));
		assert_int_equal(keys_shared_secret(out, priv, pub), -EINVAL);
		assert_true(sodium_is_zero(out, sizeof(out))); /* nothing half-written */
		pub[31] |= 0x80;
		assert_int_equal(keys_shared_secret(out, priv, pub), -EINVAL);
	}
}

static void test_from_base64_edge_cases(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y",      /* 43: no padding */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y==",    /* 45 */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y=\n",   /* trailing newline */
		" 2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y=",    /* leading space */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2YA",     /* 44, no '=': 33 bytes */
		"2J47rXlDfb7Z-ENBgwT0YP8Fx_6B_kqVd6gEy5Nn_2Y=",     /* URL-safe alphabet */
		"2J47rXlDfb7Z+ENBgwT0 P8Fx/6B/kqVd6gEy5Nn/2Y=",     /* embedded space */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2=Y",     /* padding inside */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Z=",     /* non-zero padding bits */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     /* the all-zero key */
		"2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y=2J47", /* a key and more */
	};
	uint8_t key[32], untouched[32];
	size_t i;

	memset(untouched, 0x5a, sizeof(untouched));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(key, untouched, sizeof(key));
		assert_int_equal(keys_from_base64(key, bad[i]), -EINVAL);
		assert_memory_equal(key, untouched, sizeof(key));
	}
	/* The same string with a NUL inside is only the part before it. */
	assert_int_equal(keys_from_base64(key, "2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y=\0x"), 0);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mt6d-test-keys.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes content to a new file with mode, returns its path. */
static const char *key_file(const char *name, const void *content, size_t len, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void test_key_file_good(void **state)
{
	(void)state;
	static const char *good[] = {
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=",
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\n",
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\r\n",
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8= \t\n\n",
	};
	uint8_t priv[32], want[32];
	char msg[256];
	size_t i;

	unhex(kat_client_priv_hex, want, 32);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *path = key_file("good.key", good[i], strlen(good[i]), 0600);

		memset(priv, 0, sizeof(priv));
		assert_int_equal(keys_load_private_file(path, priv, msg, sizeof(msg)), 0);
		assert_memory_equal(priv, want, 32);
	}
	/* Owner read-only is fine too; msg may be NULL. */
	assert_int_equal(keys_load_private_file(key_file("ro.key", good[1], strlen(good[1]), 0400),
						priv, NULL, 0), 0);
}

static void test_key_file_refused(void **state)
{
	(void)state;
	static const char key[] = "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\n";
	static const char too_long[] =
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\n";
	static const char spaces[] =
		"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=                            \n";
	static const char nul[] = "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\0";
	uint8_t priv[32], untouched[32];
	char msg[256], path[160];
	struct {
		const char *content;
		size_t len;
		mode_t mode;
		int rc;
		const char *why; /* in msg */
	} cases[] = {
		{ key, sizeof(key) - 1, 0644, -EACCES, "chmod 600" },
		{ key, sizeof(key) - 1, 0640, -EACCES, "0640" },
		{ key, sizeof(key) - 1, 0604, -EACCES, "0604" },
		{ key, sizeof(key) - 1, 0601, -EACCES, "group or others" },
		{ "", 0, 0600, -EINVAL, "not a private key" },
		{ "\n", 1, 0600, -EINVAL, "not a private key" },
		{ too_long, sizeof(too_long) - 1, 0600, -EINVAL, "too long" },
		{ spaces, sizeof(spaces) - 1, 0600, -EINVAL, "too long" },
		{ "not a key at all\n", 17, 0600, -EINVAL, "not a private key" },
		{ " EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\n", 46, 0600, -EINVAL,
		  "not a private key" },
		{ nul, sizeof(nul), 0600, -EINVAL, "not a private key" },
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 45, 0600, -EINVAL,
		  "not a private key" },
	};
	size_t i;

	memset(untouched, 0x5a, sizeof(untouched));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = key_file("bad.key", cases[i].content, cases[i].len, cases[i].mode);

		memcpy(priv, untouched, sizeof(priv));
		msg[0] = '\0';
		if (keys_load_private_file(p, priv, msg, sizeof(msg)) != cases[i].rc)
			fail_msg("case %zu: not refused with %d (%s)", i, cases[i].rc, msg);
		assert_memory_equal(priv, untouched, sizeof(priv));
		if (!strstr(msg, cases[i].why))
			fail_msg("case %zu: message '%s' lacks '%s'", i, msg, cases[i].why);
		/* The message never carries key material. */
		assert_null(strstr(msg, "EBESExQV"));
	}
	/* Missing file, a directory, a FIFO (not regular: never blocks on it). */
	snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
	assert_int_equal(keys_load_private_file(path, priv, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(keys_load_private_file(tmpdir, priv, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "regular file"));
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* O_RDONLY on a FIFO without a writer would block: write end first. */
	{
		int wfd = open(path, O_RDWR | O_NONBLOCK);

		assert_true(wfd >= 0);
		assert_int_equal(keys_load_private_file(path, priv, msg, sizeof(msg)), -EINVAL);
		close(wfd);
	}
	assert_memory_equal(priv, untouched, sizeof(priv));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_keys_and_base64_vectors),
		cmocka_unit_test(test_shared_secret_vector_and_symmetry),
		cmocka_unit_test(test_fingerprint_vector),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_low_order_public_keys_refused),
		cmocka_unit_test(test_from_base64_edge_cases),
		cmocka_unit_test(test_key_file_good),
		cmocka_unit_test(test_key_file_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
