/* Bencode (BEP 3), strict and bounded, for KRPC (internal to dht/).
 *
 * The decoder writes a flat array of tokens into a caller-supplied array
 * (no allocation): containers record how many tokens their subtree spans, so
 * a reader can skip a value in O(1). Rejected: truncation, trailing bytes,
 * nesting deeper than BENC_MAX_DEPTH, strings longer than the input, integers
 * with leading zeros, "-0", an empty digit run or overflow of int64, string
 * lengths with leading zeros, non-string dict keys and duplicate keys.
 *
 * Key order: BEP 3 requires sorted keys, but deployed clients have been seen
 * to send unsorted dicts and rejecting them costs interoperability for no
 * safety gain, so order is checked only with BENC_STRICT_ORDER; duplicates are
 * always refused (they make "which value counts" ambiguous). Our encoder
 * always writes sorted keys (the caller emits them in order). */
#ifndef DHT_BENCODE_H
#define DHT_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENC_MAX_DEPTH 16

enum benc_type { BENC_INT = 1, BENC_STR, BENC_LIST, BENC_DICT };

struct benc_tok {
	uint8_t type;          /* enum benc_type */
	uint32_t span;         /* tokens in this value's subtree, itself included */
	uint32_t count;        /* list: items; dict: key/value pairs */
	const uint8_t *str;    /* BENC_STR: bytes inside the input buffer */
	size_t len;            /* BENC_STR: length in bytes */
	int64_t ival;          /* BENC_INT */
	const uint8_t *raw;    /* the whole encoded value inside the input */
	size_t raw_len;
};

#define BENC_STRICT_ORDER 0x1u

/* Decodes buf[0..len) into toks (at most max_toks). Returns the number of
 * tokens (toks[0] is the root), -EINVAL on malformed input, -E2BIG when more
 * than max_toks tokens would be needed, -ELOOP when nested too deep. */
int bencode_decode(const uint8_t *buf, size_t len, struct benc_tok *toks,
		   size_t max_toks, unsigned flags);

/* In the dict at toks[dict], the value token index for key, or -1. */
int bencode_dict_get(const struct benc_tok *toks, int dict, const char *key);

/* Index of the i-th item of the list at toks[list] (i < count), walking. */
int bencode_list_item(const struct benc_tok *toks, int list, uint32_t i);

/* Whether toks[i] is a string of exactly len bytes equal to s. */
bool bencode_str_is(const struct benc_tok *toks, int i, const char *s);

/* Encoder into a caller buffer. Errors are sticky: once a write does not fit,
 * is_overflow is set and bencode_end_buf returns -ENOBUFS. */
struct benc_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool is_overflow;
};

void bencode_writer_init(struct benc_writer *w, uint8_t *buf, size_t cap);
void bencode_put_int(struct benc_writer *w, int64_t v);
void bencode_put_str(struct benc_writer *w, const void *s, size_t len);
void bencode_put_cstr(struct benc_writer *w, const char *s);
/* An already encoded value, copied as it is (the caller vouches for it). */
void bencode_put_raw(struct benc_writer *w, const void *p, size_t len);
void bencode_put_list(struct benc_writer *w);  /* 'l' */
void bencode_put_dict(struct benc_writer *w);  /* 'd' */
void bencode_put_end(struct benc_writer *w);   /* 'e' */
/* Bytes written, or -ENOBUFS. */
int bencode_writer_finish(const struct benc_writer *w);

#endif
