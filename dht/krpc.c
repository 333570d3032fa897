/* KRPC (BEP 5, BEP 32, BEP 42 "ip", BEP 43 "ro") parsing and encoding. */
#include "dht/krpc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dht/bencode.h"

/* A reply holds at most 128 values + 2*16 nodes + a few keys. */
#define KRPC_MAX_TOKS 256

size_t krpc_addr_put(uint8_t *out, const struct krpc_addr *a)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	memcpy(out, a->ip, n);
	out[n] = (uint8_t)(a->port >> 8);
	out[n + 1] = (uint8_t)a->port;
	return n + 2;
}

size_t krpc_addr_get(const uint8_t *in, size_t len, struct krpc_addr *out)
{
	if (len != 6 && len != 18)
		return 0;
	memset(out, 0, sizeof(*out));
	out->family = len == 6 ? AF_INET : AF_INET6;
	memcpy(out->ip, in, len - 2);
	out->port = (uint16_t)(in[len - 2] << 8 | in[len - 1]);
	return len;
}

static bool get_str(const struct benc_tok *t, int i, size_t min, size_t max)
{
	return i >= 0 && t[i].type == BENC_STR && t[i].len >= min && t[i].len <= max;
}

static int get_nodes(const struct benc_tok *t, int i, size_t each,
		     struct krpc_node *out, uint8_t *n_out, uint16_t *dropped)
{
	if (i < 0)
		return 0;
	if (t[i].type != BENC_STR || t[i].len % each)
		return -EINVAL;
	for (size_t off = 0; off < t[i].len; off += each) {
		if (*n_out >= KRPC_MAX_NODES) {
			(*dropped)++;
			continue;
		}
		struct krpc_node *n = &out[(*n_out)++];
		memcpy(n->id, t[i].str + off, KRPC_ID_LEN);
		krpc_addr_get(t[i].str + off + KRPC_ID_LEN, each - KRPC_ID_LEN, &n->addr);
	}
	return 0;
}

/* BEP 44 fields wherever they occur (put queries, get responses); whether
 * the set is complete is for the caller to judge. Oversized v and salt are
 * flagged, not refused, so that a put gets its own error code. */
static int parse_item(const struct benc_tok *t, int a, struct krpc_msg *m, bool is_put)
{
	int i = bencode_dict_get(t, a, "k");
	if (i >= 0) {
		if (!get_str(t, i, KRPC_ITEM_KEY_LEN, KRPC_ITEM_KEY_LEN))
			return -EINVAL;
		memcpy(m->k, t[i].str, KRPC_ITEM_KEY_LEN);
		m->has_k = true;
	}
	i = bencode_dict_get(t, a, "sig");
	if (i >= 0) {
		if (!get_str(t, i, KRPC_ITEM_SIG_LEN, KRPC_ITEM_SIG_LEN))
			return -EINVAL;
		memcpy(m->sig, t[i].str, KRPC_ITEM_SIG_LEN);
		m->has_sig = true;
	}
	i = bencode_dict_get(t, a, "seq");
	if (i >= 0) {
		if (t[i].type != BENC_INT || t[i].ival < 0)
			return -EINVAL;
		m->seq = t[i].ival;
		m->has_seq = true;
	}
	/* cas and salt belong to puts; a get reply carries neither. */
	i = is_put ? bencode_dict_get(t, a, "cas") : -1;
	if (i >= 0) {
		if (t[i].type != BENC_INT || t[i].ival < 0)
			return -EINVAL;
		m->cas = t[i].ival;
		m->has_cas = true;
	}
	i = is_put ? bencode_dict_get(t, a, "salt") : -1;
	if (i >= 0) {
		if (t[i].type != BENC_STR)
			return -EINVAL;
		if (t[i].len > KRPC_ITEM_MAX_SALT) {
			m->is_salt_too_big = true;
		} else {
			memcpy(m->salt, t[i].str, t[i].len);
			m->salt_len = (uint8_t)t[i].len;
		}
	}
	i = bencode_dict_get(t, a, "v");
	if (i >= 0) {
		m->has_v = true;
		if (t[i].raw_len > KRPC_ITEM_MAX_V) {
			m->is_v_too_big = true;
		} else {
			memcpy(m->v, t[i].raw, t[i].raw_len);
			m->v_len = (uint16_t)t[i].raw_len;
		}
	}
	return 0;
}

