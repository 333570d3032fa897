/* A multi-queue TUN: queues 1.. each read, sealed and sent by a thread of
 * its own, with its own libev loop; queue 0 and the receive side stay on
 * the tunnel's loop (one peer 4-tuple per slot: the kernel would hand every
 * datagram to one socket anyway). */
#include "mt6d/engine/tunnel.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/base/log.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/tunnel_int.h"
#include "tun/tun.h"

static void worker_tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel_worker *wk = container_of(w, struct tunnel_worker, tun_io);
	struct tunnel_tx x = {
		.t = wk->t, .tx = &wk->tx, .sc = &wk->sc, .stats = &wk->stats,
		.has_gso = &wk->has_gso,
		.lock = &wk->lock,
	};

	(void)loop;
	(void)revents;
	tunnel_tun_read(&x, wk->q);
}

static void worker_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *worker_main(void *arg)
{
	struct tunnel_worker *wk = arg;

	ev_run(wk->loop, 0);
	return NULL;
}

int tunnel_workers_new(struct tunnel *t, const struct tunnel_config *cfg, char *msg,
		       size_t msg_len)
{
	unsigned i;
	int rc;

	if (t->n_queues <= 1)
		return 0;
	t->workers = calloc(t->n_queues - 1, sizeof(*t->workers));
	if (!t->workers) {
		set_msg(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < t->n_queues - 1; i++) {
		struct tunnel_worker *wk = &t->workers[i];

		wk->t = t;
		wk->q = i + 1;
		wk->has_gso = t->has_gso;
		rc = -pthread_mutex_init(&wk->lock, NULL);
		if (rc < 0) {
			set_msg(msg, msg_len, "a lock for TUN queue %u", wk->q);
			return rc;
		}
		wk->has_lock = true;
		/* A sender instance per thread: a fresh random instance id, the
		 * AEAD and padding of the main loop's. */
		wire_tx_init(&wk->tx, cfg->tx_key);
		wk->has_tx = true;
		if (t->stats.is_aes && wire_tx_set_aead(&wk->tx, WIRE_AEAD_AES256_GCM) < 0) {
			set_msg(msg, msg_len, "AES-256-GCM for TUN queue %u", wk->q);
			return -ENOMEM;
		}
		if (wire_tx_set_padding(&wk->tx, cfg->padding, t->tun_mtu) < 0) {
			set_msg(msg, msg_len, "padding for TUN queue %u", wk->q);
			return -EINVAL;
		}
		rc = tunnel_scratch_tx_get(&wk->sc, tunnel_scratch->buf_len);
		if (rc < 0) {
			set_msg(msg, msg_len, "buffers for TUN queue %u", wk->q);
			return rc;
		}
		wk->loop = ev_loop_new(EVFLAG_AUTO);
		if (!wk->loop) {
			set_msg(msg, msg_len, "an event loop for TUN queue %u", wk->q);
			return -ENOMEM;
		}
		ev_io_init(&wk->tun_io, worker_tun_cb, tun_fd(t->tun, wk->q), EV_READ);
		ev_io_start(wk->loop, &wk->tun_io);
		ev_async_init(&wk->stop, worker_stop_cb);
		ev_async_start(wk->loop, &wk->stop);
	}
	return 0;
}

/* On the loop's first iteration: the caller has dropped its privileges by
 * then (capabilities are per thread: a thread made before the drop would
 * keep them all). */
static void workers_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tunnel *t = container_of(w, struct tunnel, workers_timer);
	sigset_t all, old;
	unsigned i, started = 0;

	(void)loop;
	(void)revents;
	/* Signals stay with the main thread (the daemon's watchers). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < t->n_queues - 1; i++) {
		struct tunnel_worker *wk = &t->workers[i];
		int rc = pthread_create(&wk->thread, NULL, worker_main, wk);

		if (rc != 0) {
			/* Its packets wait in its queue: say so, loudly. */
			log_err(-rc, "tunnel %s: starting the thread of TUN queue %u",
				tun_name(t->tun), wk->q);
			continue;
		}
		wk->has_thread = true;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("tunnel %s: %u TUN queues, %u with a thread of their own", tun_name(t->tun),
		 t->n_queues, started);
}

void tunnel_workers_start(struct tunnel *t)
{
	if (!t->workers)
		return;
	ev_timer_init(&t->workers_timer, workers_timer_cb, 0., 0.);
	ev_timer_start(t->loop, &t->workers_timer);
}

void tunnel_workers_free(struct tunnel *t)
{
	unsigned i;

	if (!t->workers)
		return;
	if (t->loop)
		ev_timer_stop(t->loop, &t->workers_timer);
	for (i = 0; i < t->n_queues - 1; i++) {
		struct tunnel_worker *wk = &t->workers[i];

		if (wk->has_thread) {
			ev_async_send(wk->loop, &wk->stop);
			pthread_join(wk->thread, NULL);
			wk->has_thread = false;
		}
	}
	for (i = 0; i < t->n_queues - 1; i++) {
		struct tunnel_worker *wk = &t->workers[i];

		if (wk->loop)
			ev_loop_destroy(wk->loop);
		if (wk->has_lock)
			pthread_mutex_destroy(&wk->lock);
		if (wk->has_tx)
			wire_tx_fini(&wk->tx);
		tunnel_scratch_wipe(&wk->sc);
	}
	free(t->workers);
	t->workers = NULL;
}

void tunnel_worker_lock(const struct tunnel_tx *x)
{
	if (!x->lock)
		return;
	/* Bounded: the main loop holds the locks for one move of the window
	 * or one reading of the counters. */
	while (__atomic_load_n(&x->t->main_waiting, __ATOMIC_ACQUIRE))
		sched_yield();
	pthread_mutex_lock(x->lock);
}

void tunnel_worker_unlock(const struct tunnel_tx *x)
{
	if (x->lock)
		pthread_mutex_unlock(x->lock);
}

/* The main loop's side: announced first, so that the worker, done with its
 * batch, lets it in. */
static void main_lock(struct tunnel *t, struct tunnel_worker *wk)
{
	__atomic_add_fetch(&t->main_waiting, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&wk->lock);
}

static void main_unlock(struct tunnel *t, struct tunnel_worker *wk)
{
	pthread_mutex_unlock(&wk->lock);
	__atomic_sub_fetch(&t->main_waiting, 1, __ATOMIC_ACQ_REL);
}

void tunnel_workers_lock(struct tunnel *t)
{
	for (unsigned i = 0; t->workers && i < t->n_queues - 1; i++)
		main_lock(t, &t->workers[i]);
}

void tunnel_workers_unlock(struct tunnel *t)
{
	for (unsigned i = 0; t->workers && i < t->n_queues - 1; i++)
		main_unlock(t, &t->workers[i]);
}

void tunnel_workers_add_stats(struct tunnel *t, struct tunnel_stats *s)
{
	for (unsigned i = 0; t->workers && i < t->n_queues - 1; i++) {
		struct tunnel_worker *wk = &t->workers[i];

		main_lock(t, wk);
		s->tx_packets += wk->stats.tx_packets;
		s->tx_bytes += wk->stats.tx_bytes;
		s->drops_tx += wk->stats.drops_tx;
		s->tx_super += wk->stats.tx_super;
		if (wk->q < TUNNEL_MAX_QUEUES)
			s->queue_tx[wk->q] = wk->stats.tx_packets;
		main_unlock(t, wk);
	}
}
