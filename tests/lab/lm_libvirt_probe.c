// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lm_libvirt_probe: lmtrace's libvirt client (user/trace/libvirt.c) from the
 * command line, for tests/system/t_libvirt_client.sh.
 *
 *   lm_libvirt_probe [-c URI] {-n NAME | -u UUID | -p PID} COMMAND [VALUE]
 *     read               what the client reads, key=value, one a line
 *     pid                the domain's QEMU pid
 *     set-downtime MS    set the downtime limit
 *     set-speed BYTES_S  set the migration speed cap (bytes/s)
 *     postcopy           switch the outgoing migration to post-copy
 *     abort              abort the domain's job
 *
 * Exit 0; 1 with "error: MESSAGE" on stderr when the client fails; 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "trace/libvirt.h"

static void print_read(struct lm_libvirt_dom *d, const struct lm_obs_params *p,
		       const struct lm_libvirt_job *j)
{
	printf("name=%s\nuuid=%s\n", lm_libvirt_dom_name(d), lm_libvirt_dom_uuid(d));
	printf("downtime_limit_ms=%llu\n", (unsigned long long)p->downtime_limit_ms);
	printf("max_bandwidth_bytes_per_s=%llu\n", (unsigned long long)p->max_bandwidth);
	printf("ram_bytes=%llu\n", (unsigned long long)p->ram_bytes);
	printf("throttle_pct=%u\npage_size=%u\nqemu_status=%u\n", p->throttle_pct, p->page_size,
	       p->qemu_status);
	printf("job_type=%s\njob_operation=%s\noutgoing_migration=%d\n",
	       lm_libvirt_job_type_name(j->type), lm_libvirt_job_operation_name(j->operation),
	       j->outgoing_migration);
	printf("state=%d\nreason=%d\n", j->state, j->reason);
	printf("time_elapsed_ms=%lld\n", (long long)j->time_elapsed_ms);
	printf("data_total=%lld\ndata_processed=%lld\ndata_remaining=%lld\n",
	       (long long)j->data_total, (long long)j->data_processed, (long long)j->data_remaining);
	printf("memory_total=%lld\nmemory_processed=%lld\nmemory_remaining=%lld\n",
	       (long long)j->memory_total, (long long)j->memory_processed,
	       (long long)j->memory_remaining);
	printf("memory_dirty_rate=%lld\nmemory_iteration=%lld\nmemory_bps=%lld\n",
	       (long long)j->memory_dirty_rate, (long long)j->memory_iteration,
	       (long long)j->memory_bps);
	printf("auto_converge_throttle=%lld\nexpected_downtime_ms=%lld\n",
	       (long long)j->auto_converge_throttle, (long long)j->expected_downtime_ms);
}

/* Run COMMAND on the domain; 0 or -errno. */
static int run(struct lm_libvirt_dom *d, const char *cmd, const char *value)
{
	struct lm_obs_params p;
	struct lm_libvirt_job j;
	uint64_t set = 0;
	int ret;

	if (!strcmp(cmd, "read")) {
		ret = lm_libvirt_read(d, &p, &j);
		if (!ret)
			print_read(d, &p, &j);
	} else if (!strcmp(cmd, "pid")) {
		ret = lm_libvirt_dom_pid(d);
		if (ret > 0)
			printf("pid=%d\n", ret);
		ret = ret > 0 ? 0 : ret;
	} else if (!strcmp(cmd, "set-downtime")) {
		ret = lm_libvirt_set_max_downtime(d, strtoull(value, NULL, 10));
	} else if (!strcmp(cmd, "set-speed")) {
		ret = lm_libvirt_set_max_speed(d, strtoull(value, NULL, 10), &set);
		if (!ret)
			printf("max_bandwidth_bytes_per_s=%llu\n", (unsigned long long)set);
	} else if (!strcmp(cmd, "postcopy")) {
		ret = lm_libvirt_start_postcopy(d);
	} else {
		ret = lm_libvirt_abort_job(d);
	}
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "usage: lm_libvirt_probe [-c URI] {-n NAME | -u UUID | -p PID} "
		"read|pid|set-downtime MS|set-speed BYTES_S|postcopy|abort\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *uri = NULL, *name = NULL, *uuid = NULL, *cmd, *value = NULL;
	static const char *const cmds[] = { "read", "pid", "set-downtime", "set-speed", "postcopy",
					    "abort" };
	struct lm_libvirt_dom *d = NULL;
	struct lm_libvirt *l;
	char err[LM_LIBVIRT_ERR_MAX];
	int opt, ret, pid = 0, known = 0;
	size_t i;

	while ((opt = getopt(argc, argv, "c:n:u:p:")) != -1) {
		if (opt == 'c')
			uri = optarg;
		else if (opt == 'n')
			name = optarg;
		else if (opt == 'u')
			uuid = optarg;
		else if (opt == 'p')
			pid = atoi(optarg);
		else
			return usage();
	}
	if (optind >= argc || (!name && !uuid && pid <= 0))
		return usage();
	cmd = argv[optind];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		known |= !strcmp(cmd, cmds[i]);
	if (!known || ((!strcmp(cmd, "set-downtime") || !strcmp(cmd, "set-speed")) &&
		       !(value = argv[optind + 1])))
		return usage();
	ret = lm_libvirt_open(&l, uri, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	ret = name ? lm_libvirt_find_by_name(l, name, &d) :
	      uuid ? lm_libvirt_find_by_uuid(l, uuid, &d) : lm_libvirt_find_by_pid(l, pid, &d);
	if (!ret)
		ret = run(d, cmd, value);
	if (ret)
		fprintf(stderr, "error: %s\n", lm_libvirt_error(l));
	lm_libvirt_dom_free(d);
	lm_libvirt_close(l);
	return ret ? 1 : 0;
}
