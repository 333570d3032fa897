/* Socket buffers above the sysctl caps (net.core.rmem_max, wmem_max): the
 * daemons hold CAP_NET_ADMIN, which the FORCE options need; without it the
 * plain option gets what the cap allows. One place for the tunnel's slot
 * sockets, the shared slot sockets and the introduction sockets. */
#ifndef MT6D_SOCKBUF_H
#define MT6D_SOCKBUF_H

#include <stdbool.h>

/* Sets fd's receive (is_rcv) or send buffer to bytes. Returns 0, or -errno
 * of the plain option when both failed. */
int sockbuf_set(int fd, bool is_rcv, int bytes);

#endif