static int parse_args(const struct benc_tok *t, int a, struct krpc_msg *m)
{
	int i = bencode_dict_get(t, a, "id");
	if (!get_str(t, i, KRPC_ID_LEN, KRPC_ID_LEN))
		return -EPROTO;
	memcpy(m->id, t[i].str, KRPC_ID_LEN);
	m->has_id = true;

	if (m->type == KRPC_QUERY) {
		const char *tkey = m->method == KRPC_FIND_NODE || m->method == KRPC_GET ?
				   "target" : "info_hash";
		if (m->method == KRPC_FIND_NODE || m->method == KRPC_GET_PEERS ||
		    m->method == KRPC_ANNOUNCE_PEER || m->method == KRPC_GET) {
			i = bencode_dict_get(t, a, tkey);
			if (!get_str(t, i, KRPC_ID_LEN, KRPC_ID_LEN))
				return -EPROTO;
			memcpy(m->target, t[i].str, KRPC_ID_LEN);
		}
		i = bencode_dict_get(t, a, "want");
		if (i >= 0 && t[i].type == BENC_LIST) {
			for (uint32_t k = 0; k < t[i].count; k++) {
				int w = bencode_list_item(t, i, k);
				if (bencode_str_is(t, w, "n4"))
					m->want |= KRPC_WANT_N4;
				else if (bencode_str_is(t, w, "n6"))
					m->want |= KRPC_WANT_N6;
			}
		}
		if (m->method == KRPC_ANNOUNCE_PEER) {
			i = bencode_dict_get(t, a, "implied_port");
			m->implied_port = i >= 0 && t[i].type == BENC_INT && t[i].ival != 0;
			i = bencode_dict_get(t, a, "port");
			if (i >= 0 && t[i].type == BENC_INT && t[i].ival >= 0 && t[i].ival <= 65535)
				m->port = (uint16_t)t[i].ival;
			else if (!m->implied_port)
				return -EPROTO;
			i = bencode_dict_get(t, a, "token");
			if (!get_str(t, i, 1, KRPC_MAX_TOKEN))
				return -EPROTO;
			memcpy(m->token, t[i].str, t[i].len);
			m->token_len = (uint8_t)t[i].len;
		}
		if (m->method == KRPC_GET) {
			i = bencode_dict_get(t, a, "seq");
			if (i >= 0 && (t[i].type != BENC_INT || t[i].ival < 0))
				return -EPROTO;
			if (i >= 0) {
				m->seq = t[i].ival;
				m->has_seq = true;
			}
		}
		if (m->method == KRPC_PUT) {
			if (parse_item(t, a, m, true) < 0 || !m->has_v)
				return -EPROTO;
			i = bencode_dict_get(t, a, "token");
			if (!get_str(t, i, 1, KRPC_MAX_TOKEN))
				return -EPROTO;
			memcpy(m->token, t[i].str, t[i].len);
			m->token_len = (uint8_t)t[i].len;
		}
		return 0;
	}

	/* Response. */
	i = bencode_dict_get(t, a, "token");
	if (get_str(t, i, 1, KRPC_MAX_TOKEN)) {
		memcpy(m->token, t[i].str, t[i].len);
		m->token_len = (uint8_t)t[i].len;
	}
	if (get_nodes(t, bencode_dict_get(t, a, "nodes"), KRPC_NODE4_LEN,
		      m->nodes, &m->n_nodes, &m->n_dropped) ||
	    get_nodes(t, bencode_dict_get(t, a, "nodes6"), KRPC_NODE6_LEN,
		      m->nodes6, &m->n_nodes6, &m->n_dropped))
		return -EINVAL;
	if (parse_item(t, a, m, false) < 0 || m->is_v_too_big)
		return -EINVAL;
	i = bencode_dict_get(t, a, "values");
	if (i >= 0) {
		if (t[i].type != BENC_LIST)
			return -EINVAL;
		int v = i + 1;
		for (uint32_t k = 0; k < t[i].count; k++, v += (int)t[v].span) {
			if (t[v].type != BENC_STR || m->n_values >= KRPC_MAX_VALUES ||
			    !krpc_addr_get(t[v].str, t[v].len, &m->values[m->n_values])) {
				m->n_dropped++;
				continue;
			}
			m->n_values++;
		}
	}
	return 0;
}

