/* mt6d/ctl: the control socket, server on a real libev loop in this thread,
 * client (ctl_call) in a second thread, over a real UNIX socket. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mt6d/daemon/ctl.h"

struct fixture {
	char dir[64], path[96];
	struct ev_loop *loop;
	struct ctl_server *srv;
	ev_async done;
	/* what the handler saw */
	int calls;
	bool saw_set;
	size_t saw_pairs;
	char saw_key[64], saw_value[64];
	/* what the client got */
	const char *request;
	int call_rc, reply_errno;
	char *reply;
};

static int handler(void *ctx, const struct ctl_request *req, struct ctl_reply *reply)
{
	struct fixture *f = ctx;
	size_t i;

	f->calls++;
	f->saw_set = req->is_set;
	f->saw_pairs = req->n_pairs;
	if (req->n_pairs) {
		snprintf(f->saw_key, sizeof(f->saw_key), "%s", req->pairs[0].key);
		snprintf(f->saw_value, sizeof(f->saw_value), "%s", req->pairs[0].value);
	}
	if (!req->is_set) {
		ctl_reply_printf(reply, "sessions=%d\n", 3);
		ctl_reply_printf(reply, "name=%s\n", "mt6d0");
		return 0;
	}
	if (req->n_pairs && !strcmp(req->pairs[0].key, "huge")) {
		for (i = 0; i < CTL_MAX_REPLY_LEN; i++)
			if (ctl_reply_printf(reply, "line=%zu\n", i) < 0)
				break;
		return 0;
	}
	return -ENOENT;
}

static void done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *client_thread(void *arg)
{
	struct fixture *f = arg;

	f->call_rc = ctl_call(f->path, f->request, 5000, &f->reply, &f->reply_errno);
	ev_async_send(f->loop, &f->done);
	return NULL;
}

/* One request from a client thread while the loop serves it. */
static void exchange(struct fixture *f, const char *request)
{
	pthread_t t;

	free(f->reply);
	f->reply = NULL;
	f->reply_errno = -1;
	f->request = request;
	assert_int_equal(pthread_create(&t, NULL, client_thread, f), 0);
	ev_run(f->loop, 0);
	pthread_join(t, NULL);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mt6d-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/test.sock", f->dir);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	ev_async_init(&f->done, done_cb);
	ev_async_start(f->loop, &f->done);
	assert_int_equal(ctl_server_new(f->loop, f->path, handler, f, &f->srv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_server_free(f->srv);
	ev_loop_destroy(f->loop);
	free(f->reply);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_get(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char want[64];

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	exchange(f, "get=1\n\n");
	assert_int_equal(f->call_rc, 0);
	assert_int_equal(f->reply_errno, 0);
	/* The daemon's dumpable flag first (issue 13), then the handler's. */
	snprintf(want, sizeof(want), "dumpable=%d\nsessions=3\nname=mt6d0\n",
		 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	assert_string_equal(f->reply, want);
	assert_int_equal(f->calls, 1);
	assert_false(f->saw_set);
}

static void test_set_with_error(void **state)
{
	struct fixture *f = *state;

	exchange(f, "set=1\nremove_client=alice\n\n");
	assert_int_equal(f->call_rc, 0);
	assert_int_equal(f->reply_errno, ENOENT);
	assert_string_equal(f->reply, "");
	assert_true(f->saw_set);
	assert_int_equal(f->saw_pairs, 1);
	assert_string_equal(f->saw_key, "remove_client");
	assert_string_equal(f->saw_value, "alice");
}

static void test_malformed_requests(void **state)
{
	static const char *const bad[] = {
		"hello\n\n", "get=2\n\n", "get=1\nnoequals\n\n", "get=1\n=value\n\n",
		"get=1\nkey=va\001lue\n\n", "\n", "put=1\n\n",
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		exchange(f, bad[i]);
		assert_int_equal(f->call_rc, 0);
		assert_int_equal(f->reply_errno, EINVAL);
	}
	assert_int_equal(f->calls, 0);
}

static void test_too_many_lines(void **state)
{
	struct fixture *f = *state;
	char *req = malloc(CTL_MAX_LINES * 16 + 32);
	size_t len = 0;
	int i;

	len += (size_t)sprintf(req + len, "set=1\n");
	for (i = 0; i < CTL_MAX_LINES + 1; i++)
		len += (size_t)sprintf(req + len, "k%d=v\n", i);
	sprintf(req + len, "\n");
	exchange(f, req);
	assert_int_equal(f->reply_errno, EINVAL);
	assert_int_equal(f->calls, 0);
	free(req);
}

static void test_reply_too_big(void **state)
{
	struct fixture *f = *state;

	exchange(f, "set=1\nhuge=1\n\n");
	assert_int_equal(f->call_rc, 0);
	assert_int_equal(f->reply_errno, EMSGSIZE);
	assert_string_equal(f->reply, "");
}

static void test_second_server_refused_stale_replaced(void **state)
{
	struct fixture *f = *state;
	struct ctl_server *other = NULL;

	assert_int_equal(ctl_server_new(f->loop, f->path, handler, f, &other), -EADDRINUSE);
	ctl_server_free(f->srv);
	f->srv = NULL;
	assert_int_not_equal(access(f->path, F_OK), 0); /* free unlinks */
	/* A stale socket file (nobody listening) is replaced. */
	assert_int_equal(ctl_server_new(f->loop, f->path, handler, f, &f->srv), 0);
	ctl_server_free(f->srv);
	f->srv = NULL;
	{
		FILE *stale = fopen(f->path, "w");
		fclose(stale);
	}
	assert_int_equal(ctl_server_new(f->loop, f->path, handler, f, &f->srv), 0);
	exchange(f, "get=1\n\n");
	assert_int_equal(f->reply_errno, 0);
}

static void test_call_without_server(void **state)
{
	char *reply = NULL;
	int e = 0;

	(void)state;
	assert_int_equal(ctl_call("/tmp/mt6d-ctl-nonexistent.sock", "get=1\n\n", 1000, &reply, &e),
			 -ENOENT);
	assert_null(reply);
}

static void test_socket_path(void **state)
{
	char path[108];
	char name[200];

	(void)state;
	assert_int_equal(ctl_socket_path(path, sizeof(path), "mt6d-server"), 0);
	assert_string_equal(path, "/run/mt6d/mt6d-server.sock");
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(ctl_socket_path(path, sizeof(path), name), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_with_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_server_refused_stale_replaced, setup,
						teardown),
		cmocka_unit_test(test_call_without_server),
		cmocka_unit_test(test_socket_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
