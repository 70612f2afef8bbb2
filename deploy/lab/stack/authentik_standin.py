#!/usr/bin/env python3
"""Tiny stand-in for authentik-server's health endpoints (akbackup lab).

GET /-/health/live/   always 200
GET /-/health/ready/  200 while the database answers, else 503. A database holding the table
                      public.akbackup_lab_unhealthy counts as broken: restore tests use it to make
                      a restored database that never becomes healthy.
GET /-/version/       {"version": AUTHENTIK_VERSION}

The database password comes from the environment and is handed to psql via
PGPASSWORD in the child's environment (never in argv).
"""
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PSQL = "/usr/lib/postgresql/15/bin/psql"
VERSION = os.environ.get("AUTHENTIK_VERSION", "2025.10.1")


def database_ready():
    env = dict(os.environ)
    env["PGPASSWORD"] = os.environ.get("AUTHENTIK_POSTGRESQL__PASSWORD", "")
    env["PGCONNECT_TIMEOUT"] = "2"
    argv = [
        PSQL, "-X", "-q", "-t", "-A",
        "-h", os.environ.get("AUTHENTIK_POSTGRESQL__HOST", "authentik-postgres"),
        "-U", os.environ.get("AUTHENTIK_POSTGRESQL__USER", "authentik"),
        "-d", os.environ.get("AUTHENTIK_POSTGRESQL__NAME", "authentik"),
        "-c", "select (to_regclass('public.akbackup_lab_unhealthy') is null)::int",
    ]
    try:
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return r.returncode == 0 and r.stdout.strip() == b"1"


class Handler(BaseHTTPRequestHandler):
    server_version = "authentik-standin"

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/-/health/live/":
            self.reply(200, {"status": "live"})
        elif self.path == "/-/health/ready/":
            if database_ready():
                self.reply(200, {"status": "ready"})
            else:
                self.reply(503, {"status": "database unavailable"})
        elif self.path == "/-/version/":
            self.reply(200, {"version": VERSION})
        else:
            self.reply(404, {"detail": "not found"})

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 9000), Handler).serve_forever()
