// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --listen's per-host connection limit: which client addresses are one host
 * (every loopback address, an IPv6 /64, an IPv4-mapped address as IPv4), and
 * a real server on 127.0.0.1 refusing a fifth connection from 127.0.0.2
 * while 127.0.0.1 holds four, then serving again once one closes.
 * Ports 47450-47459 belong to this test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "sinks/http_hosts.h"
#include "sinks/outputs.h"
#include "unit.h"

#define PORT 47450

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;

	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	return ss;
}

static int same_host(const char *a, const char *b)
{
	struct sockaddr_storage x = addr(a), y = addr(b);
	struct lm_http_host_key kx, ky;

	return !lm_http_host_key((void *)&x, &kx) && !lm_http_host_key((void *)&y, &ky) &&
	       !memcmp(&kx, &ky, sizeof(kx));
}

static void test_keys(void)
{
	struct lm_http_hosts h = {};
	struct sockaddr_storage lo2 = addr("127.0.0.2"), lo1 = addr("::1");

	ASSERT_TRUE(same_host("127.0.0.1", "127.0.0.2"), "every 127/8 address is this host");
	ASSERT_TRUE(same_host("127.0.0.1", "::1"), "::1 too");
	ASSERT_TRUE(same_host("::ffff:127.0.0.9", "127.0.0.1"), "and a v4-mapped loopback");
	ASSERT_TRUE(!same_host("10.0.0.1", "10.0.0.2"), "two IPv4 hosts");
	ASSERT_TRUE(same_host("::ffff:10.0.0.1", "10.0.0.1"), "v4-mapped is the IPv4 host");
	ASSERT_TRUE(same_host("2001:db8::1", "2001:db8::ffff:2"), "one IPv6 /64 is one host");
	ASSERT_TRUE(!same_host("2001:db8::1", "2001:db8:0:1::1"), "another /64 is another");
	lm_http_hosts_count(&h, (void *)&lo2, 1);
	lm_http_hosts_count(&h, (void *)&lo1, 1);
	ASSERT_EQ(lm_http_hosts_open(&h, (void *)&lo2), 2, "two open from this host");
	lm_http_hosts_count(&h, (void *)&lo2, -1);
	lm_http_hosts_count(&h, (void *)&lo2, -1);
	lm_http_hosts_count(&h, (void *)&lo2, -1);
	ASSERT_EQ(lm_http_hosts_open(&h, (void *)&lo1), 0, "closed, never below zero");
}

/* A connection from src to 127.0.0.1:PORT, or -1. */
static int connect_from(const char *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, src, &a.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	to.sin_port = htons(PORT);
	if (fd < 0 || bind(fd, (void *)&a, sizeof(a)) || connect(fd, (void *)&to, sizeof(to))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* 1 if the server closed fd within ms, 0 if it kept it open. */
static int closed_by_server(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, 0) <= 0;
}

static int scrape_from(const char *src)
{
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char resp[64] = "";
	int fd = connect_from(src), status = -1;

	if (fd >= 0 && send(fd, get, strlen(get), 0) > 0 && recv(fd, resp, sizeof(resp) - 1, 0) > 0)
		sscanf(resp, "HTTP/1.%*d %d", &status);
	if (fd >= 0)
		close(fd);
	return status;
}

static void test_server(void)
{
	char listen[32], err[256];
	struct lm_sink *s = NULL;
	int held[4], fifth, i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", PORT);
	if (!ASSERT_EQ(lm_sink_http_new(listen, &s, err, sizeof(err)), 0, err))
		return;
	for (i = 0; i < 4; i++)
		held[i] = connect_from("127.0.0.1");
	usleep(200000);
	fifth = connect_from("127.0.0.2");
	ASSERT_TRUE(fifth >= 0, "the kernel accepts the connection");
	ASSERT_TRUE(closed_by_server(fifth, 2000), "a fifth from 127.0.0.2 while 127.0.0.1 holds four: refused");
	close(fifth);
	ASSERT_TRUE(!closed_by_server(held[0], 300), "the four held stay open");
	close(held[0]);
	usleep(200000);
	ASSERT_EQ(scrape_from("127.0.0.3"), 200, "one closed: this host is served again");
	for (i = 1; i < 4; i++)
		close(held[i]);
	ASSERT_EQ(s->close(s), 0, "server stops");
}

int main(int argc, char **argv)
{
	test_keys();
	test_server();
	return unit_done(argv[0]);
}
