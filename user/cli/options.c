// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The options of `lmtrace [trace]` and `lmtrace replay` (argp, as bcc's libbpf-tools do). */
#include <argp.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/check_file.h"
#include "cli/options.h"
#include "core/model.h"
#include "core/act_policy.h"
#include "core/units.h"

_Static_assert(LM_QEMU_THROTTLE_MAX_PCT == 99, "--max-throttle's help and error say 1 to 99");

/* The ranges the help states; anything outside is a usage error. */
#define INTERVAL_MIN_S		0.05	/* finer and the samples are noise */
#define INTERVAL_MAX_S		3600.0
#define DOWNTIME_MIN_MS		1.0
#define BANDWIDTH_MIN_BPS	1.0
#define BANDWIDTH_MAX_BPS	(1024.0 * LM_GiB * 1024)	/* 1 PiB/s, 1048576G */

const char *argp_program_version = "lmtrace 0.1";
const char *argp_program_bug_address = "the lmtrace issue tracker";

static const char doc[] =
"Watch a QEMU/KVM live migration from the host kernel and say, live and early,\n"
"whether it will converge, when, with what downtime, and what throttle would\n"
"make it converge. Run it on the source host as root.\n"
"\n"
"USAGE: lmtrace [trace] [-p PID,...] [-i SEC] [-d SEC] [-j | --csv] [OPTIONS]\n"
"       lmtrace replay FILE [-j | --csv]   replay a recording (no root needed;\n"
"                                          the same as lmtrace -r FILE)\n"
"       lmtrace report FILE -o chart.svg   draw a recording (see its --help)\n"
"\n"
"EXAMPLES:\n"
"    lmtrace -p $(pidof qemu-system-x86_64)   # live view of one VM's migration\n"
"    lmtrace                                  # every process with /dev/kvm open\n"
"    lmtrace -p 1234 -j | jq .                # JSON lines for scripts\n"
"    lmtrace -p 1234 --qmp /run/vm1.qmp       # read downtime limit, bandwidth from QEMU\n"
"    lmtrace -p 1234 --downtime-limit 300 --bandwidth 32M\n"
"    lmtrace -p 1234 -w mig.lmrec             # also record it\n"
"    lmtrace replay mig.lmrec -j              # the same estimates again, as JSON\n"
"    lmtrace --prom-file /var/lib/node_exporter/lmtrace.prom\n"
"    lmtrace --listen 9595                    # Prometheus /metrics on 127.0.0.1:9595\n"
"    lmtrace --vm 'db-*' --listen 9595        # only VMs named db-* (-name, libvirt domain)\n"
"    lmtrace -p 1234 --qmp /run/vm1.qmp --act throttle           # what it would do (dry run)\n"
"    lmtrace -p 1234 --qmp /run/vm1.qmp --act throttle,cancel --apply --give-up-after 600\n"
"\n"
"Exit status: 0 on success, 1 on a runtime error (no such process, not a VMM,\n"
"no privileges, BPF failure, output error), 2 on a usage error.\n"
"\n"
"OPTIONS:";

enum {
	OPT_CSV = 1000, OPT_PORT, OPT_QMP, OPT_DOWNTIME, OPT_BANDWIDTH, OPT_PROM, OPT_LISTEN,
	OPT_ROWS, OPT_NO_FENTRY, OPT_NO_KPROBE, OPT_SWITCHOVER, OPT_NO_SEND_TP, OPT_VM, OPT_HOOKS, OPT_HEAD_START,
	OPT_ACT, OPT_APPLY, OPT_MAX_THROTTLE, OPT_MAX_DOWNTIME, OPT_GIVE_UP,
};


