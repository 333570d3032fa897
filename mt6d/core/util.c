/* Small helpers shared by every layer (util.h). */
#include <stdarg.h>
#include <stdio.h>

#include "mt6d/core/util.h"

void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msg_len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
}
