"""Helpers of the install smoke tests (scripts/test_package.py, scripts/test_image.py): checks
that stop at the first failure, log lines, HTTP, and jCli over telnet."""

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok - {what}")


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def unit_values(path):
    """Key -> list of values of the [Service] section."""
    out, section = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def wait_line(path, pattern, timeout=60):
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            for line in open(path, errors="replace"):
                m = rx.search(line)
                if m:
                    return m
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    sys.exit(f"FAILED: no line matching {pattern!r} in {path}:\n" + open(path).read())


def http_get(port, target):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def strip_telnet(b):
    b = re.sub(rb"\xff\xfa.*?\xff\xf0", b"", b, flags=re.S)
    b = re.sub(rb"\xff[\xfb-\xfe].", b"", b)
    return b.decode(errors="replace")


class Jcli:
    def __init__(self, port, user, password):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.until("Username: ")
        self.send(user)
        self.until("Password: ")
        self.send(password)
        self.until("jcli : ")

    def send(self, line):
        self.buf = b""
        self.s.sendall(line.encode() + b"\r\n")

    def until(self, *prompts):
        deadline = time.time() + 15
        while not any(strip_telnet(self.buf).endswith(p) for p in prompts):
            if time.time() > deadline:
                sys.exit(f"FAILED: jCli gave no prompt; got {strip_telnet(self.buf)!r}")
            chunk = self.s.recv(8192)
            if not chunk:
                sys.exit(f"FAILED: jCli closed; got {strip_telnet(self.buf)!r}")
            self.buf += chunk
        return strip_telnet(self.buf)

    def cmd(self, line):
        self.send(line)
        return self.until("jcli : ", "> ")




def setup_operator(jcli_port, admin_pw, sim_port):
    """An operator's first steps through jCli: a group, a user foo/bar, a connector `sim` to the
    simulator on sim_port (started), a default MT route to it, then persist."""
    j = Jcli(jcli_port, "jcliadmin", admin_pw)
    forms = [
        ["group -a", "gid customers"],
        ["user -a", "username foo", "password bar", "gid customers", "uid foo"],
        ["smppccm -a", "cid sim", "host 127.0.0.1", f"port {sim_port}",
         "username smppclient", "password password"],
        ["mtrouter -a", "type DefaultRoute", "connector smppc(sim)", "rate 0.00"],
    ]
    for form in forms:
        for line in form:
            out = j.cmd(line)
            check("rror" not in out and "nknown" not in out, f"jCli: {line}")
        out = j.cmd("ok")
        check("Successfully added" in out, f"jCli: {form[0]} ... ok: {out.strip().splitlines()[-2:]}")
    out = j.cmd("smppccm -1 sim")
    check("Successfully" in out, f"jCli: smppccm -1 sim: {out.strip().splitlines()[-2:]}")
    out = j.cmd("persist")
    check("persisted (profile:jcli-prod)" in out, f"jCli persist: {out.strip().splitlines()[1:3]}")


def submits(sim_log):
    """How many submit_sm the simulator's PDU log holds."""
    try:
        return sum('"SubmitSm"' in line for line in open(sim_log))
    except FileNotFoundError:
        return 0


def wait_submits(sim_log, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if submits(sim_log) >= n:
            return True
        time.sleep(0.1)
    return False


def wait_bound(http_port, cid="sim", timeout=30):
    """Wait until /ready reports connector `cid` bound."""
    deadline = time.time() + timeout
    while json.loads(http_get(http_port, "/ready")[1])["connectors"].get(cid) != "bound":
        check(time.time() < deadline, f"connector {cid} bound within {timeout} s")
        time.sleep(0.2)


def free_port():
    """A port the kernel hands out for a listener (ephemeral), released for the gateway."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
