/* The two netlink sockets every engine (server, client, peer) opens: libnl's
 * route socket for links and routes, and the libmnl address socket whose
 * acknowledgements arrive asynchronously and are read on the loop. */
#ifndef MT6D_NLSOCKETS_H
#define MT6D_NLSOCKETS_H

#include <stddef.h>
#include <ev.h>

#include "netlink/nladdr.h"
#include "netlink/nllink.h"

/* Opens both sockets and starts acks_io reading the address socket's
 * acknowledgements. Each handle is stored as soon as it exists, so the
 * caller's usual clean-up frees whatever a failure left. Returns 0, or
 * -errno with the reason in msg. */
int nlsockets_open(struct ev_loop *loop, nladdr_done_fn *done, void *arg,
		   struct nllink **nllink_out, struct nladdr **nladdr_out, ev_io *acks_io,
		   char *msg, size_t msg_len);

/* Starts acks_io on nl's socket (for an engine that opens the sockets
 * itself); a read error is logged, the loop carries on. */
void nlsockets_watch_acks(struct ev_loop *loop, ev_io *acks_io, struct nladdr *nl);

#endif
