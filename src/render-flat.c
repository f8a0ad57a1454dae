/* SPDX-License-Identifier: MIT */
/*
 * Flat tables (the default listing, -o, a group's table under --explain)
 * without libsmartcols: on the reference load a libsmartcols table kept
 * every cell of 20,000-60,000 lines in memory and measured each one with
 * mbrtowc/wcwidth. Here the lines are produced twice from the snapshot:
 * pass 1 measures each column, pass 2 prints. Nothing is kept per line.
 *
 * Widths: cells are escaped once (pw_escape_text) and measured as they will
 * be printed, so a name with control bytes or invalid UTF-8 keeps its row
 * aligned. On a terminal the table is fitted to its width (COLUMNS first,
 * as util-linux does): the free-text columns (CMDLINE, REASON, UNIT, KOWNER)
 * are cut first; then whole columns are left out, least useful first; PID
 * and COMMAND are never cut. Pipes and files get the full width.
 * libsmartcols still draws --tree and --raw (render-table.c).
 */
#include <errno.h>
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "portwho-cmd.h"

#define NCOL (MAX_OUT_COLUMNS + 4)

struct flat {
	const struct options *o;
	const struct colset *c;
	bool utf8;	     /* the locale can show UTF-8; else non-ASCII is \xHH */
	bool measuring;	     /* pass 1 */
	size_t width[NCOL];  /* printed width of each column */
	bool has_data[NCOL]; /* some line has a cell there */
	bool hidden[NCOL];   /* left out to fit the terminal */
	unsigned indent;
	FILE *out;
	char *line; /* pass 2: the line being built */
	size_t len, cap;
	int err;
};

/* ---- text ------------------------------------------------------------------ */

#define NOT_PLAIN SIZE_MAX

/* The length of printable ASCII without a backslash (escaping would only
 * copy it, and its width is its length), or NOT_PLAIN. */
static size_t plain_len(const char *s)
{
	const char *p = s;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '\\')
			return NOT_PLAIN;
	return (size_t)(p - s);
}

/* Outside a UTF-8 locale the terminal cannot show UTF-8: its bytes as \xHH. */
static char *escape_high(char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += (unsigned char)*p >= 0x80;
	if (!n)
		return s;
	char *d = malloc(strlen(s) + 3 * n + 1), *o = d;
	if (d) {
		static const char hex[] = "0123456789abcdef";
		for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
			if (*p < 0x80) {
				*o++ = (char)*p;
				continue;
			}
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
		*o = '\0';
	}
	free(s);
	return d;
}

size_t text_width(const char *s, size_t max, size_t *cut)
{
	size_t w = 0, i = 0, len = strlen(s);
	while (i < len) {
		size_t n = 1, cw = 1;
		if ((unsigned char)s[i] >= 0x80) {
			mbstate_t st = {0};
			wchar_t wc;
			n = mbrtowc(&wc, s + i, len - i, &st);
			if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
				n = 1; /* cannot happen after escaping; count a byte */
			else {
				int x = wcwidth(wc);
				cw = x > 0 ? (size_t)x : 0;
			}
		}
		if (cut && w + cw > max)
			break;
		w += cw;
		i += n;
	}
	if (cut)
		*cut = i;
	return w;
}

/* ---- lines ----------------------------------------------------------------- */

static int put(struct flat *f, const char *s, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		size_t ncap = f->cap ? f->cap : 256;
		while (ncap < f->len + n + 1)
			ncap *= 2;
		char *nl = realloc(f->line, ncap);
		if (!nl)
			return -ENOMEM;
		f->line = nl;
		f->cap = ncap;
	}
	memcpy(f->line + f->len, s, n);
	f->len += n;
	return 0;
}

static int pad(struct flat *f, size_t n)
{
	static const char spaces[] = "                                ";
	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		if (put(f, spaces, k) < 0)
			return -ENOMEM;
		n -= k;
	}
	return 0;
}

/* One cell (escaped text or NULL) of column i: measured or appended.
 * plain: its length when plain_len says so (width = length), else NOT_PLAIN. */
static int cell(struct flat *f, size_t i, const char *text, size_t plain)
{
	if (f->measuring) {
		if (text && *text) {
			size_t w = plain != NOT_PLAIN ? plain : text_width(text, 0, NULL);
			f->has_data[i] = true;
			if (w > f->width[i])
				f->width[i] = w;
		}
		return 0;
	}
	if (f->hidden[i])
		return 0;
	size_t colw = f->width[i], w = 0, n = 0;
	if (text && plain != NOT_PLAIN)
		w = n = plain < colw ? plain : colw;
	else if (text)
		w = text_width(text, colw, &n); /* cut to the column (terminals only) */
	bool first = f->len == f->indent;
	bool right = column_get(f->c->ids[i])->flags & CF_RIGHT;
	int r = first ? 0 : put(f, " ", 1);
	if (r >= 0 && right)
		r = pad(f, colw - w);
	if (r >= 0)
		r = put(f, text ? text : "", n);
	if (r >= 0 && !right)
		r = pad(f, colw - w);
	return r;
}

static int end_line(struct flat *f)
{
	if (f->measuring)
		return 0;
	if (put(f, "", 0) < 0) /* room for the newline */
		return -ENOMEM;
	while (f->len > f->indent && f->line[f->len - 1] == ' ')
		f->len--; /* empty last cells leave no padding behind */
	f->line[f->len++] = '\n';
	if (fwrite(f->line, 1, f->len, f->out) != f->len)
		return -EIO;
	f->len = 0;
	return pad(f, f->indent);
}

static bool wanted(bool full, enum column_object obj)
{
	return full || obj == OBJ_HOLDER;
}