static const struct argp_option options[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "VMM process(es) to trace (default: every process with /dev/kvm open)", 0 },
	{ "interval", 'i', "SECONDS", 0, "Seconds between samples, 0.05 to 3600 (default 1)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this many seconds, any positive number "
	  "(default: when the VMMs exit)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines on stdout (schema in README.md)", 0 },
	{ "csv", OPT_CSV, NULL, 0, "CSV on stdout", 0 },
	{ "rows", OPT_ROWS, NULL, 0, "Plain rows even when stdout is a terminal", 0 },
	{ "port", OPT_PORT, "PORT", 0, "Count only TCP connections with this local or remote port "
	  "(1 to 65535)", 0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "QEMU's QMP socket: read downtime limit, bandwidth, RAM size", 0 },
	{ "downtime-limit", OPT_DOWNTIME, "MS", 0, "Allowed downtime, 1 to 3600000 ms (default: QEMU's 300 ms)", 0 },
	{ "bandwidth", OPT_BANDWIDTH, "BYTES/S", 0, "Migration bandwidth cap, e.g. 32M, 1G (powers of 1024; "
	  "1 byte/s to 1048576G; default: measured)", 0 },
	{ "switchover-bandwidth", OPT_SWITCHOVER, "BYTES/S", 0, "Link rate once the VM is stopped (QEMU lifts "
	  "its cap then), as --bandwidth; without it the predicted downtime is an upper bound", 0 },
	{ "write", 'w', "FILE", 0, "Record what the estimator consumed to FILE (replay with -r)", 0 },
	{ "read", 'r', "FILE", 0, "Replay a recording instead of tracing", 0 },
	{ "prom-file", OPT_PROM, "PATH", 0, "Write Prometheus textfile-collector metrics to PATH", 0 },
	{ "listen", OPT_LISTEN, "[ADDR:]PORT", 0, "Serve Prometheus /metrics over HTTP, without TLS or "
	  "authentication; PORT or :PORT alone is 127.0.0.1:PORT, 0.0.0.0:PORT or [::]:PORT every "
	  "address (with a warning)", 0 },
	{ "no-fentry", OPT_NO_FENTRY, NULL, 0, "Do not try fentry programs", 0 },
	{ "no-kprobe", OPT_NO_KPROBE, NULL, 0, "Do not try kprobe programs", 0 },
	{ "vm", OPT_VM, "NAME[,NAME...]", 0, "Without -p: follow only the VMs named so (shell globs): "
	  "QEMU's -name (libvirt's domain name) or -uuid (libvirt's domain UUID)", 0 },
	{ "no-send-tracepoint", OPT_NO_SEND_TP, NULL, 0, "Count bytes through sendmsg(), as on kernels "
	  "without sock:sock_send_length (testing)", 0 },
	{ "head-start", OPT_HEAD_START, "FILE[,MAX_AGE_S]", 0, "What `lmtrace check -j` printed for the "
	  "first -p VM: a migration that starts within MAX_AGE_S (default 600) of that check has a "
	  "verdict from its start, marked from_check, until its own rounds give one", 0 },
	{ "hooks", OPT_HOOKS, "WHEN", 0, "When the dirty-log hooks are attached: 'on-demand' (default: "
	  "only while a traced VM has dirty logging on; where they are syscall tracepoints, every "
	  "process on the host pays for them while attached) or 'always' (also sees the instant "
	  "logging comes on: exact time and bytes of round 1)", 0 },
	{ "act", OPT_ACT, "POLICY[,POLICY...]", 0, "With --qmp: act on a migration that will not "
	  "converge: throttle (the recommended vCPU throttle), downtime (raise downtime-limit up to "
	  "--max-downtime), postcopy (switch to postcopy), cancel (after --give-up-after). A dry run "
	  "(decided, shown, recorded, nothing sent) unless --apply", 0 },
	{ "apply", OPT_APPLY, NULL, 0, "Carry --act's actions out over QMP", 0 },
	{ "max-throttle", OPT_MAX_THROTTLE, "PCT", 0, "Highest vCPU throttle --act may set, 1 to 99 "
	  "(default 80)", 0 },
	{ "max-downtime", OPT_MAX_DOWNTIME, "MS", 0, "Highest downtime-limit --act downtime may set, "
	  "1 to 3600000 ms (required by it)", 0 },
	{ "give-up-after", OPT_GIVE_UP, "SECONDS", 0, "--act cancel: not before this long into the "
	  "migration, 1 to 604800 (required by it)", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (libbpf messages)", 0 },
	{},
};

/*
 * A finite number in [min, max], else a usage error that gives the range:
 * strtod() also takes "nan", "inf" and values it cannot hold (ERANGE).
 */
double lm_parse_number(struct argp_state *state, const char *what, const char *arg,
		       double min, double max, const char *range)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || !(v >= min && v <= max))
		argp_error(state, "invalid %s '%s': give %s", what, arg, range);
	return v;
}

/* 32M, 1.5G, 100k (powers of 1024) or plain bytes, within the stated range. */
double lm_parse_bytes(struct argp_state *state, const char *what, const char *arg)
{
	double mult = 1, v;
	char *end;

	errno = 0;
	v = strtod(arg, &end);
	switch (*end) {
	case 'k': case 'K': mult = LM_KiB; end++; break;
	case 'm': case 'M': mult = LM_MiB; end++; break;
	case 'g': case 'G': mult = LM_GiB; end++; break;
	}
	/* tolerate the unit spelled out: 32MiB, 32MB, 1GiB/s */
	if (!strcmp(end, "i") || !strcmp(end, "iB") || !strcmp(end, "B") ||
	    !strcmp(end, "iB/s") || !strcmp(end, "B/s") || !strcmp(end, "/s"))
		end += strlen(end);
	/* checked after the suffix: 1e300G is finite, its bytes are not */
	v *= mult;
	if (errno || end == arg || *end || !isfinite(v) ||
	    !(v >= BANDWIDTH_MIN_BPS && v <= BANDWIDTH_MAX_BPS))
		argp_error(state, "invalid %s '%s': give 1 byte/s to 1048576G, like 33554432, 32M or 1G",
			   what, arg);
	return v;
}

