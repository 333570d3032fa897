/* mt6d genkey, mt6d pubkey: the habits of `wg genkey | tee key | wg pubkey`. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt6d/core/keys.h"
#include "mt6d/cli/subcommands.h"

/* A private key written to a file that others can read is as good as lost;
 * say so before writing it (as wg genkey does). */
static void warn_if_world_accessible_stdout(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077))
		fprintf(stderr, "Warning: writing to a file accessible by others (mode %04o). "
				"Consider setting your umask to 077 and trying again.\n",
			(unsigned)(st.st_mode & 07777));
}

int genkey_main(int argc, char *argv[])
{
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	char b64[MT6D_KEY_B64_LEN], fp[MT6D_FINGERPRINT_LEN];

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s\n", prog_name, argv[0]);
		return 1;
	}
	warn_if_world_accessible_stdout();
	keys_generate(priv, pub);
	keys_to_base64(b64, priv);
	keys_fingerprint(fp, pub);
	sodium_memzero(priv, sizeof(priv));
	/* The fingerprint goes to stderr so that stdout stays one key for
	 * `mt6d genkey | tee key | mt6d pubkey`. */
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "public key fingerprint: %s\n", fp);
	if (puts(b64) < 0 || fflush(stdout) != 0) {
		sodium_memzero(b64, sizeof(b64));
		perror("genkey: writing the key");
		return 1;
	}
	sodium_memzero(b64, sizeof(b64));
	return 0;
}

int pubkey_main(int argc, char *argv[])
{
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	char line[256], b64[MT6D_KEY_B64_LEN];
	size_t len;
	int rc = 1;

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s < private.key\n", prog_name, argv[0]);
		return 1;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "%s: no private key on standard input\n", prog_name);
		goto cleanup;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if (keys_from_base64(priv, line) < 0) {
		fprintf(stderr, "%s: not a private key (44 characters of base64 expected)\n",
			prog_name);
		goto cleanup;
	}
	keys_public_from_private(pub, priv);
	keys_to_base64(b64, pub);
	puts(b64);
	rc = fflush(stdout) == 0 ? 0 : 1;
cleanup:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(priv, sizeof(priv));
	return rc;
}
