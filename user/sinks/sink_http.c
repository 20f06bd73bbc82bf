// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --listen ADDR:PORT: Prometheus scrapes GET /metrics. The HTTP side is
 * libmicrohttpd (a maintained, widely deployed server library) on its own
 * polling thread: non-blocking, at most HTTP_MAX_CONNS connections (4 per
 * client host, http_hosts.h), idle connections closed after HTTP_TIMEOUT_S, requests
 * bounded in memory. We bind the socket ourselves so a bad address or a
 * port in use gives a precise message.
 *
 * /metrics has no TLS and no authentication: a port alone binds loopback,
 * and an address that reaches beyond this host is served with a warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sinks/http_hosts.h"
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"

#define HTTP_MAX_CONNS	16
#define HTTP_PER_HOST	4
#define HTTP_TIMEOUT_S	10
#define HTTP_MEM_LIMIT	(32 * 1024)

struct http_sink {
	struct lm_sink sink;
	struct lm_prom_state st;
	struct MHD_Daemon *d;
	struct lm_http_hosts hosts;	/* touched by the server's polling thread only */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *text, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_sink *hs = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *text;

	/* Answer on the first call: a request body, if any, is never read. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: lmtrace serves /metrics\n", NULL);
	text = lm_prom_render(&hs->st, &len);
	if (!text)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* A client host that already holds HTTP_PER_HOST connections gets no more. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	const struct http_sink *hs = cls;

	return lm_http_hosts_open(&hs->hosts, addr) < HTTP_PER_HOST ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode what)
{
	struct http_sink *hs = cls;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	if (ci && ci->client_addr)
		lm_http_hosts_count(&hs->hosts, ci->client_addr,
				    what == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* Where a port alone binds: this host only. */
#define HTTP_DEFAULT_HOST	"127.0.0.1"

/*
 * "host:port", "[v6]:port", ":port" or "port"; host and port point into
 * buf (host at HTTP_DEFAULT_HOST when not given).
 */
static int split_addr(const char *addr_port, char *buf, size_t buflen, char **host, char **port)
{
	char *colon;

	if (snprintf(buf, buflen, "%s", addr_port) >= (int)buflen)
		return -ENAMETOOLONG;
	if (buf[0] && strspn(buf, "0123456789") == strlen(buf)) {
		*host = NULL;
		*port = buf;
	} else if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		*end = 0;
		*host = buf + 1;
		*port = end + 2;
	} else {
		colon = strrchr(buf, ':');
		if (!colon)
			return -EINVAL;
		*colon = 0;
		*host = buf;
		*port = colon + 1;
	}
	if (!**port || strspn(*port, "0123456789") != strlen(*port) || strlen(*port) > 5 ||
	    atoi(*port) < 1 || atoi(*port) > 65535)
		return -EINVAL;
	if (!*host || !**host)
		*host = HTTP_DEFAULT_HOST;	/* never every address by default */
	return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const uint8_t *a6 = s6->sin6_addr.s6_addr;

	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	return sa->sa_family == AF_INET6 &&
	       (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		(IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && a6[12] == 127));
}

/* The listening socket, or -errno; *wide: reachable from other hosts. */
static int bind_listen(const char *addr_port, int *wide, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char buf[256], *host, *port;
	int fd = -1, one = 1, ret, saved = 0;

	ret = split_addr(addr_port, buf, sizeof(buf), &host, &port);
	if (ret) {
		snprintf(err, errlen, "--listen %s: expected [ADDR:]PORT with a numeric port, e.g. 9464 "
			 "(127.0.0.1), 10.0.0.5:9464, [::1]:9464 or 0.0.0.0:9464 (every address)",
			 addr_port);
		return ret;
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "--listen %s: %s", addr_port, gai_strerror(ret));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, HTTP_MAX_CONNS)) {
			*wide = !is_loopback(ai->ai_addr);
			break;
		}
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "--listen %s: cannot listen: %s%s", addr_port, strerror(saved),
			 saved == EADDRINUSE ? " (another program has this port: pick another)" :
			 saved == EACCES ? " (ports below 1024 need privileges)" :
			 saved == EADDRNOTAVAIL ? " (not an address of this host)" : "");
		return -saved;
	}
	return fd;
}

/* Every observation and summary: the VM's snapshot follows its view. */
static void http_on_update(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct http_sink *hs = s->ctx;

	lm_prom_update(&hs->st, v->state, v->view);
}

static void http_on_forget(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct http_sink *hs = s->ctx;

	lm_prom_forget(&hs->st, v->state);
}

static int http_close(struct lm_sink *s)
{
	struct http_sink *hs = s->ctx;

	MHD_stop_daemon(hs->d);	/* closes the listening socket too */
	lm_prom_destroy(&hs->st);
	free(hs);
	return 0;
}

static const struct lm_sink http_proto = {
	.name = "http",
	.vm_state_size = sizeof(struct lm_prom_vm),
	.on_update = http_on_update, .on_summary = http_on_update, .on_forget = http_on_forget,
	.close = http_close,
};

int lm_sink_http_new(const char *addr_port, struct lm_sink **out, char *err, size_t errlen)
{
	struct http_sink *hs;
	int fd, wide = 0;

	fd = bind_listen(addr_port, &wide, err, errlen);
	if (fd < 0)
		return fd;
	hs = calloc(1, sizeof(*hs));
	if (!hs) {
		close(fd);
		snprintf(err, errlen, "--listen: out of memory");
		return -ENOMEM;
	}
	lm_prom_init(&hs->st);
	hs->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, on_accept, hs,
				 on_request, hs,
				 MHD_OPTION_LISTEN_SOCKET, fd,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
				 MHD_OPTION_NOTIFY_CONNECTION, on_connection, hs,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEM_LIMIT,
				 MHD_OPTION_END);
	if (!hs->d) {
		snprintf(err, errlen, "--listen %s: cannot start the HTTP server (libmicrohttpd)", addr_port);
		close(fd);
		lm_prom_destroy(&hs->st);
		free(hs);
		return -EIO;
	}
	if (wide)
		fprintf(stderr, "lmtrace: warning: --listen %s: /metrics is reachable from other hosts "
			"and has no TLS or authentication; keep it on a management network or behind "
			"a firewall\n", addr_port);
	hs->sink = http_proto;
	hs->sink.ctx = hs;
	*out = &hs->sink;
	return 0;
}
