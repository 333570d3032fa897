/* libFuzzer target for the bencode decoder and encoder: any input decodes or
 * fails cleanly, the token tree it builds is consistent (spans and counts add
 * up, strings lie inside the input), and an input accepted in strict order
 * re-encodes to exactly the same bytes (bencode is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/bencode.h"

#define MAX_TOKS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes the value at toks[i]; returns the index after it. */
static int encode(const struct benc_tok *toks, int i, struct benc_writer *w,
		  const uint8_t *data, size_t size)
{
	const struct benc_tok *t = &toks[i];
	switch (t->type) {
	case BENC_INT:
		bencode_put_int(w, t->ival);
		return i + 1;
	case BENC_STR:
		if (t->str < data || t->str + t->len > data + size)
			abort();
		bencode_put_str(w, t->str, t->len);
		return i + 1;
	case BENC_LIST:
	case BENC_DICT: {
		uint32_t items = t->type == BENC_LIST ? t->count : 2 * t->count;
		int j = i + 1;
		if (t->type == BENC_LIST)
			bencode_put_list(w);
		else
			bencode_put_dict(w);
		for (uint32_t k = 0; k < items; k++) {
			if (t->type == BENC_DICT && k % 2 == 0 && toks[j].type != BENC_STR)
				abort();
			j = encode(toks, j, w, data, size);
		}
		if ((uint32_t)(j - i) != t->span)
			abort();
		bencode_put_end(w);
		return j;
	}
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct benc_tok toks[MAX_TOKS];
	static uint8_t out[65536];
	struct benc_writer w;

	int lax = bencode_decode(data, size, toks, MAX_TOKS, 0);
	int n = bencode_decode(data, size, toks, MAX_TOKS, BENC_STRICT_ORDER);
	/* Strict order only adds a check. */
	if (n >= 0 && lax != n)
		abort();
	if (n < 0 || size > sizeof(out))
		return 0;
	if (toks[0].span != (uint32_t)n)
		abort();
	if (toks[0].type == BENC_LIST) {
		/* Items found by span-skipping sit where the tree walk puts them. */
		int j = 1;
		for (uint32_t k = 0; k < toks[0].count; k++) {
			if (bencode_list_item(toks, 0, k) != j)
				abort();
			j += (int)toks[j].span;
		}
	}
	bencode_writer_init(&w, out, sizeof(out));
	encode(toks, 0, &w, data, size);
	int len = bencode_writer_finish(&w);
	if (len < 0 || (size_t)len != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