int krpc_parse(const uint8_t *buf, size_t len, struct krpc_msg *out)
{
	struct benc_tok t[KRPC_MAX_TOKS];
	struct krpc_msg *m = out;
	int n, i, rc;

	memset(m, 0, sizeof(*m));
	n = bencode_decode(buf, len, t, KRPC_MAX_TOKS, 0);
	if (n < 0 || t[0].type != BENC_DICT)
		return -EINVAL;

	i = bencode_dict_get(t, 0, "t");
	if (!get_str(t, i, 0, KRPC_MAX_TID))
		return -EINVAL;
	memcpy(m->tid, t[i].str, t[i].len);
	m->tid_len = (uint8_t)t[i].len;

	i = bencode_dict_get(t, 0, "v");
	if (get_str(t, i, 1, KRPC_MAX_VERSION)) {
		memcpy(m->version, t[i].str, t[i].len);
		m->version_len = (uint8_t)t[i].len;
	}
	i = bencode_dict_get(t, 0, "ip");
	if (i >= 0 && t[i].type == BENC_STR && krpc_addr_get(t[i].str, t[i].len, &m->ip))
		m->has_ip = true;

	i = bencode_dict_get(t, 0, "y");
	if (bencode_str_is(t, i, "q")) {
		m->type = KRPC_QUERY;
		i = bencode_dict_get(t, 0, "q");
		if (i < 0 || t[i].type != BENC_STR)
			return -EINVAL;
		if (bencode_str_is(t, i, "ping"))
			m->method = KRPC_PING;
		else if (bencode_str_is(t, i, "find_node"))
			m->method = KRPC_FIND_NODE;
		else if (bencode_str_is(t, i, "get_peers"))
			m->method = KRPC_GET_PEERS;
		else if (bencode_str_is(t, i, "announce_peer"))
			m->method = KRPC_ANNOUNCE_PEER;
		else if (bencode_str_is(t, i, "get"))
			m->method = KRPC_GET;
		else if (bencode_str_is(t, i, "put"))
			m->method = KRPC_PUT;
		else
			m->method = KRPC_UNKNOWN;
		i = bencode_dict_get(t, 0, "ro");
		m->is_read_only = i >= 0 && t[i].type == BENC_INT && t[i].ival == 1;
		i = bencode_dict_get(t, 0, "a");
		if (i < 0 || t[i].type != BENC_DICT)
			return -EPROTO;
		return parse_args(t, i, m);
	}
	if (bencode_str_is(t, i, "r")) {
		m->type = KRPC_RESPONSE;
		i = bencode_dict_get(t, 0, "r");
		if (i < 0 || t[i].type != BENC_DICT)
			return -EINVAL;
		rc = parse_args(t, i, m);
		return rc ? -EINVAL : 0;
	}
	if (bencode_str_is(t, i, "e")) {
		m->type = KRPC_ERROR;
		i = bencode_dict_get(t, 0, "e");
		if (i < 0 || t[i].type != BENC_LIST || t[i].count < 1)
			return -EINVAL;
		int c = bencode_list_item(t, i, 0), s = bencode_list_item(t, i, 1);
		if (t[c].type != BENC_INT || t[c].ival < 0 || t[c].ival > 65535)
			return -EINVAL;
		m->error_code = (int)t[c].ival;
		if (s >= 0 && t[s].type == BENC_STR) {
			size_t k = t[s].len < KRPC_MAX_ERRMSG - 1 ? t[s].len : KRPC_MAX_ERRMSG - 1;
			memcpy(m->error_msg, t[s].str, k);
		}
		return 0;
	}
	return -EINVAL;
}

