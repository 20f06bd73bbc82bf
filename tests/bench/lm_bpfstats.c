// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lm_bpfstats: the in-kernel cost of one lmtrace process's BPF programs.
 *
 * Opens, by id, every BPF program and map that process PID holds (listed in
 * /proc/PID/fdinfo), so they stay loaded and readable after lmtrace exits
 * (its links close then: the numbers stop, they do not vanish). Then, for
 * every line read on stdin, prints one JSON line with each program's
 * run_time_ns and run_cnt. A line holding a VM pid also reads lmtrace's
 * per-VM counters (map vm_counters, summed over CPUs) for that pid: bitmap
 * counting time and calls. Used by tests/bench/bench.sh; root only.
 *
 * Run-time statistics are switched on with BPF_ENABLE_STATS for as long as
 * this process lives, the same switch as kernel.bpf_stats_enabled=1 but
 * counted per holder: concurrent runs never turn it off under each other,
 * and it goes back off by itself however we exit.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmtrace.h"

#define MAX_OBJS 64

struct held {
	int prog_fd[MAX_OBJS], nprogs;
	int counters_fd;	/* lmtrace's vm_counters map, -1 if not found */
	int ncpus;
};

static int contains(const int *ids, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* Collects the prog_id/map_id lines of every fd of PID. */
static int scan_fdinfo(int pid, int *prog_ids, int *nprogs, int *map_ids, int *nmaps)
{
	char path[300], line[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		FILE *f;
		int id;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;	/* closed meanwhile */
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "prog_id: %d", &id) == 1 && *nprogs < MAX_OBJS &&
			    !contains(prog_ids, *nprogs, id))
				prog_ids[(*nprogs)++] = id;
			else if (sscanf(line, "map_id: %d", &id) == 1 && *nmaps < MAX_OBJS &&
				 !contains(map_ids, *nmaps, id))
				map_ids[(*nmaps)++] = id;
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

static int hold(int pid, struct held *h)
{
	int prog_ids[MAX_OBJS], map_ids[MAX_OBJS], nprogs = 0, nmaps = 0, err;

	h->nprogs = 0;
	h->counters_fd = -1;
	err = scan_fdinfo(pid, prog_ids, &nprogs, map_ids, &nmaps);
	if (err)
		return err;
	for (int i = 0; i < nprogs; i++) {
		int fd = bpf_prog_get_fd_by_id(prog_ids[i]);

		if (fd >= 0)
			h->prog_fd[h->nprogs++] = fd;
	}
	for (int i = 0; i < nmaps && h->counters_fd < 0; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "vm_counters") &&
		    info.value_size == sizeof(struct lm_vm_counters))
			h->counters_fd = fd;
		else
			close(fd);
	}
	return h->nprogs ? 0 : -ENOENT;
}

/* The program's full name from its BTF (info.name stops at 15 characters). */
static void prog_name(const struct bpf_prog_info *info, const struct bpf_func_info *fi,
		      char *out, size_t len)
{
	struct btf *btf = NULL;
	const struct btf_type *t;

	snprintf(out, len, "%s", info->name);
	if (!info->btf_id || info->nr_func_info < 1)
		return;
	btf = btf__load_from_kernel_by_id(info->btf_id);
	if (!btf)
		return;
	t = btf__type_by_id(btf, fi->type_id);
	if (t)
		snprintf(out, len, "%s", btf__name_by_offset(btf, t->name_off));
	btf__free(btf);
}

static void print_progs(const struct held *h)
{
	printf("\"progs\":[");
	for (int i = 0; i < h->nprogs; i++) {
		struct bpf_prog_info info = {};
		struct bpf_func_info fi = {};
		__u32 len = sizeof(info);
		char name[128];

		info.nr_func_info = 1;
		info.func_info_rec_size = sizeof(fi);
		info.func_info = (__u64)(unsigned long)&fi;
		if (bpf_obj_get_info_by_fd(h->prog_fd[i], &info, &len))
			continue;
		prog_name(&info, &fi, name, sizeof(name));
		printf("%s{\"id\":%u,\"name\":\"%s\",\"run_time_ns\":%llu,\"run_cnt\":%llu"
		       ",\"recursion_misses\":%llu}", i ? "," : "", info.id, name,
		       (unsigned long long)info.run_time_ns, (unsigned long long)info.run_cnt,
		       (unsigned long long)info.recursion_misses);
	}
	printf("]");
}

static void print_vm(const struct held *h, __u32 pid)
{
	struct lm_vm_counters *v = calloc(h->ncpus, sizeof(*v)), sum = {};

	if (!v || h->counters_fd < 0 || bpf_map_lookup_elem(h->counters_fd, &pid, v)) {
		printf(",\"vm\":null");
		free(v);
		return;
	}
	for (int i = 0; i < h->ncpus; i++) {
		sum.get_calls += v[i].get_calls;
		sum.clear_calls += v[i].clear_calls;
		sum.bitmap_bytes += v[i].bitmap_bytes;
		sum.count_ns += v[i].count_ns;
		sum.tx_calls += v[i].tx_calls;
		sum.tx_bytes += v[i].tx_bytes;
	}
	printf(",\"vm\":{\"pid\":%u,\"get_calls\":%llu,\"clear_calls\":%llu,\"bitmap_bytes\":%llu"
	       ",\"count_ns\":%llu,\"tx_calls\":%llu,\"tx_bytes\":%llu}", pid,
	       (unsigned long long)sum.get_calls, (unsigned long long)sum.clear_calls,
	       (unsigned long long)sum.bitmap_bytes, (unsigned long long)sum.count_ns,
	       (unsigned long long)sum.tx_calls, (unsigned long long)sum.tx_bytes);
	free(v);
}

int main(int argc, char **argv)
{
	struct held h = {};
	char line[64];
	int pid, err, stats_fd;

	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: lm_bpfstats LMTRACE_PID   (then one line per snapshot on stdin,"
			" optionally holding a VM pid)\n");
		return 2;
	}
	h.ncpus = libbpf_num_possible_cpus();
	if (h.ncpus <= 0) {
		fprintf(stderr, "lm_bpfstats: cannot read the number of possible CPUs\n");
		return 1;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		fprintf(stderr, "lm_bpfstats: cannot enable BPF run-time stats (%s): run_time_ns "
			"stays 0 unless kernel.bpf_stats_enabled=1\n", strerror(errno));
	err = hold(pid, &h);
	if (err) {
		fprintf(stderr, "lm_bpfstats: no BPF programs held by pid %d (%s); is it lmtrace, "
			"tracing, and are we root?\n", pid, strerror(-err));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("{\"ready\":true,\"nprogs\":%d,\"counters\":%s,\"stats\":%s}\n", h.nprogs,
	       h.counters_fd >= 0 ? "true" : "false", stats_fd >= 0 ? "true" : "false");
	while (fgets(line, sizeof(line), stdin)) {
		unsigned vm_pid = 0;

		printf("{");
		print_progs(&h);
		if (sscanf(line, "%u", &vm_pid) == 1 && vm_pid)
			print_vm(&h, vm_pid);
		printf("}\n");
	}
	return 0;
}
