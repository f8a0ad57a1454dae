/* SPDX-License-Identifier: MIT */
/* portwho kill: the command (kill.c) and its renderers (kill-render.c). */
#ifndef PW_KILL_CMD_H
#define PW_KILL_CMD_H

#include "portwho-cmd.h"
#include "portwho-kill.h"

struct kill_opts {
	char **spec_args; /* as typed, for messages */
	size_t n_specs;
	struct pw_portspec *specs;
	struct pw_services *services;
	unsigned protos, families;
	bool all;
	enum pw_netns_scope netns_scope;
	char *netns_path;
	char *netns_name; /* set when the namespace is /run/netns/NAME */
	int sig;
	double timeout;
	bool kill_after_set;
	double kill_after;
	bool yes, dry_run, unit, json;
};

struct run {
	const struct kill_opts *o;
	struct pw_caller caller;
	struct pw_snapshot *snap, *final;
	struct pw_kill_plan plan;
	struct pw_kill_log log; /* what the executor did */
	bool nothing_held;	/* the first scan found nothing */
	const char *error;	/* why nothing was done, for JSON */
};

/* the states kill looks at: listening and bound, or all with -a */
uint32_t kill_states(const struct kill_opts *o);

const char *kill_signame(int sig, char *buf, size_t len);
const char *kill_ports_text(const struct kill_opts *o, char *buf, size_t len);
void kill_who(FILE *f, const struct pw_process *p);
/* the snapshot kill_who names namespaces from (NULL: none) */
void kill_who_context(const struct pw_snapshot *snap);
void kill_sock_text(FILE *f, const struct pw_socket *s);
int kill_show_table(const struct kill_opts *ko, const struct pw_snapshot *snap, FILE *f);
void kill_print_plan(const struct run *run, FILE *f);
void kill_print_log(const struct run *run);
void kill_print_final(const struct run *run);
int kill_print_json(const struct run *run, int status);

#endif