static int holder_line(struct flat *f, const struct pw_port_group *g, const struct pw_socket *s,
		       const struct pw_holder *h, bool full)
{
	char buf[COLUMN_TEXT_MAX];
	for (size_t i = 0; i < f->c->n; i++) {
		const struct column_info *ci = column_get(f->c->ids[i]);
		const char *raw = NULL;
		if (wanted(full, ci->obj) && (ci->obj != OBJ_HOLDER || h) &&
		    !(f->hidden[i] && !f->measuring))
			raw = column_text(f->o, f->c->ids[i], g, s, h, buf, sizeof(buf));
		size_t plain = raw ? plain_len(raw) : 0;
		char *esc = NULL;
		if (raw && plain == NOT_PLAIN) {
			esc = pw_escape_text(raw);
			if (esc && !f->utf8)
				esc = escape_high(esc);
			if (!esc)
				return -ENOMEM;
			raw = esc;
		}
		int r = cell(f, i, raw, plain);
		free(esc);
		if (r < 0)
			return r;
	}
	return end_line(f);
}

static int header_line(struct flat *f)
{
	for (size_t i = 0; i < f->c->n; i++) {
		const char *hd = column_get(f->c->ids[i])->header;
		int r = cell(f, i, hd, plain_len(hd));
		if (r < 0)
			return r;
	}
	return end_line(f);
}

static int all_lines(struct flat *f, const struct view *v)
{
	for (size_t gi = 0; gi < v->n_groups; gi++) {
		const struct view_group at = view_group_at(v, gi), *vg = &at;
		struct pw_socket fake;
		if (forward_only_line(vg, &fake)) {
			int r = holder_line(f, vg->group, &fake, NULL, true);
			if (r < 0)
				return r;
		}
		for (size_t si = 0; si < vg->n_sockets; si++) {
			const struct pw_socket *s = vg->sockets[si];
			size_t n = s->n_holders ? s->n_holders : 1;
			for (size_t hi = 0; hi < n; hi++) {
				const struct pw_holder *h = s->n_holders ? &s->holders[hi] : NULL;
				int r = holder_line(f, vg->group, s, h, hi == 0);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* ---- widths ---------------------------------------------------------------- */

size_t term_width(FILE *out)
{
	int fd = fileno(out);
	if (fd < 0 || !isatty(fd))
		return 0;
	const char *env = getenv("COLUMNS");
	if (env && *env) {
		char *end;
		errno = 0;
		long v = strtol(env, &end, 10);
		if (!errno && !*end && v > 0 && v < 100000)
			return (size_t)v;
	}
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static size_t total_width(const struct flat *f)
{
	size_t t = f->indent, shown = 0;
	for (size_t i = 0; i < f->c->n; i++)
		if (!f->hidden[i]) {
			t += f->width[i];
			shown++;
		}
	return t + (shown ? shown - 1 : 0);
}

/* First the free text is cut down to its heading, then columns go whole,
 * in this order; PID and COMMAND stay. */
static const int cut_order[] = {COL_CMDLINE, COL_REASON, COL_UNIT, COL_KOWNER};
static const int drop_order[] = {
    COL_CMDLINE, COL_KOWNER,	COL_REASON,    COL_UNIT,   COL_CLASS, COL_SERVICE, COL_OPTSRC,
    COL_COOKIE,	 COL_REUSEPORT, COL_REUSEADDR, COL_V6ONLY, COL_IFACE, COL_INODE,   COL_UID,
    COL_PPID,	 COL_NSPID,	COL_TID,       COL_VIA,	   COL_FD,    COL_USER,	   COL_FAMILY,
    COL_STATE,	 COL_PROTO,	COL_NETNS,     COL_PORT,   COL_ADDR,  COL_REMOTE,  COL_LOCAL,
};

static void fit(struct flat *f, size_t tw)
{
	for (size_t k = 0; k < sizeof(cut_order) / sizeof(cut_order[0]); k++)
		for (size_t i = 0; i < f->c->n && total_width(f) > tw; i++) {
			if (f->c->ids[i] != cut_order[k])
				continue;
			size_t floor = strlen(column_get(f->c->ids[i])->header);
			size_t over = total_width(f) - tw;
			if (f->width[i] > floor)
				f->width[i] -=
				    over < f->width[i] - floor ? over : f->width[i] - floor;
		}
	size_t shown = f->c->n;
	for (size_t k = 0; k < sizeof(drop_order) / sizeof(drop_order[0]); k++)
		for (size_t i = 0; i < f->c->n && total_width(f) > tw && shown > 1; i++)
			if (f->c->ids[i] == drop_order[k] && !f->hidden[i]) {
				f->hidden[i] = true; /* never the last column left */
				shown--;
			}
}

int render_flat(const struct options *o, const struct colset *c, const struct view *v,
		unsigned indent, FILE *out)
{
	struct flat f = {.o = o, .c = c, .indent = indent, .out = out, .measuring = true};
	const char *cs = nl_langinfo(CODESET);
	f.utf8 = cs && !strcmp(cs, "UTF-8");
	int r = all_lines(&f, v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n; i++) {
		const struct column_info *ci = column_get(c->ids[i]);
		size_t hw = o->noheadings ? 0 : strlen(ci->header);
		if (f.width[i] < hw)
			f.width[i] = hw;
		/* a whole-number hint is the least width of a column with data */
		if (f.has_data[i] && ci->whint >= 1 && f.width[i] < (size_t)ci->whint)
			f.width[i] = (size_t)ci->whint;
	}
	size_t tw = term_width(out);
	if (tw && total_width(&f) > tw)
		fit(&f, tw);
	f.measuring = false;
	if ((r = pad(&f, indent)) >= 0 && (o->noheadings || (r = header_line(&f)) >= 0))
		r = all_lines(&f, v);
	free(f.line);
	return r;
}
