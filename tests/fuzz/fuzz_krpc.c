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
	/* Parsed only to be answered with 205 or 207: not encodable. */
	if (m.type == KRPC_QUERY && m.method == KRPC_PUT && (m.is_v_too_big || m.is_salt_too_big))
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
	/* A complete put keeps every item field, v byte for byte (a
	 * signature covers it as sent). */
	if (m.type == KRPC_QUERY && m.method == KRPC_PUT && m.has_k && m.has_sig && m.has_seq &&
	    !m.is_v_too_big && !m.is_salt_too_big &&
	    (memcmp(m.k, back.k, sizeof(m.k)) || memcmp(m.sig, back.sig, sizeof(m.sig)) ||
	     m.seq != back.seq || m.has_cas != back.has_cas || m.cas != back.cas ||
	     m.salt_len != back.salt_len || memcmp(m.salt, back.salt, m.salt_len) ||
	     m.v_len != back.v_len || memcmp(m.v, back.v, m.v_len) ||
	     m.token_len != back.token_len || memcmp(m.token, back.token, m.token_len)))
		abort();
	return 0;
}
