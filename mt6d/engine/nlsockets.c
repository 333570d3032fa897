#include "mt6d/engine/nlsockets.h"

#include <errno.h>
#include <string.h>

#include "mt6d/base/log.h"
#include "mt6d/core/util.h"

static void acks_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int rc;

	(void)loop;
	(void)revents;
	rc = nladdr_process_acks(w->data);
	if (rc < 0 && rc != -EAGAIN)
		log_err(rc, "reading netlink acknowledgements");
}

void nlsockets_watch_acks(struct ev_loop *loop, ev_io *acks_io, struct nladdr *nl)
{
	ev_io_init(acks_io, acks_cb, nladdr_fd(nl), EV_READ);
	acks_io->data = nl;
	ev_io_start(loop, acks_io);
}

int nlsockets_open(struct ev_loop *loop, nladdr_done_fn *done, void *arg,
		   struct nllink **nllink_out, struct nladdr **nladdr_out, ev_io *acks_io,
		   char *msg, size_t msg_len)
{
	int rc;

	rc = nllink_new(nllink_out);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening a netlink route socket: %s", strerror(-rc));
		return rc;
	}
	rc = nladdr_new(done, arg, nladdr_out);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the netlink address socket: %s", strerror(-rc));
		return rc;
	}
	nlsockets_watch_acks(loop, acks_io, *nladdr_out);
	return 0;
}
