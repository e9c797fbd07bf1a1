#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_notify.py SOCKET OUT SECONDS — a stand-in for systemd's notification socket: binds the
AF_UNIX datagram SOCKET and appends every sd_notify() message it receives to OUT (one field per
line, as sent), for SECONDS seconds or until a message contains STOPPING=1."""
import os
import socket
import sys
import time

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + seconds
with open(out, "a", encoding="utf-8") as f:
    f.write("LISTENING\n")
    f.flush()
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            break
        f.write(msg.rstrip("\n") + "\n")
        f.flush()
        if "STOPPING=1" in msg:
            break
os.unlink(path)
