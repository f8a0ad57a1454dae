/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

static int setup_fixture(void **state)
{
	struct pw_services *s = NULL;
	int r = pw_services_load(FIXTURES "/services", &s);
	if (r < 0)
		return -1;
	*state = s;
	return 0;
}

static int setup_builtin(void **state)
{
	struct pw_services *s = NULL;
	if (pw_services_load(FIXTURES "/no-such-services-file", &s) < 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	pw_services_free(*state);
	return 0;
}

static void port_is(const struct pw_services *s, const char *name, const char *proto, int want)
{
	uint16_t port = 0xffff;
	int r = pw_services_port(s, name, proto, &port);
	if (want < 0) {
		assert_int_equal(r, want);
		assert_int_equal(port, 0xffff); /* untouched */
	} else {
		assert_int_equal(r, 0);
		assert_int_equal(port, want);
	}
}

static void name_is(const struct pw_services *s, uint16_t port, const char *proto, const char *want)
{
	const char *got = pw_services_name(s, port, proto);
	if (!want)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

static void test_fixture_names(void **state)
{
	const struct pw_services *s = *state;
	assert_false(pw_services_builtin(s));
	port_is(s, "ssh", NULL, 22);
	port_is(s, "ssh", "tcp", 22);
	port_is(s, "ssh", "udp", -ENOENT);
	port_is(s, "domain", "udp", 53);
	port_is(s, "ntp", "udp", 123);
	port_is(s, "ntp", NULL, 123);
	port_is(s, "ntp", "tcp", -ENOENT);
	port_is(s, "udplite", NULL, -ENOENT);
	port_is(s, "ntp", "udplite", 123); /* UDP-Lite shares UDP's numbers */
	/* aliases, case, odd but valid lines */
	port_is(s, "www", NULL, 80);
	port_is(s, "mail", "tcp", 25);
	port_is(s, "webcache", NULL, 8080);
	port_is(s, "HTTP", NULL, 80);
	port_is(s, "casename", NULL, 2000);
	port_is(s, "CASENAME", "tcp", 2000);
	port_is(s, "indented", NULL, 81);
	port_is(s, "9pfs", NULL, 564);
	port_is(s, "crlf", NULL, 2001);
	port_is(s, "alias1", NULL, 6000);
	port_is(s, "alias2", "tcp", 6000);
	port_is(s, "nonewline", "udp", 7001);
	port_is(s, "echo", "udp", 7);
	/* the first line wins for a repeated name; NULL proto prefers tcp */
	port_is(s, "dup", NULL, 3000);
	port_is(s, "split", NULL, 5000);
	port_is(s, "split", "udp", 5001);
	port_is(s, "tcponly", "udp", -ENOENT);
	port_is(s, "udponly", NULL, 4001);
	/* skipped or absent */
	port_is(s, "sctp-only", NULL, -ENOENT);
	port_is(s, "broken", NULL, -ENOENT);
	port_is(s, "noproto", NULL, -ENOENT);
	port_is(s, "badproto", NULL, -ENOENT);
	port_is(s, "commented", NULL, -ENOENT);
	port_is(s, "WorldWideWeb", NULL, -ENOENT); /* comment text is not an alias */
	port_is(s, "#", NULL, -ENOENT);
	port_is(s, "", NULL, -ENOENT);
	port_is(s, "ssh", "sctp", -EINVAL);
	port_is(s, NULL, NULL, -EINVAL);
	port_is(NULL, "ssh", NULL, -EINVAL);
}

static void test_fixture_ports(void **state)
{
	const struct pw_services *s = *state;
	name_is(s, 22, "tcp", "ssh");
	name_is(s, 22, NULL, "ssh");
	name_is(s, 22, "udp", "ssh");  /* no udp entry: the tcp name is the best guess */
	name_is(s, 80, "tcp", "http"); /* not the later http-again, not the alias */
	name_is(s, 514, "tcp", "shell");
	name_is(s, 514, "udp", "syslog");
	name_is(s, 514, "udplite", "syslog");
	name_is(s, 514, NULL, "shell");
	name_is(s, 123, "tcp", "ntp");
	name_is(s, 4001, NULL, "udponly");
	name_is(s, 5001, "tcp", "split");
	name_is(s, 7001, "udp", "nonewline");
	name_is(s, 9899, NULL, NULL);
	name_is(s, 2002, NULL, NULL);
	name_is(s, 7000, NULL, NULL);
	name_is(s, 0, NULL, NULL);
	name_is(s, 65535, NULL, NULL);
	name_is(s, 22, "sctp", NULL);
	name_is(NULL, 22, NULL, NULL);
}

static void test_builtin(void **state)
{
	const struct pw_services *s = *state;
	assert_true(pw_services_builtin(s));
	static const struct {
		const char *name, *proto;
		uint16_t port;
	} t[] = {
	    {"echo", "tcp", 7},		{"ftp-data", "tcp", 20},     {"ftp", "tcp", 21},
	    {"ssh", "tcp", 22},		{"telnet", "tcp", 23},	     {"smtp", "tcp", 25},
	    {"domain", "udp", 53},	{"domain", "tcp", 53},	     {"bootps", "udp", 67},
	    {"tftp", "udp", 69},	{"http", "tcp", 80},	     {"kerberos", "udp", 88},
	    {"pop3", "tcp", 110},	{"sunrpc", "udp", 111},	     {"ntp", "udp", 123},
	    {"netbios-ns", "udp", 137}, {"netbios-dgm", "udp", 138}, {"netbios-ssn", "tcp", 139},
	    {"imap", "tcp", 143},	{"snmp", "udp", 161},	     {"ldap", "tcp", 389},
	    {"https", "tcp", 443},	{"https", "udp", 443},	     {"microsoft-ds", "tcp", 445},
	    {"syslog", "udp", 514},	{"submission", "tcp", 587},  {"ldaps", "tcp", 636},
	    {"imaps", "tcp", 993},	{"pop3s", "tcp", 995},	     {"openvpn", "udp", 1194},
	    {"nfs", "tcp", 2049},	{"mysql", "tcp", 3306},	     {"rdp", "tcp", 3389},
	    {"vxlan", "udp", 4789},	{"mdns", "udp", 5353},	     {"postgresql", "tcp", 5432},
	    {"geneve", "udp", 6081},	{"redis", "tcp", 6379},	     {"http-alt", "tcp", 8080},
	    {"memcache", "tcp", 11211}, {"mongodb", "tcp", 27017},   {"wireguard", "udp", 51820},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		port_is(s, t[i].name, t[i].proto, t[i].port);
	name_is(s, 22, "tcp", "ssh");
	name_is(s, 53, "udp", "domain");
	name_is(s, 512, "tcp", "exec");
	name_is(s, 512, "udp", "biff");
	name_is(s, 3389, "tcp", "ms-wbt-server");
	name_is(s, 4789, "udp", "vxlan");
	name_is(s, 4789, "tcp", "vxlan");
	name_is(s, 51820, NULL, "wireguard");
	name_is(s, 1, NULL, "tcpmux");
	name_is(s, 4, NULL, NULL);
}

/* Every line of the built-in table parses: a name found by port maps back
 * to that port. The count is the number of lines in services-builtin.c, so
 * a typo that silently drops a line fails here. */
static void test_builtin_roundtrip(void **state)
{
	const struct pw_services *s = *state;
	unsigned named = 0;
	for (unsigned p = 0; p < 65536; p++) {
		for (int k = 0; k < 2; k++) {
			const char *proto = k ? "udp" : "tcp";
			const char *n = pw_services_name(s, (uint16_t)p, proto);
			uint16_t back;
			if (!n)
				continue;
			if (pw_services_port(s, n, proto, &back) == 0 && back == p)
				named++;
		}
	}
	assert_int_equal(named, 227);
}

static void test_load_errors(void **state)
{
	(void)state;
	struct pw_services *s = (struct pw_services *)0x1;
	assert_int_equal(pw_services_load(FIXTURES, &s), -EISDIR);
	assert_ptr_equal(s, (struct pw_services *)0x1);
	assert_false(pw_services_builtin(NULL));
	pw_services_free(NULL);

	/* an empty file is a real (empty) table, not the built-in one */
	assert_int_equal(pw_services_load("/dev/null", &s), 0);
	assert_false(pw_services_builtin(s));
	port_is(s, "ssh", NULL, -ENOENT);
	pw_services_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fixture_names, setup_fixture, teardown),
	    cmocka_unit_test_setup_teardown(test_fixture_ports, setup_fixture, teardown),
	    cmocka_unit_test_setup_teardown(test_builtin, setup_builtin, teardown),
	    cmocka_unit_test_setup_teardown(test_builtin_roundtrip, setup_builtin, teardown),
	    cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
