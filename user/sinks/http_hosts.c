// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Connections to --listen per client host (http_hosts.h). */
#include <netinet/in.h>
#include <string.h>
#include "sinks/http_hosts.h"

enum { KEY_LOOPBACK = 1, KEY_V4, KEY_V6_64 };

int lm_http_host_key(const struct sockaddr *sa, struct lm_http_host_key *key)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const uint8_t *v4 = NULL;

	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET)
		v4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		v4 = s6->sin6_addr.s6_addr + 12;
	else if (sa->sa_family != AF_INET6)
		return -1;
	if ((v4 && v4[0] == 127) || (!v4 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))) {
		key->b[0] = KEY_LOOPBACK;
	} else if (v4) {
		key->b[0] = KEY_V4;
		memcpy(key->b + 1, v4, 4);
	} else {
		key->b[0] = KEY_V6_64;
		memcpy(key->b + 1, s6->sin6_addr.s6_addr, 8);
	}
	return 0;
}

static int find(const struct lm_http_hosts *h, const struct lm_http_host_key *k, int free_ok)
{
	int i, spare = -1;

	for (i = 0; i < LM_HTTP_HOSTS_MAX; i++) {
		if (h->e[i].conns && !memcmp(&h->e[i].key, k, sizeof(*k)))
			return i;
		if (!h->e[i].conns && spare < 0)
			spare = i;
	}
	return free_ok ? spare : -1;
}

uint32_t lm_http_hosts_open(const struct lm_http_hosts *h, const struct sockaddr *sa)
{
	struct lm_http_host_key k;
	int i;

	if (lm_http_host_key(sa, &k))
		return 0;
	i = find(h, &k, 0);
	return i < 0 ? 0 : h->e[i].conns;
}

void lm_http_hosts_count(struct lm_http_hosts *h, const struct sockaddr *sa, int delta)
{
	struct lm_http_host_key k;
	int i;

	if (lm_http_host_key(sa, &k))
		return;
	i = find(h, &k, delta > 0);
	if (i < 0 || (delta < 0 && !h->e[i].conns))
		return;
	h->e[i].key = k;
	h->e[i].conns += delta;
}
