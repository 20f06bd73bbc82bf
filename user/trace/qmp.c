// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * QMP client: newline-delimited JSON over a UNIX socket, parsed with jansson.
 * See qmp.h for the contract (errors, events, timeouts).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/units.h"
#include "trace/qmp.h"
#include "trace/qmp_int.h"

int64_t lm_qmp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready until deadline (CLOCK_MONOTONIC ms). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - lm_qmp_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int send_all(struct lm_qmp *q, const char *data, size_t len, int64_t deadline)
{
	ssize_t n;
	int err;

	while (len) {
		err = wait_fd(q->fd, POLLOUT, deadline);
		if (err)
			return err;
		/* MSG_NOSIGNAL: a QEMU that went away must not SIGPIPE the caller. */
		n = send(q->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int is_blank(const char *s, size_t n)
{
	while (n--)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return 0;
		else
			s++;
	return 1;
}

int lm_qmp_read_message(struct lm_qmp *q, int64_t deadline, json_t **msg)
{
	json_error_t jerr;
	char *nl;
	size_t line;
	ssize_t n;
	int err;

	for (;;) {
		nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl) {
			line = (size_t)(nl - q->buf) + 1;
			if (is_blank(q->buf, line)) {
				*msg = NULL;	/* a blank line is harmless */
			} else {
				*msg = json_loadb(q->buf, line, JSON_DISABLE_EOF_CHECK, &jerr);
				if (!json_is_object(*msg)) {
					json_decref(*msg);
					*msg = NULL;
					return -EPROTO;	/* not QMP: stop reading this stream */
				}
			}
			memmove(q->buf, q->buf + line, q->len - line);
			q->len -= line;
			if (*msg)
				return 0;
			continue;
		}
		if (q->len >= LM_QMP_MAX_MSG)
			return -EMSGSIZE;
		if (q->cap - q->len < 4096) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *b = realloc(q->buf, cap);

			if (!b)
				return -ENOMEM;
			q->buf = b;
			q->cap = cap;
		}
		err = wait_fd(q->fd, POLLIN, deadline);
		if (err)
			return err;
		n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		q->len += (size_t)n;
	}
}

void lm_qmp_keep_event(struct lm_qmp *q, json_t *ev)
{
	json_t **slot = &q->events[q->events_seen % LM_QMP_EVENTS_KEPT];

	json_decref(*slot);
	*slot = ev;		/* takes the reference */
	q->events_seen++;
}

static void set_error(struct lm_qmp *q, const json_t *error)
{
	const char *cls = json_string_value(json_object_get(error, "class"));
	const char *desc = json_string_value(json_object_get(error, "desc"));

	/* QEMU's words reach terminals and logs: made safe as any text from outside */
	lm_sanitize_name(q->err_class, sizeof(q->err_class), cls ? cls : "unknown");
	lm_sanitize_name(q->err_desc, sizeof(q->err_desc), desc ? desc : "");
}

const char *lm_qmp_error_desc(const struct lm_qmp *q)
{
	return q->err_desc;
}

int lm_qmp_execute(struct lm_qmp *q, const char *command, json_t *args, json_t **ret)
{
	int64_t deadline = lm_qmp_now_ms() + q->timeout_ms;
	json_t *req = NULL, *msg = NULL, *id;
	char *text = NULL;
	uint64_t my_id = ++q->next_id;
	int err;

	q->err_class[0] = q->err_desc[0] = '\0';
	if (ret)
		*ret = NULL;
	req = json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)my_id);
	if (!req || (args && json_object_set(req, "arguments", args))) {
		err = -ENOMEM;
		goto cleanup;
	}
	text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* json_dumps never emits a raw newline, so this is exactly one message. */
	err = send_all(q, text, strlen(text), deadline);
	if (!err)
		err = send_all(q, "\n", 1, deadline);
	if (err)
		goto cleanup;

	for (;;) {
		err = lm_qmp_read_message(q, deadline, &msg);
		if (err)
			goto cleanup;
		if (json_object_get(msg, "event")) {
			lm_qmp_keep_event(q, msg);
			msg = NULL;
			continue;
		}
		id = json_object_get(msg, "id");
		if (id && (!json_is_integer(id) || (uint64_t)json_integer_value(id) != my_id)) {
			json_decref(msg);	/* answer to an earlier, timed-out command */
			msg = NULL;
			continue;
		}
		break;
	}
	if (json_object_get(msg, "error")) {
		set_error(q, json_object_get(msg, "error"));
		err = -EREMOTEIO;
	} else if (!json_object_get(msg, "return")) {
		err = -EPROTO;
	} else if (ret) {
		*ret = json_incref(json_object_get(msg, "return"));
	}
cleanup:
	json_decref(msg);
	free(text);
	json_decref(req);
	return err;
}

static int handshake(struct lm_qmp *q)
{
	int64_t deadline = lm_qmp_now_ms() + q->timeout_ms;
	json_t *greeting = NULL, *ver;
	int err;

	err = lm_qmp_read_message(q, deadline, &greeting);
	if (err)
		return err;
	ver = json_object_get(json_object_get(greeting, "QMP"), "version");
	if (!ver) {
		json_decref(greeting);
		return -EPROTO;	/* a socket, but not a QMP monitor */
	}
	ver = json_object_get(ver, "qemu");
	q->version[0] = (int)json_integer_value(json_object_get(ver, "major"));
	q->version[1] = (int)json_integer_value(json_object_get(ver, "minor"));
	q->version[2] = (int)json_integer_value(json_object_get(ver, "micro"));
	json_decref(greeting);
	return lm_qmp_execute(q, "qmp_capabilities", NULL, NULL);
}

