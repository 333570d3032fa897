/* Strict bounded bencode decoder and a buffer encoder (BEP 3). */
#include "dht/bencode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct dec {
	const uint8_t *p, *end;
	struct benc_tok *toks;
	size_t max_toks, ntoks;
	unsigned flags;
};

/* Digits of a non-negative decimal without leading zeros, up to stop. */
static int parse_uint(struct dec *d, uint8_t stop, uint64_t limit, uint64_t *out)
{
	const uint8_t *start = d->p;
	uint64_t v = 0;

	while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		unsigned digit = (unsigned)(*d->p - '0');
		if (v > (limit - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
		d->p++;
	}
	if (d->p == start || d->p >= d->end || *d->p != stop)
		return -EINVAL;
	if (*start == '0' && d->p - start > 1)
		return -EINVAL;
	d->p++;
	*out = v;
	return 0;
}

static int key_cmp(const struct benc_tok *a, const struct benc_tok *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->str, b->str, n) : 0;
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static int parse_value(struct dec *d, int depth);

static int parse_one(struct dec *d, int depth)
{
	struct benc_tok *t;
	size_t idx;
	int rc;

	if (d->p >= d->end)
		return -EINVAL;
	if (d->ntoks >= d->max_toks)
		return -E2BIG;
	idx = d->ntoks++;
	t = &d->toks[idx];
	memset(t, 0, sizeof(*t));
	t->span = 1;

	if (*d->p == 'i') {
		uint64_t u;
		bool neg = false;
		d->p++;
		if (d->p < d->end && *d->p == '-') {
			neg = true;
			d->p++;
			/* "-0" and "-" followed by a leading zero are not canonical. */
			if (d->p < d->end && *d->p == '0')
				return -EINVAL;
		}
		rc = parse_uint(d, 'e', neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &u);
		if (rc)
			return rc;
		t->type = BENC_INT;
		t->ival = neg ? (int64_t)(0 - u) : (int64_t)u;
		return 0;
	}
	if (*d->p >= '0' && *d->p <= '9') {
		uint64_t n;
		rc = parse_uint(d, ':', UINT32_MAX, &n);
		if (rc)
			return rc;
		if (n > (uint64_t)(d->end - d->p))
			return -EINVAL;
		t->type = BENC_STR;
		t->str = d->p;
		t->len = (size_t)n;
		d->p += n;
		return 0;
	}
	if (*d->p != 'l' && *d->p != 'd')
		return -EINVAL;
	if (depth >= BENC_MAX_DEPTH)
		return -ELOOP;
	t->type = *d->p == 'l' ? BENC_LIST : BENC_DICT;
	d->p++;
	int prev_key = -1;
	bool is_unsorted = false;
	for (;;) {
		if (d->p >= d->end)
			return -EINVAL;
		if (*d->p == 'e') {
			d->p++;
			break;
		}
		size_t child = d->ntoks;
		rc = parse_value(d, depth + 1);
		if (rc)
			return rc;
		if (t->type == BENC_DICT) {
			if (d->toks[child].type != BENC_STR)
				return -EINVAL;
			/* Duplicates always refused; order only when strict. Unsorted
			 * input needs a scan of earlier keys (dicts here are small). */
			if (prev_key >= 0) {
				int c = key_cmp(&d->toks[prev_key], &d->toks[child]);
				if (c == 0 || (c > 0 && (d->flags & BENC_STRICT_ORDER)))
					return -EINVAL;
				if (c > 0)
					is_unsorted = true;
				if (is_unsorted) {
					size_t k = idx + 1;
					while (k < child) {
						if (key_cmp(&d->toks[k], &d->toks[child]) == 0)
							return -EINVAL;
						k += 1 + d->toks[k + 1].span;
					}
				}
			}
			prev_key = (int)child;
			rc = parse_value(d, depth + 1);
			if (rc)
				return rc;
		}
		t = &d->toks[idx];
		t->count++;
	}
	d->toks[idx].span = (uint32_t)(d->ntoks - idx);
	return 0;
}

/* Every value also records its encoded bytes: a BEP 44 signature covers
 * the value exactly as it was sent. */
static int parse_value(struct dec *d, int depth)
{
	const uint8_t *start = d->p;
	size_t idx = d->ntoks;
	int rc = parse_one(d, depth);
	if (rc == 0) {
		d->toks[idx].raw = start;
		d->toks[idx].raw_len = (size_t)(d->p - start);
	}
	return rc;
}

int bencode_decode(const uint8_t *buf, size_t len, struct benc_tok *toks,
		   size_t max_toks, unsigned flags)
{
	struct dec d = { buf, buf + len, toks, max_toks, 0, flags };
	int rc;

	if (!buf || !len)
		return -EINVAL;
	rc = parse_value(&d, 0);
	if (rc)
		return rc;
	if (d.p != d.end)
		return -EINVAL;
	return (int)d.ntoks;
}

int bencode_dict_get(const struct benc_tok *toks, int dict, const char *key)
{
	if (dict < 0 || toks[dict].type != BENC_DICT)
		return -1;
	int k = dict + 1;
	for (uint32_t i = 0; i < toks[dict].count; i++) {
		if (bencode_str_is(toks, k, key))
			return k + 1;
		k += 1 + (int)toks[k + 1].span;
	}
	return -1;
}

int bencode_list_item(const struct benc_tok *toks, int list, uint32_t i)
{
	if (list < 0 || toks[list].type != BENC_LIST || i >= toks[list].count)
		return -1;
	int k = list + 1;
	while (i--)
		k += (int)toks[k].span;
	return k;
}

bool bencode_str_is(const struct benc_tok *toks, int i, const char *s)
{
	size_t n = strlen(s);
	return i >= 0 && toks[i].type == BENC_STR && toks[i].len == n &&
	       (n == 0 || memcmp(toks[i].str, s, n) == 0);
}

void bencode_writer_init(struct benc_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->is_overflow = false;
}

static void put_raw(struct benc_writer *w, const void *p, size_t n)
{
	if (w->is_overflow || n > w->cap - w->len) {
		w->is_overflow = true;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void bencode_put_int(struct benc_writer *w, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "i%" PRId64 "e", v);
	put_raw(w, tmp, (size_t)n);
}

void bencode_put_str(struct benc_writer *w, const void *s, size_t len)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%zu:", len);
	put_raw(w, tmp, (size_t)n);
	put_raw(w, s, len);
}

void bencode_put_cstr(struct benc_writer *w, const char *s)
{
	bencode_put_str(w, s, strlen(s));
}

void bencode_put_raw(struct benc_writer *w, const void *p, size_t len)
{
	put_raw(w, p, len);
}

void bencode_put_list(struct benc_writer *w) { put_raw(w, "l", 1); }
void bencode_put_dict(struct benc_writer *w) { put_raw(w, "d", 1); }
void bencode_put_end(struct benc_writer *w) { put_raw(w, "e", 1); }

int bencode_writer_finish(const struct benc_writer *w)
{
	return w->is_overflow ? -ENOBUFS : (int)w->len;
}
