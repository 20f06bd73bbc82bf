/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The subcommands main() dispatches to. Each takes its own argv (argv[0] is
 * the subcommand's name) and returns the process exit status: 0 success,
 * 1 runtime error, 2 usage error.
 */
#ifndef LM_CLI_H
#define LM_CLI_H

int lm_cmd_trace(int argc, char **argv);	/* lmtrace [trace] [OPTIONS] */
int lm_cmd_replay(int argc, char **argv);	/* lmtrace replay FILE [OPTIONS] */
int lm_cmd_report(int argc, char **argv);	/* lmtrace report FILE -o OUT */
int lm_cmd_check(int argc, char **argv);	/* lmtrace check -p PID --qmp SOCKET [OPTIONS] */

#endif /* LM_CLI_H */
