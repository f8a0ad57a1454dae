#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Record the kernel's NFT_MSG_GETRULE dump of a private namespace holding
the rules in tests/fixtures/nft/rules.nft and rules.iptables (iptables-nft, as Docker writes
them) into rules.bin, the fixture tests/unit/test_nft.c decodes.

Run as root from anywhere: python3 tools/record-nft.py
It makes a namespace pwrec-<random>, loads the rules, dumps, deletes it.
"""
import os
import secrets
import socket
import struct
import subprocess

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "nft")
NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETRULE = 7
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_DONE = 3


def dump():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    msg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE
    # nlmsghdr + nfgenmsg(family=NFPROTO_UNSPEC, version=0, res_id=0)
    body = struct.pack("=BBH", 0, 0, 0)
    hdr = struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    s.send(hdr + body)
    out = b""
    while True:
        data = s.recv(1 << 20)
        off = 0
        done = False
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from("=IH", data, off)
            if typ == NLMSG_DONE:
                done = True
                break
            out += data[off:off + ((ln + 3) & ~3)]
            off += (ln + 3) & ~3
        if done:
            return out


def main():
    name = "pwrec-" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ex = ["ip", "netns", "exec", name]
        subprocess.run(ex + ["nft", "-f", os.path.join(HERE, "rules.nft")], check=True)
        with open(os.path.join(HERE, "rules.iptables")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    subprocess.run(ex + ["iptables-nft"] + line.split(), check=True)
        r = subprocess.run(ex + ["python3", os.path.abspath(__file__), "--dump"],
                           check=True, capture_output=True)
        with open(os.path.join(HERE, "rules.bin"), "wb") as f:
            f.write(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--dump"]:
        sys.stdout.buffer.write(dump())
    else:
        main()
