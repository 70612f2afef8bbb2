#!/usr/bin/env python3
"""Tiny stand-in for authentik-server's health endpoints and file storage (akbackup lab).

Runs as the container user 1000:1000, like real Authentik.

GET /-/health/live/   always 200
GET /-/health/ready/  200 while the database answers, else 503. A database holding the table
                      public.akbackup_lab_unhealthy counts as broken: restore tests use it to make
                      a restored database that never becomes healthy.
GET /-/version/       {"version": AUTHENTIK_VERSION}
GET /media/<path>     the regular file /media/<path> (application/octet-stream), as Authentik serves
                      its uploads. <path> is percent-decoded to bytes (UTF-8 names work). 400 if the
                      decoded path contains ".." or NUL; 404 if it is missing, not a regular file, or
                      its os.path.realpath leaves /media (a symlink may point inside /media only).
GET /-/akbackup-lab/storage/
                      {"sha256": HEX, "files": N, "entries": E, "bytes": B}: a fingerprint of the file
                      storage, for tests that back files up and restore them (see below). N counts
                      regular files, E all entries, B the regular files' sizes. 500 if an entry
                      cannot be read.

Storage fingerprint (reproducible in any language). Roots, in this order:
    /media  /templates  /certs  /blueprints/custom
A root that does not exist (or is not a directory, by lstat) contributes nothing. Below each root,
every entry (the root itself excluded) is found by a walk that never follows symlinks. The
entries of one root are sorted by their relative path as raw bytes (components joined with "/",
no leading "./"; e.g. "a.txt" sorts before "a/b"). Each entry contributes five fields to one
SHA-256 stream, each field as a netstring: ASCII decimal length of the field's bytes, ":", the
bytes, ",":
    1. the root, e.g. "/media"
    2. the relative path (raw bytes of the names), e.g. "application-icons/app.png"
    3. the type, by lstat: "file", "dir", "symlink" or "other"
    4. the permission bits, st_mode & 0o7777, as 4 octal digits, e.g. "0644", "0755"
    5. file: the lowercase hex SHA-256 of its content; symlink: its target, os.readlink (raw
       bytes); dir and other: empty
Example: a root /certs holding only the 0600 file "a.pem" with content "x" adds
    6:/certs,5:a.pem,4:file,4:0600,64:<sha256("x") in hex>,
Owners, mtimes and sizes are not hashed (the content is). The reply's "sha256" is the stream's
lowercase hex digest; with no entries at all it is sha256 of nothing (e3b0c442...).

The database password comes from the environment and is handed to psql via
PGPASSWORD in the child's environment (never in argv).
"""
import hashlib
import json
import os
import stat
import subprocess
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PSQL = "/usr/lib/postgresql/15/bin/psql"
VERSION = os.environ.get("AUTHENTIK_VERSION", "2025.10.1")
MEDIA = b"/media"
STORAGE_ROOTS = (b"/media", b"/templates", b"/certs", b"/blueprints/custom")


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


def netstring(data):
    return str(len(data)).encode() + b":" + data + b","


def tree_entries(root):
    """(relative path, absolute path) of every entry below root, never following symlinks."""
    out = []
    pending = [b""]
    while pending:
        rel_dir = pending.pop()
        with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
            for entry in it:
                rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
                out.append((rel, entry.path))
                if entry.is_dir(follow_symlinks=False):
                    pending.append(rel)
    out.sort()
    return out


def file_sha256(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest().encode()


def storage_fingerprint():
    h = hashlib.sha256()
    files = entries = size = 0
    for root in STORAGE_ROOTS:
        try:
            if not stat.S_ISDIR(os.lstat(root).st_mode):
                continue
        except FileNotFoundError:
            continue
        for rel, path in tree_entries(root):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                kind, payload = b"file", file_sha256(path)
                files += 1
                size += st.st_size
            elif stat.S_ISLNK(st.st_mode):
                kind, payload = b"symlink", os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                kind, payload = b"dir", b""
            else:
                kind, payload = b"other", b""
            entries += 1
            for field in (root, rel, kind, b"%04o" % (st.st_mode & 0o7777), payload):
                h.update(netstring(field))
    return {"sha256": h.hexdigest(), "files": files, "entries": entries, "bytes": size}


class Handler(BaseHTTPRequestHandler):
    server_version = "authentik-standin"

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def serve_media(self):
        # http.server decodes the request line as latin-1: encode back to the bytes sent.
        raw = self.path.split("?", 1)[0][len("/media/"):].encode("latin-1")
        rel = urllib.parse.unquote_to_bytes(raw)
        if b".." in rel or b"\0" in rel:
            self.reply(400, {"detail": "bad path"})
            return
        real = os.path.realpath(os.path.join(MEDIA, rel.lstrip(b"/")))
        if not real.startswith(MEDIA + b"/") or not os.path.isfile(real):
            self.reply(404, {"detail": "not found"})
            return
        try:
            f = open(real, "rb")
        except OSError:
            self.reply(404, {"detail": "not found"})
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            left = size
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

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
        elif self.path.startswith("/media/"):
            self.serve_media()
        elif self.path == "/-/akbackup-lab/storage/":
            try:
                self.reply(200, storage_fingerprint())
            except OSError as e:
                name = os.fsdecode(e.filename) if isinstance(e.filename, bytes) else e.filename
                self.reply(500, {"detail": "cannot read %s: %s" % (name, e.strerror)})
        else:
            self.reply(404, {"detail": "not found"})

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 9000), Handler).serve_forever()
