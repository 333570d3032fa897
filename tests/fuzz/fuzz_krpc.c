/* libFuzzer target for the KRPC parser (and the bencode decoder under it):
 * any input must parse or fail cleanly, and whatever parses must re-encode
 * and parse back to the same struct. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/bencode.h"
#include "dht/krpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct krpc_msg m, back;
	static uint8_t buf[8192];
	struct benc_tok toks[64];

	(void)bencode_decode(data, size, toks, 64, BENC_STRICT_ORDER);
	if (krpc_parse(data, size, &m) != 0)
		return 0;
	if (m.type == KRPC_QUERY && m.method == KRPC_UNKNOWN)
		return 0;
	int n = krpc_encode(&m, buf, sizeof(buf));
	if (n < 0)
		abort();
	if (krpc_parse(buf, (size_t)n, &back) != 0)
		abort();
	/* Queries drop args that do not belong to their method, errors drop
	 * "ip" and text after a NUL, and dropped entries are not re-encoded:
	 * compare responses, where every parsed field is written back. */
	m.n_dropped = back.n_dropped = 0;
	if (m.type == KRPC_RESPONSE && memcmp(&m, &back, sizeof(m)) != 0)
		abort();
	return 0;
}
