/* Two words every module speaks: filling a caller's message buffer (the
 * lower layers' only way to explain an error, STYLE rule 7) and getting a
 * struct back from a member embedded in it (libev watchers, list links).
 * They are the one exception to the module-prefix rule: a prefix would only
 * make every call site longer. Pure: libc only. */
#ifndef MT6D_UTIL_H
#define MT6D_UTIL_H

#include <stddef.h>

/* The struct of type that holds member at ptr. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* printf into msg (msg_len bytes, always NUL-terminated); truncation is
 * fine, messages hold paths. msg NULL or msg_len 0: nothing is written. */
void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
