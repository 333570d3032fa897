#include "mt6d/core/ctlproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_reply_printf(struct ctl_reply *reply, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (reply->is_truncated)
		return -EMSGSIZE;
	for (;;) {
		size_t room = reply->cap - reply->len;

		va_start(ap, fmt);
		n = vsnprintf(reply->buf ? reply->buf + reply->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room) {
			reply->len += (size_t)n;
			return 0;
		}
		if (reply->len + (size_t)n + 1 > CTL_MAX_REPLY_LEN) {
			reply->is_truncated = true;
			return -EMSGSIZE;
		}
		size_t cap = reply->cap ? reply->cap : 4096;
		while (cap < reply->len + (size_t)n + 1)
			cap *= 2;
		char *buf = realloc(reply->buf, cap);
		if (!buf) {
			reply->is_truncated = true;
			return -ENOMEM;
		}
		reply->buf = buf;
		reply->cap = cap;
	}
}

int ctl_request_parse(char *text, struct ctl_request *req)
{
	char *line = text, *nl;
	size_t n = 0;

	memset(req, 0, sizeof(*req));
	while ((nl = strchr(line, '\n')) && nl != line) {
		char *eq;
		size_t i;

		*nl = '\0';
		if ((size_t)(nl - line) + 1 > CTL_MAX_LINE_LEN)
			return -EINVAL;
		for (i = 0; line + i < nl; i++)
			if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
				return -EINVAL;
		eq = strchr(line, '=');
		if (!eq || eq == line)
			return -EINVAL;
		*eq = '\0';
		if (n == 0) {
			if (strcmp(eq + 1, "1") || (strcmp(line, "get") && strcmp(line, "set")))
				return -EINVAL;
			req->is_set = !strcmp(line, "set");
		} else {
			if (n > CTL_MAX_LINES)
				return -EINVAL;
			req->pairs[n - 1].key = line;
			req->pairs[n - 1].value = eq + 1;
			req->n_pairs = n;
		}
		n++;
		line = nl + 1;
	}
	return n ? 0 : -EINVAL;
}

void ctl_reply_fini(struct ctl_reply *reply)
{
	if (!reply)
		return;
	free(reply->buf);
	memset(reply, 0, sizeof(*reply));
}