static void put_nodes(struct benc_writer *w, const char *key,
		      const struct krpc_node *nodes, size_t n, size_t each)
{
	uint8_t tmp[KRPC_MAX_NODES * KRPC_NODE6_LEN];
	size_t len = 0;
	for (size_t k = 0; k < n && k < KRPC_MAX_NODES; k++) {
		memcpy(tmp + len, nodes[k].id, KRPC_ID_LEN);
		len += KRPC_ID_LEN;
		len += krpc_addr_put(tmp + len, &nodes[k].addr);
		(void)each;
	}
	bencode_put_cstr(w, key);
	bencode_put_str(w, tmp, len);
}

static const char *method_name(uint8_t method)
{
	switch (method) {
	case KRPC_PING: return "ping";
	case KRPC_FIND_NODE: return "find_node";
	case KRPC_GET_PEERS: return "get_peers";
	case KRPC_ANNOUNCE_PEER: return "announce_peer";
	case KRPC_GET: return "get";
	case KRPC_PUT: return "put";
	default: return NULL;
	}
}

/* The arguments of get and put in BEP 3 order: cas, id, k, salt, seq, sig,
 * target, token, v, want. */
static void put_item_args(struct benc_writer *w, const struct krpc_msg *m)
{
	bool is_put = m->method == KRPC_PUT;
	if (is_put && m->has_cas) {
		bencode_put_cstr(w, "cas");
		bencode_put_int(w, m->cas);
	}
	bencode_put_cstr(w, "id");
	bencode_put_str(w, m->id, KRPC_ID_LEN);
	if (is_put) {
		bencode_put_cstr(w, "k");
		bencode_put_str(w, m->k, KRPC_ITEM_KEY_LEN);
		if (m->salt_len) {
			bencode_put_cstr(w, "salt");
			bencode_put_str(w, m->salt, m->salt_len);
		}
	}
	if (is_put || m->has_seq) {
		bencode_put_cstr(w, "seq");
		bencode_put_int(w, m->seq);
	}
	if (is_put) {
		bencode_put_cstr(w, "sig");
		bencode_put_str(w, m->sig, KRPC_ITEM_SIG_LEN);
		bencode_put_cstr(w, "token");
		bencode_put_str(w, m->token, m->token_len);
		bencode_put_cstr(w, "v");
		bencode_put_raw(w, m->v, m->v_len);
		return;
	}
	bencode_put_cstr(w, "target");
	bencode_put_str(w, m->target, KRPC_ID_LEN);
	if (m->want) {
		bencode_put_cstr(w, "want");
		bencode_put_list(w);
		if (m->want & KRPC_WANT_N4)
			bencode_put_cstr(w, "n4");
		if (m->want & KRPC_WANT_N6)
			bencode_put_cstr(w, "n6");
		bencode_put_end(w);
	}
}

