// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lmtrace: watch a QEMU/KVM live migration from the host kernel.
 * main() only picks the subcommand (as bpftool does); each lives in cli/.
 */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
};

static const struct command commands[] = {
	{ "trace", lm_cmd_trace, "watch live migrations (the default: lmtrace -p PID ...)" },
	{ "replay", lm_cmd_replay, "replay a recording through the estimator and outputs" },
	{ "report", lm_cmd_report, "draw a recording as SVG or HTML" },
	{ "check", lm_cmd_check, "before a migration: will it converge, and what it needs" },
};

static int help(void)
{
	size_t i;

	printf("Usage: lmtrace [COMMAND] [OPTIONS]\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].what);
	printf("\n'lmtrace COMMAND --help' tells more; without a command lmtrace traces.\n");
	return 0;
}

int main(int argc, char **argv)
{
	static char name[32];
	size_t i;

	if (argc > 1 && !strcmp(argv[1], "help"))
		return help();
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		/* argp names the program after argv[0] in its messages */
		snprintf(name, sizeof(name), "lmtrace %s", commands[i].name);
		argv[1] = name;
		return commands[i].run(argc - 1, argv + 1);
	}
	return lm_cmd_trace(argc, argv);
}