static void parse_pids(struct argp_state *state, struct lm_options *o, char *arg)
{
	char *tok, *save = NULL, *end;
	long pid;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		errno = 0;
		pid = strtol(tok, &end, 10);
		if (errno || end == tok || *end || pid <= 0 || pid > INT_MAX)
			argp_error(state, "invalid pid '%s'", tok);
		if (o->npids >= LM_MAX_VMS)
			argp_error(state, "too many pids: at most %d", LM_MAX_VMS);
		o->pids[o->npids++] = (pid_t)pid;
	}
}

static void parse_vms(struct argp_state *state, struct lm_options *o, char *arg)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nvms >= LM_MAX_VMS)
			argp_error(state, "too many --vm names: at most %d", LM_MAX_VMS);
		o->vms[o->nvms++] = tok;
	}
}

/* --head-start FILE[,MAX_AGE_S]: a check's output, and how long it speaks for a migration */
static void parse_check_file(struct argp_state *state, struct lm_options *o, char *arg)
{
	char *comma = strrchr(arg, ',');

	o->check_path = arg;
	o->check_max_age_s = LM_CHECK_FILE_MAX_AGE_S;
	if (!comma)
		return;
	*comma = 0;
	o->check_max_age_s = (uint32_t)lm_parse_number(state, "--head-start age", comma + 1, 1,
							7 * 86400, "1 to 604800 seconds");
}

/* --act and its bounds: lmtrace writes to a VM only through QMP, and only when asked. */
static void check_act(struct argp_state *state, const struct lm_options *o)
{
	if (!o->act_policies) {
		if (o->act_apply)
			argp_error(state, "--apply carries out --act's actions: give --act POLICY too");
		if (o->max_throttle_pct > 0 || o->max_downtime_ms > 0 || o->give_up_after_s > 0)
			argp_error(state, "--max-throttle, --max-downtime and --give-up-after bound --act: "
				   "give --act POLICY too");
		return;
	}
	if (o->replay_path)
		argp_error(state, "a replay decides again from the recording's own --act settings: "
			   "--act does not apply");
	if (!o->qmp_path)
		argp_error(state, "--act acts over QEMU's QMP socket: give --qmp SOCKET (and -p PID)");
	if ((o->act_policies & LM_ACT_P_DOWNTIME) && !(o->max_downtime_ms > 0))
		argp_error(state, "--act downtime needs --max-downtime MS: the longest pause you allow");
	if ((o->act_policies & LM_ACT_P_CANCEL) && !(o->give_up_after_s > 0))
		argp_error(state, "--act cancel needs --give-up-after SECONDS: how long a migration may "
			   "run before it is given up");
	if (o->max_downtime_ms > 0 && !(o->act_policies & LM_ACT_P_DOWNTIME))
		argp_error(state, "--max-downtime bounds --act downtime, which is not among the policies");
	if (o->give_up_after_s > 0 && !(o->act_policies & LM_ACT_P_CANCEL))
		argp_error(state, "--give-up-after bounds --act cancel, which is not among the policies");
}

/* --port: 1 to 65535. */
static uint16_t parse_port(struct argp_state *state, const char *arg)
{
	long port;
	char *end;

	errno = 0;
	port = strtol(arg, &end, 10);
	if (errno || end == arg || *end || port <= 0 || port > 65535)
		argp_error(state, "invalid port '%s': give 1 to 65535", arg);
	return (uint16_t)port;
}

/* Options that exclude or need each other, once all are read. */
static void check_combinations(struct argp_state *state, const struct lm_options *o)
{
	if (o->mode == LM_OPTS_REPLAY && !o->replay_path)
		argp_error(state, "give the recording to replay: lmtrace replay FILE");
	if (o->json && o->csv)
		argp_error(state, "-j and --csv are exclusive");
	if (o->replay_path && (o->npids || o->qmp_path || o->record_path))
		argp_error(state, "a replay reads a recording: -p, --qmp and -w do not apply");
	if (o->nvms && (o->npids || o->replay_path))
		argp_error(state, "--vm picks VMs by name when lmtrace follows every VMM: not with -p or a replay");
	if (o->qmp_path && o->npids != 1)
		argp_error(state, "--qmp needs exactly one -p PID (the QEMU it belongs to)");
	if (o->check_path && (o->npids < 1 || o->replay_path))
		argp_error(state, "--head-start is for a VM lmtrace traces: give its -p PID");
	check_act(state, o);
}