int krpc_encode(const struct krpc_msg *m, uint8_t *buf, size_t cap)
{
	struct benc_writer w;
	uint8_t tmp[18];

	bencode_writer_init(&w, buf, cap);
	bencode_put_dict(&w);
	switch (m->type) {
	case KRPC_QUERY: {
		const char *name = method_name(m->method);
		if (!name)
			return -EINVAL;
		/* Keys in BEP 3 order: a, q, ro, t, v, y; inside a: id,
		 * implied_port, info_hash, port, target, token, want. */
		bencode_put_cstr(&w, "a");
		bencode_put_dict(&w);
		if (m->method == KRPC_PUT && (m->v_len == 0 || m->is_salt_too_big))
			return -EINVAL;         /* a put parsed with an oversized v or salt */
		if (m->method == KRPC_GET || m->method == KRPC_PUT) {
			put_item_args(&w, m);
			bencode_put_end(&w);
			bencode_put_cstr(&w, "q");
			bencode_put_cstr(&w, name);
			if (m->is_read_only) {
				bencode_put_cstr(&w, "ro");
				bencode_put_int(&w, 1);
			}
			break;
		}
		bencode_put_cstr(&w, "id");
		bencode_put_str(&w, m->id, KRPC_ID_LEN);
		if (m->method == KRPC_ANNOUNCE_PEER && m->implied_port) {
			bencode_put_cstr(&w, "implied_port");
			bencode_put_int(&w, 1);
		}
		if (m->method == KRPC_GET_PEERS || m->method == KRPC_ANNOUNCE_PEER) {
			bencode_put_cstr(&w, "info_hash");
			bencode_put_str(&w, m->target, KRPC_ID_LEN);
		}
		if (m->method == KRPC_ANNOUNCE_PEER) {
			bencode_put_cstr(&w, "port");
			bencode_put_int(&w, m->port);
		}
		if (m->method == KRPC_FIND_NODE) {
			bencode_put_cstr(&w, "target");
			bencode_put_str(&w, m->target, KRPC_ID_LEN);
		}
		if (m->method == KRPC_ANNOUNCE_PEER) {
			bencode_put_cstr(&w, "token");
			bencode_put_str(&w, m->token, m->token_len);
		}
		if (m->want && (m->method == KRPC_FIND_NODE || m->method == KRPC_GET_PEERS)) {
			bencode_put_cstr(&w, "want");
			bencode_put_list(&w);
			if (m->want & KRPC_WANT_N4)
				bencode_put_cstr(&w, "n4");
			if (m->want & KRPC_WANT_N6)
				bencode_put_cstr(&w, "n6");
			bencode_put_end(&w);
		}
		bencode_put_end(&w);
		bencode_put_cstr(&w, "q");
		bencode_put_cstr(&w, name);
		if (m->is_read_only) {
			bencode_put_cstr(&w, "ro");
			bencode_put_int(&w, 1);
		}
		break;
	}
	case KRPC_RESPONSE:
		/* Keys: ip, r, t, v, y; inside r: id, nodes, nodes6, token, values. */
		if (m->has_ip) {
			bencode_put_cstr(&w, "ip");
			bencode_put_str(&w, tmp, krpc_addr_put(tmp, &m->ip));
		}
		bencode_put_cstr(&w, "r");
		bencode_put_dict(&w);
		bencode_put_cstr(&w, "id");
		bencode_put_str(&w, m->id, KRPC_ID_LEN);
		if (m->has_k) {
			bencode_put_cstr(&w, "k");
			bencode_put_str(&w, m->k, KRPC_ITEM_KEY_LEN);
		}
		if (m->n_nodes)
			put_nodes(&w, "nodes", m->nodes, m->n_nodes, KRPC_NODE4_LEN);
		if (m->n_nodes6)
			put_nodes(&w, "nodes6", m->nodes6, m->n_nodes6, KRPC_NODE6_LEN);
		if (m->has_seq) {
			bencode_put_cstr(&w, "seq");
			bencode_put_int(&w, m->seq);
		}
		if (m->has_sig) {
			bencode_put_cstr(&w, "sig");
			bencode_put_str(&w, m->sig, KRPC_ITEM_SIG_LEN);
		}
		if (m->token_len) {
			bencode_put_cstr(&w, "token");
			bencode_put_str(&w, m->token, m->token_len);
		}
		if (m->has_v && m->v_len) {
			bencode_put_cstr(&w, "v");
			bencode_put_raw(&w, m->v, m->v_len);
		}
		if (m->n_values) {
			bencode_put_cstr(&w, "values");
			bencode_put_list(&w);
			for (size_t k = 0; k < m->n_values && k < KRPC_MAX_VALUES; k++)
				bencode_put_str(&w, tmp, krpc_addr_put(tmp, &m->values[k]));
			bencode_put_end(&w);
		}
		bencode_put_end(&w);
		break;
	case KRPC_ERROR:
		bencode_put_cstr(&w, "e");
		bencode_put_list(&w);
		bencode_put_int(&w, m->error_code);
		bencode_put_str(&w, m->error_msg, strnlen(m->error_msg, KRPC_MAX_ERRMSG));
		bencode_put_end(&w);
		break;
	default:
		return -EINVAL;
	}
	bencode_put_cstr(&w, "t");
	bencode_put_str(&w, m->tid, m->tid_len);
	if (m->version_len) {
		bencode_put_cstr(&w, "v");
		bencode_put_str(&w, m->version, m->version_len);
	}
	bencode_put_cstr(&w, "y");
	bencode_put_cstr(&w, m->type == KRPC_QUERY ? "q" : m->type == KRPC_RESPONSE ? "r" : "e");
	bencode_put_end(&w);
	return bencode_writer_finish(&w);
}
