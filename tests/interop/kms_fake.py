#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_fake.py SOCKET ANSWERS — a stand-in KMS that answers what a test tells it to: HTTP/1.1
on the AF_UNIX stream SOCKET; for a request with "X-Amz-Target: TrentService.OP" it reads the
JSON file ANSWERS again (so a test can change it between calls) and sends ANSWERS[OP], which
is {"status": 200, "body": <JSON value, or a string sent as is>}.  An OP missing from ANSWERS
gets 400 UnknownOperationException.  Every request is appended to SOCKET.log as
"OP <request body>"."""
import http.server
import json
import os
import socketserver
import sys

path, answers = sys.argv[1], sys.argv[2]


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = self.rfile.read(n).decode(errors="replace")
        op = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        with open(path + ".log", "a", encoding="utf-8") as f:
            f.write("%s %s\n" % (op, req))
        with open(answers, encoding="utf-8") as f:
            table = json.load(f)
        a = table.get(op, {"status": 400, "body": {"__type": "UnknownOperationException",
                                                   "message": "no answer for " + op}})
        body = a["body"] if isinstance(a["body"], str) else json.dumps(a["body"])
        data = body.encode()
        self.send_response(a.get("status", 200))
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if os.path.exists(path):
    os.unlink(path)
Server(path, Handler).serve_forever()
