/* The control protocol of the daemons (docs/running.md, "Control"), the part
 * that touches no socket: parsing a request and building a reply. Pure, so
 * the engines can answer requests without knowing where they came from, and
 * so the parser is fuzzed from memory (tests/fuzz/fuzz_ctl.c). The socket
 * side is mt6d/daemon/ctl.h.
 *
 *   request:  "get=1\n\n"  or  "set=1\n" { "key=value\n" } "\n"
 *   reply:    { "key=value\n" } "errno=N\n\n"      (N = 0 or a positive errno)
 *
 * Keys and values are printable ASCII without '=' in the key and without
 * newlines; a request has at most CTL_MAX_LINES lines of at most
 * CTL_MAX_LINE_LEN bytes. */
#ifndef MT6D_CTLPROTO_H
#define MT6D_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_LINES 64           /* lines in one request */
#define CTL_MAX_LINE_LEN 512       /* bytes in one request line, newline included */
#define CTL_MAX_REPLY_LEN (1u << 25) /* cut beyond (EMSGSIZE); 15,000 sessions made 4 MiB */
#define CTL_REQUEST_MAX (CTL_MAX_LINES * CTL_MAX_LINE_LEN)

struct ctl_pair {
	const char *key, *value;
};

struct ctl_request {
	bool is_set;                     /* "set=1" (else "get=1") */
	size_t n_pairs;                  /* the key=value lines after the first */
	struct ctl_pair pairs[CTL_MAX_LINES];
};

/* A reply being built; the handler appends lines with ctl_reply_printf.
 * Zero-initialise it; ctl_reply_fini frees its buffer. */
struct ctl_reply {
	char *buf;                       /* malloc'd, NUL-terminated once len > 0 */
	size_t len, cap;                 /* bytes used, bytes allocated */
	bool is_truncated;               /* grew past CTL_MAX_REPLY_LEN */
};

/* Appends text (normally "key=value\n" lines). Returns 0 or -EMSGSIZE once
 * the reply would exceed CTL_MAX_REPLY_LEN (then the reply ends with
 * errno=EMSGSIZE). */
int ctl_reply_printf(struct ctl_reply *reply, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Answers one request: returns 0 or -errno, sent as errno=N after whatever
 * it appended. Called on the loop; the request is borrowed for the call. */
typedef int ctl_handler_fn(void *ctx, const struct ctl_request *req, struct ctl_reply *reply);

/* Splits a request (NUL-terminated, ending with its empty line) in place:
 * the pairs point into text. Returns 0, or -EINVAL for anything that is not
 * a well-formed request. */
int ctl_request_parse(char *text, struct ctl_request *req_out);

/* Frees the reply's buffer and zeroes it. NULL is fine. */
void ctl_reply_fini(struct ctl_reply *reply);

#endif
