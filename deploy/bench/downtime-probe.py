#!/usr/bin/env python3
"""Measures one outage of Authentik's ready endpoint: from its first failing answer to its first
success after that. Prints the seconds (or 'none' if no outage was seen before the deadline).
Run inside infra-core's namespace (container IPs are only routable there). The container's address
is looked up on every poll: a restarted container may come back with another IP."""
import subprocess, sys, time, urllib.request

container, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
ready_file = sys.argv[3] if len(sys.argv) > 3 else None

def ok():
    try:
        ip = subprocess.run(["docker", "inspect", "--format",
                             "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container],
                            capture_output=True, text=True, timeout=5).stdout.strip()
        if not ip:
            return False
        return 200 <= urllib.request.urlopen(f"http://{ip}:9000/-/health/ready/", timeout=1).status < 300
    except Exception:
        return False

if ready_file:
    open(ready_file, "w").write("polling\n")
down_at = None
while time.monotonic() < deadline:
    good = ok()
    now = time.monotonic()
    if down_at is None and not good:
        down_at = now
    elif down_at is not None and good:
        print(f"{now - down_at:.2f}")
        sys.exit(0)
    time.sleep(0.05)
print("none")
