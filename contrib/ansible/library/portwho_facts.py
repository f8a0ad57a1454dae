#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Ansible module: run portwho --json on the host and return it as facts."""

DOCUMENTATION = r"""
---
module: portwho_facts
short_description: Which processes hold which ports, and why, as facts
description:
  - Runs C(portwho --json) on the managed host (it must be installed there;
    run as root to see every holder) and returns its document as the fact
    C(portwho), plus C(portwho_listening), one entry per listening or bound
    (proto, address, port) with its holders' commands and units, and its
    network namespace (C(netns), the inode; C(netns_name), its name or null).
  - Read-only, it changes nothing on the host and supports check mode.
options:
  portwho:
    description: Path of the portwho binary; by default it is looked up in PATH, /usr/sbin and /usr/local/sbin.
    type: path
  netns:
    description: portwho's -N/--netns; all, current, a name under /run/netns, a path or a PID.
    type: str
    default: all
  ports:
    description: PORTSPECs to ask about (e.g. 53/udp, 8000-8100); every state is then shown, but portwho_listening keeps bound sockets only.
    type: list
    elements: str
    default: []
  collector:
    description: How portwho finds holders.
    type: str
    choices: [auto, procfs, bpf]
    default: auto
"""

EXAMPLES = r"""
- name: Gather portwho facts
  portwho_facts:
- name: Show who listens
  debug:
    msg: "{{ ansible_facts.portwho_listening | map(attribute='port') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: C(portwho), the --json document described in portwho(8), and C(portwho_listening).
  returned: always
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

BOUND_STATES = ("LISTEN", "UNCONN", "BOUND")


def listening(doc):
    """One entry per (netns, proto, address, port, state) of bound sockets."""
    out = {}
    for group in doc.get("ports", []):
        for s in group.get("sockets", []):
            if s.get("state") not in BOUND_STATES:
                continue
            key = (group["netns"], group["proto"], s["local_address"], group["port"], s["state"])
            e = out.setdefault(key, {
                "netns": group["netns"], "netns_name": group.get("netns_name"),
                "proto": group["proto"],
                "address": s["local_address"], "port": group["port"], "state": s["state"],
                "service": group.get("service"), "sockets": 0, "commands": [], "units": [],
                "reasons": sorted({r["kind"] for r in group.get("reasons", [])}),
            })
            e["sockets"] += 1
            for h in s.get("holders", []):
                if h.get("command") and h["command"] not in e["commands"]:
                    e["commands"].append(h["command"])
                if h.get("unit") and h["unit"] not in e["units"]:
                    e["units"].append(h["unit"])
    return sorted(out.values(), key=lambda e: (e["netns"], e["proto"], e["port"], e["address"]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            portwho=dict(type="path"),
            netns=dict(type="str", default="all"),
            ports=dict(type="list", elements="str", default=[]),
            collector=dict(type="str", default="auto", choices=["auto", "procfs", "bpf"]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    binary = p["portwho"] or module.get_bin_path("portwho", required=True,
                                                 opt_dirs=["/usr/sbin", "/usr/local/sbin"])
    argv = [binary, "--json", "-N", p["netns"], "--collector", p["collector"]]
    if p["ports"]:
        argv += ["--"] + p["ports"]
    rc, out, err = module.run_command(argv)
    # 0: something matched, 1: nothing matched (still a document), 2: error
    if rc not in (0, 1):
        module.fail_json(msg="portwho failed: %s" % (err.strip() or "exit %d" % rc), rc=rc,
                         cmd=argv, stderr=err)
    try:
        doc = json.loads(out)
    except ValueError as e:
        module.fail_json(msg="portwho printed no JSON document: %s" % e, rc=rc, cmd=argv)
    warnings = [line for line in err.splitlines() if line.strip()]
    for w in warnings:
        module.warn(w)
    module.exit_json(changed=False, ansible_facts={"portwho": doc,
                                                   "portwho_listening": listening(doc)})


if __name__ == "__main__":
    main()
