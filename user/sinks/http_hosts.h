/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Connections to --listen counted per client host, not per address: every
 * loopback address (127.0.0.0/8, ::1) is this one host, and an IPv6 client
 * counts by its /64 (a host's temporary addresses rotate inside it). A
 * local user holding 4 connections from each of 127.0.0.2, .3, ... could
 * otherwise take every slot; per address is what libmicrohttpd counts.
 * Not thread-safe: the HTTP server calls it from its one polling thread.
 */
#ifndef LM_HTTP_HOSTS_H
#define LM_HTTP_HOSTS_H

#include <stdint.h>
#include <sys/socket.h>

#define LM_HTTP_HOSTS_MAX	16	/* as many hosts as connections at once */

struct lm_http_host_key {
	uint8_t b[9];		/* family tag, then the address or its /64 */
};

struct lm_http_hosts {
	struct {
		struct lm_http_host_key key;
		uint32_t conns;
	} e[LM_HTTP_HOSTS_MAX];
};

/* The host a client address belongs to; -1 for a family that is neither IPv4 nor IPv6. */
int lm_http_host_key(const struct sockaddr *sa, struct lm_http_host_key *key);
/* Connections open from sa's host now. */
uint32_t lm_http_hosts_open(const struct lm_http_hosts *h, const struct sockaddr *sa);
/* A connection from sa's host opened (+1) or closed (-1). */
void lm_http_hosts_count(struct lm_http_hosts *h, const struct sockaddr *sa, int delta);

#endif /* LM_HTTP_HOSTS_H */
