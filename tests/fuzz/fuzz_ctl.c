/* libFuzzer target for the control-socket request parser
 * (mt6d/core/ctlproto.h): any text must parse or fail cleanly, and what
 * parses must keep the protocol's promises (printable keys without '=',
 * values without newlines, every pointer inside the text), and answer
 * through a reply that stays within its cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/core/ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, const char *lo, const char *hi, bool may_have_eq)
{
	if (s < lo || s >= hi)
		abort();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || (!may_have_eq && *s == '='))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[CTL_REQUEST_MAX + 2];
	static struct ctl_request req;
	/* The daemon reads at most CTL_REQUEST_MAX bytes and ends them with a NUL. */
	if (size > CTL_REQUEST_MAX)
		size = CTL_REQUEST_MAX;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ctl_request_parse(text, &req) != 0)
		return 0;
	if (req.n_pairs > CTL_MAX_LINES)
		abort();
	struct ctl_reply reply = { 0 };
	for (size_t i = 0; i < req.n_pairs; i++) {
		const struct ctl_pair *p = &req.pairs[i];
		check_text(p->key, text, text + size, false);
		check_text(p->value, text, text + size + 1, true);
		if (!*p->key || strlen(p->key) + strlen(p->value) + 2 > CTL_MAX_LINE_LEN)
			abort();
		(void)ctl_reply_printf(&reply, "%s=%s\n", p->key, p->value);
	}
	if (reply.len > CTL_MAX_REPLY_LEN || (reply.len && reply.buf[reply.len] != '\0'))
		abort();
	ctl_reply_fini(&reply);
	return 0;
}