int lm_qmp_open_fd(struct lm_qmp **qp, int fd, int timeout_ms)
{
	struct lm_qmp *q;
	int err;

	*qp = NULL;
	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		return -ENOMEM;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : LM_QMP_TIMEOUT_MS;
	err = handshake(q);
	if (err) {
		lm_qmp_close(q);
		return err;
	}
	*qp = q;
	return 0;
}

int lm_qmp_open(struct lm_qmp **qp, const char *socket_path, int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	*qp = NULL;
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return lm_qmp_open_fd(qp, fd, timeout_ms);
}

void lm_qmp_close(struct lm_qmp *q)
{
	int i;

	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	for (i = 0; i < LM_QMP_EVENTS_KEPT; i++)
		json_decref(q->events[i]);
	free(q->buf);
	free(q);
}

void lm_qmp_set_timeout(struct lm_qmp *q, int timeout_ms)
{
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : LM_QMP_TIMEOUT_MS;
}

int lm_qmp_peer_pid(const struct lm_qmp *q)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	return cred.pid > 0 ? cred.pid : -ESRCH;
}

/* ---- typed helpers ---- */

static uint64_t get_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	if (json_is_real(v))
		return json_real_value(v) > 0 ? (uint64_t)json_real_value(v) : 0;
	return 0;
}

static int64_t get_i64_or(const json_t *obj, const char *key, int64_t absent)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return absent;
}

/* query-migrate's "ram" counters: each key and where it goes. */
#define RAM(key, member) { key, offsetof(struct lm_qmp_migrate_info, ram.member) }
static const struct {
	const char *key;
	size_t off;
} ram_keys[] = {
	RAM("transferred", transferred), RAM("remaining", remaining), RAM("total", total),
	RAM("duplicate", duplicate), RAM("normal", normal), RAM("normal-bytes", normal_bytes),
	RAM("dirty-pages-rate", dirty_pages_rate), RAM("dirty-sync-count", dirty_sync_count),
	RAM("page-size", page_size), RAM("pages-per-second", pages_per_second),
	RAM("precopy-bytes", precopy_bytes), RAM("downtime-bytes", downtime_bytes),
};
#undef RAM

int lm_qmp_parse_migrate_info(const json_t *ret, struct lm_qmp_migrate_info *out)
{
	const json_t *ram;
	const char *status;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(ret))
		return -EPROTO;
	status = json_string_value(json_object_get(ret, "status"));
	snprintf(out->status, sizeof(out->status), "%s", status ? status : "none");
	out->expected_downtime_ms = get_i64_or(ret, "expected-downtime", -1);
	out->downtime_ms = get_i64_or(ret, "downtime", -1);
	out->total_time_ms = get_i64_or(ret, "total-time", -1);
	out->setup_time_ms = get_i64_or(ret, "setup-time", -1);
	out->cpu_throttle_pct = (uint32_t)get_u64(ret, "cpu-throttle-percentage");
	ram = json_object_get(ret, "ram");
	if (!json_is_object(ram))
		return 0;
	out->has_ram = 1;
	for (i = 0; i < sizeof(ram_keys) / sizeof(ram_keys[0]); i++)
		*(uint64_t *)((char *)out + ram_keys[i].off) = get_u64(ram, ram_keys[i].key);
	out->ram.mbps = json_number_value(json_object_get(ram, "mbps"));
	return 0;
}

int lm_qmp_parse_migrate_params(const json_t *ret, struct lm_qmp_migrate_params *out)
{
	const json_t *tailslow;

	if (!json_is_object(ret))
		return -EPROTO;
	out->downtime_limit_ms = get_i64_or(ret, "downtime-limit", -1);
	out->max_bandwidth = get_i64_or(ret, "max-bandwidth", -1);
	out->cpu_throttle_initial = get_i64_or(ret, "cpu-throttle-initial", -1);
	out->cpu_throttle_increment = get_i64_or(ret, "cpu-throttle-increment", -1);
	out->max_cpu_throttle = get_i64_or(ret, "max-cpu-throttle", -1);
	out->throttle_trigger_threshold = get_i64_or(ret, "throttle-trigger-threshold", -1);
	tailslow = json_object_get(ret, "cpu-throttle-tailslow");
	out->cpu_throttle_tailslow = json_is_boolean(tailslow) ? json_is_true(tailslow) : -1;
	return 0;
}

/* Runs a query and parses its return: -errno, or what parse says. */
static int query(struct lm_qmp *q, const char *cmd, int (*parse)(const json_t *ret, void *out),
		 void *out)
{
	json_t *ret;
	int err;

	err = lm_qmp_execute(q, cmd, NULL, &ret);
	if (err)
		return err;
	err = parse(ret, out);
	json_decref(ret);
	return err;
}

static int parse_info(const json_t *ret, void *out)
{
	return lm_qmp_parse_migrate_info(ret, out);
}

static int parse_params(const json_t *ret, void *out)
{
	return lm_qmp_parse_migrate_params(ret, out);
}

static int parse_ram_size(const json_t *ret, void *out)
{
	if (!json_is_integer(json_object_get(ret, "base-memory")))
		return -EPROTO;
	*(uint64_t *)out = get_u64(ret, "base-memory") + get_u64(ret, "plugged-memory");
	return 0;
}

int lm_qmp_query_migrate(struct lm_qmp *q, struct lm_qmp_migrate_info *out)
{
	return query(q, "query-migrate", parse_info, out);
}

int lm_qmp_query_migrate_params(struct lm_qmp *q, struct lm_qmp_migrate_params *out)
{
	return query(q, "query-migrate-parameters", parse_params, out);
}

int lm_qmp_query_ram_size(struct lm_qmp *q, uint64_t *bytes)
{
	return query(q, "query-memory-size-summary", parse_ram_size, bytes);
}
