#include "mt6d/engine/sockbuf.h"

#include <errno.h>
#include <sys/socket.h>

int sockbuf_set(int fd, bool is_rcv, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, is_rcv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &bytes,
		       sizeof(bytes)) == 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, is_rcv ? SO_RCVBUF : SO_SNDBUF, &bytes, sizeof(bytes)) == 0
		       ? 0
		       : -errno;
}
