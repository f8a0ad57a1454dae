#!/usr/bin/python3
"""record-diag.py OUT FAMILY PROTO STATES — save one raw SOCK_DIAG dump.

Writes every netlink datagram of the reply, each prefixed with its length
as a 4-byte little-endian number, so unit tests can replay the exact bytes
the kernel sent. Run it inside the namespace to record (ip netns exec)."""
import socket
import struct
import sys

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_DONE = 3

out, family, proto, states = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 0)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
s.bind((0, 0))
# inet_diag_req_v2: family, protocol, ext, pad, states, then a zero sockid (48 bytes)
req = struct.pack("=BBBBI", family, proto, 0, 0, states) + b"\0" * 48
hdr = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
s.send(hdr + req)
with open(out, "wb") as f:
    done = False
    while not done:
        data = s.recv(65536)
        f.write(struct.pack("<I", len(data)) + data)
        off = 0
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from("=IH", data, off)
            if typ == NLMSG_DONE:
                done = True
            off += (ln + 3) & ~3