/* --act and its bounds; ARGP_ERR_UNKNOWN for any other key. */
static error_t parse_act_opt(int key, char *arg, struct argp_state *state)
{
	struct lm_options *o = state->input;
	char bad[64];

	switch (key) {
	case OPT_ACT:
		if (lm_act_parse_policies(arg, &o->act_policies, bad, sizeof(bad)))
			argp_error(state, "unknown --act policy '%s': give throttle, downtime, postcopy "
				   "or cancel, comma-separated", bad);
		break;
	case OPT_APPLY: o->act_apply = 1; break;
	case OPT_MAX_THROTTLE:
		o->max_throttle_pct = lm_parse_number(state, "--max-throttle", arg, 1, LM_QEMU_THROTTLE_MAX_PCT,
						      "1 to 99 (%)");
		break;
	case OPT_MAX_DOWNTIME:
		o->max_downtime_ms = lm_parse_number(state, "--max-downtime", arg, DOWNTIME_MIN_MS,
						  LM_DOWNTIME_LIMIT_MAX_MS, "1 to 3600000 ms");
		break;
	case OPT_GIVE_UP:
		o->give_up_after_s = lm_parse_number(state, "--give-up-after", arg, 1, 604800,
						  "1 to 604800 seconds");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct lm_options *o = state->input;

	switch (key) {
	case 'p': parse_pids(state, o, arg); break;
	case 'i':
		o->interval_s = lm_parse_number(state, "interval", arg, INTERVAL_MIN_S, INTERVAL_MAX_S,
					     "0.05 to 3600 seconds");
		break;
	case 'd':
		o->duration_s = lm_parse_number(state, "duration", arg, DBL_MIN, DBL_MAX,
					     "a positive number of seconds");
		break;
	case 'j': o->json = 1; break;
	case 'v': o->verbose = 1; break;
	case 'w': o->record_path = arg; break;
	case 'r': o->replay_path = arg; break;
	case OPT_CSV: o->csv = 1; break;
	case OPT_ROWS: o->rows = 1; break;
	case OPT_QMP: o->qmp_path = arg; break;
	case OPT_PROM: o->prom_path = arg; break;
	case OPT_LISTEN: o->listen = arg; break;
	case OPT_NO_FENTRY: o->no_fentry = 1; break;
	case OPT_NO_KPROBE: o->no_kprobe = 1; break;
	case OPT_NO_SEND_TP: o->no_send_tp = 1; break;
	case OPT_HEAD_START: parse_check_file(state, o, arg); break;
	case OPT_HOOKS:
		if (strcmp(arg, "on-demand") && strcmp(arg, "always"))
			argp_error(state, "invalid --hooks '%s': give on-demand or always", arg);
		o->hooks_always = !strcmp(arg, "always");
		break;
	case OPT_VM: parse_vms(state, o, arg); break;
	case OPT_DOWNTIME:
		o->downtime_limit_ms = lm_parse_number(state, "downtime limit", arg, DOWNTIME_MIN_MS,
						    LM_DOWNTIME_LIMIT_MAX_MS, "1 to 3600000 ms");
		break;
	case OPT_BANDWIDTH: o->bandwidth_Bps = lm_parse_bytes(state, "bandwidth", arg); break;
	case OPT_SWITCHOVER: o->switchover_Bps = lm_parse_bytes(state, "switchover bandwidth", arg); break;
	case OPT_PORT: o->port = parse_port(state, arg); break;
	case ARGP_KEY_ARG:
		if (o->mode == LM_OPTS_REPLAY && !o->replay_path)
			o->replay_path = arg;
		else
			argp_error(state, "unexpected argument '%s' (pids go with -p)", arg);
		break;
	case ARGP_KEY_END: check_combinations(state, o); break;
	default:
		return parse_act_opt(key, arg, state);
	}
	return 0;
}

void lm_options_parse(struct lm_options *o, enum lm_options_mode mode, int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };

	memset(o, 0, sizeof(*o));
	o->mode = mode;
	o->interval_s = 1.0;
	o->downtime_limit_ms = -1;
	o->bandwidth_Bps = -1;
	o->switchover_Bps = -1;
	o->max_throttle_pct = -1;
	o->max_downtime_ms = -1;
	o->give_up_after_s = -1;
	argp_err_exit_status = 2;
	argp_parse(&argp, argc, argv, 0, NULL, o);
}
