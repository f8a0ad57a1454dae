/* SPDX-License-Identifier: MIT */
/*
 * The portwho command: options, the column table, the filtered view of a
 * snapshot and the renderers. Nothing here is part of libportwho.
 */
#ifndef PORTWHO_CMD_H
#define PORTWHO_CMD_H

#include <jansson.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "jemit.h"
#include "portwho.h"

/* ---- verbs (verbs.c) ---------------------------------------------------- */

/* A verb gets argv starting at its own word (argv[0] is "check") and returns
 * the exit status. Adding one: write cmd_NAME in src/NAME.c, declare it
 * here, add one line to verbs[] in verbs.c and the file to src/meson.build. */
int cmd_check(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_watch(int argc, char **argv);

struct verb {
	const char *name;
	int (*dispatch)(int argc, char **argv);
	const char *args; /* for the usage lines of portwho --help */
	const char *help; /* one line */
};

/* NULL-terminated (name == NULL) */
extern const struct verb verbs[];
/* The verb named word, or NULL. */
const struct verb *verb_find(const char *word);

/* ---- small helpers of the command (cli.c) ------------------------------ */

#define _cleanup_(f) __attribute__((cleanup(f)))
static inline void cli_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(cli_freep)

/* "portwho: MESSAGE\n" on stderr; returns status (the exit status). */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* -t/--tcp -u/--udp -4/--ipv4 -6/--ipv6, the same for every verb that
 * takes them: cli_common_option returns true when it took c. Neither or both
 * of a pair means all. */
struct cli_common {
	bool tcp, udp, v4, v6;
};
bool cli_common_option(struct cli_common *cc, int c);
unsigned cli_common_protos(const struct cli_common *cc);   /* PW_PROTO_* mask */
unsigned cli_common_families(const struct cli_common *cc); /* PW_FAMILY_* mask */

/* getopt_long returned ':' (a missing value) or '?' (an unknown option):
 * one line on stderr, for every verb alike; verb is NULL for the main
 * command. Returns -EINVAL. */
int cli_option_error(int c, char **argv, const char *verb);

/* ---- shared by the main command and its subcommands (cli.c) ------------ */

/* "portwho: MESSAGE\n" on stderr; returns -EINVAL. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After the last write to f: 0 when all of it was written, -EPIPE when the
 * reader went away (nothing is said), else -errno after saying
 * "portwho: cannot write output: ..." on stderr. */
int cli_finish_output(FILE *f);
/* The verb whose --help a usage error points to (NULL: the main command). */
extern const char *cli_verb;
/* A non-empty string of ASCII digits only. */
bool cli_all_digits(const char *s);
/* raw escaped for the terminal; "?" for NULL (or when out of memory) */
void cli_print_escaped(FILE *f, const char *raw);

/* -N/--netns WHICH: current, NAME (/run/netns/NAME), a path, or a PID
 * (/proc/PID/ns/net); frees and replaces *ret_path. one_netns is NULL for
 * the main command, which also takes "all" (and an empty NAME); a
 * subcommand that works in one namespace passes the usage error to give for
 * "all". 0, -ENOMEM, or -EINVAL after the usage error. */
int cli_parse_netns(const char *arg, const char *one_netns, enum pw_netns_scope *ret_scope,
		    char **ret_path);

/* --user USER: a name in the user database, else a decimal uid. *ret_pw is
 * getpwnam()'s entry for a name, NULL for a uid. 0 or -EINVAL after the
 * usage error; nothing is set on failure. */
int cli_parse_user(const char *arg, uid_t *ret_uid, struct passwd **ret_pw);

/* JSON builders return NULL only when out of memory; strings are made valid
 * UTF-8, NULL becomes null. */
json_t *cli_jstr(const char *raw);
json_t *cli_jtri(int8_t v); /* < 0: null */
json_t *cli_jaddr(const struct pw_addr *a);
/* json_dumpf with DEL, C1 and bidi/format characters written as \uXXXX
 * (safe on a terminal): 0, -ENOMEM or -EIO. */
int cli_json_dumpf(const json_t *v, FILE *f, size_t flags);
/* obj[key] = v / append v, taking the reference; *err = -ENOMEM when v is
 * NULL or it fails. */
/* Print a whole document as every JSON output of portwho looks: two-space
 * indent, keys in insertion order, a final newline. 0 or -EIO. */
int cli_json_print(FILE *f, json_t *doc);
void cli_json_put(json_t *obj, const char *key, json_t *v, int *err);
void cli_json_append(json_t *arr, json_t *v, int *err);
/* The socket object of the JSON contract (HACKING.md), holders included;
 * user_unit adds that field to each holder (the main command's output). */
json_t *cli_socket_json(const struct pw_socket *s, bool user_unit, int *err);
/* What the snapshot could not see, the "incomplete" array of every JSON
 * document ({"kind", "count", "detail"} per kind): [] when it saw
 * everything. NULL when out of memory. */
json_t *cli_incomplete_json(const struct pw_snapshot *snap);
/* {"runtime", "id", "name", "pod"} or JSON null */
json_t *cli_container_json(const struct pw_container *c, int *err);

/* The same objects written on an emitter (jemit.h): the one definition of
 * their fields, for the streamed --json and (through the functions above)
 * for the json_t the other verbs embed. key as in jemit.h. */
void cli_emit_socket(struct jw *w, const char *key, const struct pw_socket *s, bool user_unit);
void cli_emit_container(struct jw *w, const char *key, const struct pw_container *c);
void cli_emit_incomplete(struct jw *w, const char *key, const struct pw_snapshot *snap);
void cli_emit_forwards(struct jw *w, const char *key, const struct pw_port_group *g);

/* check-elsewhere.c: the port's bound sockets in every namespace (root;
 * *ret NULL otherwise), and those outside the checked netns as text lines
 * or the JSON array "elsewhere". */
int check_elsewhere_take(uint8_t proto, uint16_t port, struct pw_snapshot **ret);
void check_elsewhere_print(FILE *f, const struct pw_snapshot *snap, uint64_t netns);
json_t *check_elsewhere_json(const struct pw_snapshot *snap, uint64_t netns, int *err);

/* The group's "forwards" array (render-forward.c). */
json_t *cli_forwards_json(const struct pw_port_group *g, int *err);

/* kill-forward.c: the refusal of a container's userland proxy (malloc'ed). */
char *kill_proxy_advice(const struct pw_snapshot *snap, const struct pw_process *proxy);
/* After "Nothing holds PORT": the NAT rules that forward it, one line each. */
void kill_print_forwards(const struct pw_snapshot *snap, FILE *f);

/* ---- columns ----------------------------------------------------------- */

enum column_id {
	COL_NETNS,
	COL_PROTO,
	COL_FAMILY,
	COL_LOCAL,
	COL_ADDR,
	COL_PORT,
	COL_SERVICE,
	COL_REMOTE,
	COL_STATE,
	COL_INODE,
	COL_COOKIE,
	COL_UID,
	COL_V6ONLY,
	COL_REUSEADDR,
	COL_REUSEPORT,
	COL_OPTSRC,
	COL_IFACE,
	COL_KOWNER,
	COL_PID,
	COL_TID,
	COL_FD,
	COL_COMMAND,
	COL_CMDLINE,
	COL_USER,
	COL_PPID,
	COL_UNIT,
	COL_VIA,
	COL_NSPID,
	COL_REASON,
	COL_CLASS,
	COL_CONTAINER,
	COL_MAX,
};

/* Which record a column reads: decides what continuation and tree lines show. */
enum column_object {
	OBJ_SOCKET,
	OBJ_HOLDER,
	OBJ_GROUP,
};

enum column_flag {
	CF_RIGHT = 1u << 0, /* numbers: right-aligned */
	CF_TRUNC = 1u << 1, /* may be cut to fit the terminal */
	CF_WRAP = 1u << 2,  /* may wrap onto more lines */
};

enum column_json {
	CJ_STRING,
	CJ_NUMBER,
	CJ_BOOLEAN,
};

struct column_info {
	const char *name;      /* for -o, --list-columns */
	const char *header;    /* table heading */
	double whint;	       /* width hint: < 1 is a fraction of the terminal */
	unsigned flags;	       /* enum column_flag */
	enum column_json json; /* type of the value in JSON output */
	enum column_object obj;
	const char *help; /* one line for --list-columns */
};

const struct column_info *column_get(enum column_id id);
/* case-insensitive name -> id, -1 when unknown */
int column_by_name(const char *name, size_t len);

/* The most columns -o accepts (repeats allowed). */
#define MAX_OUT_COLUMNS 64
/* The "schema_version" of every JSON document: fields are only ever added. */
#define PW_JSON_SCHEMA_VERSION 1

/* ---- options ------------------------------------------------------------ */

struct options {
	unsigned protos;   /* PW_PROTO_* mask, 0 = all */
	unsigned families; /* PW_FAMILY_* mask, 0 = all */
	uint32_t states;   /* from -s, OR'ed */
	bool states_set;
	uint32_t query_states; /* the mask asked of the library, 0 = all */
	bool listening;	       /* -l */
	bool all;	       /* -a */
	bool numeric;	       /* -n: no service names */

	/* holder filters: a socket is shown when any holder matches all given */
	pid_t *pids;
	size_t n_pids;
	char **commands;
	size_t n_commands;
	bool user_set;
	uid_t user_uid;

	enum pw_netns_scope netns_scope;
	char *netns_path;
	enum pw_collector_kind collector;

	/* -o: explicit columns, or columns appended to the defaults (+COL) */
	int out_cols[MAX_OUT_COLUMNS];
	size_t n_out_cols;
	bool out_append;

	bool json, raw, noheadings, tree, explain, pids_only, list_columns;
	bool prometheus;       /* --prometheus[=FILE] */
	const char *prom_file; /* NULL: stdout */

	struct pw_portspec *specs;
	size_t n_specs;
	struct pw_services *services;
};

void options_free(struct options *o);
/* The options of a plain listing (default columns, no holder filters) of a
 * snapshot taken for query_states; services is borrowed (never freed with
 * options_free). For verbs that show holders as the main command does. */
void options_listing(struct options *o, uint32_t query_states, struct pw_services *services);

/* ---- the view: what passes the holder filters, in display order --------- */

struct view_group {
	const struct pw_port_group *group;
	const struct pw_socket **sockets; /* shown sockets, display order */
	size_t n_sockets;
};

struct view {
	/* NULL when the view is the snapshot's groups as they are (no filter,
	 * all in display order, none left out): view_group_at makes each one
	 * from its group, and -a keeps no array of 30,000 */
	struct view_group *groups;
	/* the sockets of groups the view filtered or reordered (the others
	 * point into the snapshot's groups), NULL when none */
	const struct pw_socket **socket_block;
	size_t n_groups;
	size_t n_sockets;
	size_t n_netns; /* distinct namespaces among shown sockets */
	bool other_netns; /* a shown socket lives outside portwho's namespace */
	bool containers; /* a shown holder lives in a container */
	const struct pw_stats *stats;
	double scan_seconds; /* how long pw_snapshot_take() took */
	const struct pw_snapshot *snap; /* for what it missed (incomplete) */
};

/* Does a holder match -p/-c/--user? (true when none are given) */
bool holder_matches(const struct options *o, const struct pw_holder *h);
bool filter_active(const struct options *o);
/* Build the view of a snapshot: 0 or -ENOMEM. */
int view_build(const struct options *o, const struct pw_snapshot *snap, struct view *ret);
/* The i-th group of the view (i < n_groups). */
static inline struct view_group view_group_at(const struct view *v, size_t i)
{
	if (v->groups)
		return v->groups[i];
	const struct pw_port_group *g = pw_snapshot_group(v->snap, i);
	size_t n = g->n_sockets;
	return (struct view_group){g, n ? (const struct pw_socket **)g->sockets : NULL, n};
}
void view_free(struct view *v);

/* ---- rendering (return 0 or a negative errno) -------------------------- */

/* The value of a column for (group, socket, holder); holder may be NULL.
 * Raw (unescaped) malloc'ed text, or NULL for an empty cell; *ret_err set
 * to -ENOMEM when allocation failed. */
char *column_value(const struct options *o, enum column_id id, const struct pw_port_group *g,
		   const struct pw_socket *s, const struct pw_holder *h, int *ret_err);
/* The same without a copy: raw text that lives as long as the snapshot, or
 * written into buf (COLUMN_TEXT_MAX bytes); NULL for an empty cell. */
#define COLUMN_TEXT_MAX 512
const char *column_text(const struct options *o, enum column_id id, const struct pw_port_group *g,
			const struct pw_socket *s, const struct pw_holder *h, char *buf, size_t size);
/* Service name for (proto, port) unless -n; NULL when none */
const char *service_name(const struct options *o, uint8_t proto, uint16_t port);
const char *service_name_any(const struct pw_services *sv, uint8_t proto, uint16_t port);

int render_table(const struct options *o, const struct view *v, FILE *out);

/* A group no socket is shown for but a forward serves gets one line: the
 * socket cells of the rule's match (render-table.c). */
bool forward_only_line(const struct view_group *vg, struct pw_socket *fake);
/* The columns of a table, in order (render-table.c picks them). */
struct colset {
	int ids[MAX_OUT_COLUMNS + 4];
	size_t n;
};
/* -o COLS as given, or the defaults for n_netns namespaces; in_explain: the
 * table under an --explain heading (no REASON). */
void table_columns(const struct options *o, bool netns, bool containers, bool in_explain,
		   struct colset *c);
/* Flat tables (render-flat.c): no --tree, no --raw. Streamed in two passes
 * (measure, print) so no cell is kept; fitted to the terminal when out is
 * one. indent: spaces before each line (--explain's tables). */
int render_flat(const struct options *o, const struct colset *c, const struct view *v,
		unsigned indent, FILE *out);
/* The width of the terminal out is, COLUMNS first as util-linux does; 0 when
 * out is not a terminal (pipes and files get the full width). */
size_t term_width(FILE *out);
/* Screen columns of escaped text; with cut, *cut is the byte length of the
 * longest prefix no wider than max. */
size_t text_width(const char *s, size_t max, size_t *cut);
int render_explain(const struct options *o, const struct view *v, FILE *out);
/* One group's table, each line indented by two spaces (for --explain). */
int render_group_table(const struct options *o, const struct view_group *vg, FILE *out);
int render_pids(const struct options *o, const struct view *v, FILE *out);
int render_json(const struct options *o, const struct view *v, FILE *out);
/* The document render_json prints, built in memory; NULL when out of memory. */
json_t *render_json_doc(const struct options *o, const struct view *v);
int print_column_list(FILE *out);
/* --prometheus (render-prom.c): the exposition format to out, or written
 * atomically to path (temporary file, fsync, rename; none left on error). */
int render_prom(const struct options *o, const struct view *v, FILE *out);
int render_prom_file(const struct options *o, const struct view *v, const char *path);

#endif
