#!/usr/bin/env python3
"""Install the smsgate .deb on this machine and run it as systemd would, then purge it.

    python3 scripts/test_package.py smsgate_0.1.0_amd64.deb

Needs root (dpkg). Checks, failing loudly on the first that does not hold:
- the package installs: the `smsgate` system user, /var/lib/smsgate owned by it, the
  packaged config and a generated jCli password readable only as they should be;
- `systemd-analyze verify` accepts the unit;
- the unit's ExecStart runs as its User= with its Environment= and the packaged config
  (listener ports moved to ephemeral ones through SMSGATE_* variables), sends READY=1 on
  NOTIFY_SOCKET only once /ready answers 200;
- an operator's first steps work: a group, a user, a connector to a simulator and a route
  added through jCli with the generated password, then `persist`; a message sent with
  /send reaches the simulator;
- SIGHUP (ExecReload) sends RELOADING=1 then READY=1 and the gateway keeps serving;
- SIGTERM sends STOPPING=1 and the process exits 0;
- `dpkg --purge` removes the binary, the secrets and the data.
"""

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

from smoke import check, http_get, run, setup_operator, unit_values, wait_line, wait_submits

UNIT = "/lib/systemd/system/smsgate.service"


def notifications(sock, want, timeout=60):
    """Read datagrams until every state in `want` has been seen, in order."""
    seen = []
    deadline = time.time() + timeout
    while want:
        sock.settimeout(max(0.1, deadline - time.time()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            sys.exit(f"test_package: FAILED: waited for {want} on NOTIFY_SOCKET, got {seen}")
        for state in msg.splitlines():
            seen.append(state)
            if want and state == want[0]:
                want.pop(0)
    return seen


def main():
    deb = os.path.abspath(sys.argv[1])
    run("dpkg", "-i", deb)
    check(os.access("/usr/bin/smsgate", os.X_OK), "dpkg -i installed /usr/bin/smsgate")
    pw = run("getent", "passwd", "smsgate").stdout.split(":")
    check(pw[6].strip() == "/usr/sbin/nologin", "system user smsgate without a login shell")
    st = os.stat("/var/lib/smsgate")
    check(st.st_uid == int(pw[2]) and st.st_mode & 0o777 == 0o750, "/var/lib/smsgate is smsgate's, 0750")
    check(os.stat("/etc/smsgate/secrets.toml").st_mode & 0o777 == 0o640, "secrets.toml is 0640")
    check(os.stat("/etc/smsgate/jcli-admin-password").st_mode & 0o777 == 0o600, "jcli-admin-password is 0600")
    admin_pw = open("/etc/smsgate/jcli-admin-password").read().strip()
    check(len(admin_pw) >= 16 and "argon2" in open("/etc/smsgate/secrets.toml").read(),
          "a random jCli password, stored hashed in secrets.toml")
    r = subprocess.run(["systemd-analyze", "verify", UNIT], text=True, capture_output=True)
    check(r.returncode == 0, f"systemd-analyze verify {UNIT}: {r.stderr.strip() or 'clean'}")

    unit = unit_values(UNIT)
    check(unit["Type"] == ["notify"], "Type=notify")
    user = unit["User"][0]
    env = dict(os.environ)
    for e in unit.get("Environment", []):
        for kv in shlex.split(e):
            k, v = kv.split("=", 1)
            env[k] = v
    # Ephemeral ports: a Jasmin or another gateway may hold the standard ones here.
    for section in ["HTTP_API", "SMPP_SERVER", "JCLI", "REST_API"]:
        env[f"SMSGATE_{section}__PORT"] = "0"
    env.pop("RUST_LOG", None)

    work = tempfile.mkdtemp(prefix="smsgate-pkg-")
    os.chmod(work, 0o755)
    sim_log, sim_err, gw_log = (os.path.join(work, n) for n in ["sim.pdus", "sim.err", "gw.log"])
    sim = subprocess.Popen(["/usr/bin/smsgate", "smsc-sim", "--port", "0", "--pdu-log", sim_log],
                           stdout=subprocess.DEVNULL, stderr=open(sim_err, "w"))
    sim_port = int(wait_line(sim_err, r"SMSC simulator listening addr=[\d.]+:(\d+)").group(1))

    notify_path = os.path.join(work, "notify")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(notify_path)
    os.chmod(notify_path, 0o777)
    env["NOTIFY_SOCKET"] = notify_path

    cmd = shlex.split(unit["ExecStart"][0])
    # setpriv execs (no parent left between us and the gateway), as systemd starts it.
    gw = subprocess.Popen(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] + cmd,
                          env=env, cwd="/",
                          stdout=subprocess.DEVNULL, stderr=open(gw_log, "w"))
    try:
        notifications(nsock, ["READY=1"])
        http_port = int(wait_line(gw_log, r"HTTP API listening addr=[\d.]+:(\d+)").group(1))
        status, body = http_get(http_port, "/ready")
        check(status == 200, f"/ready answers 200 once READY=1 is sent: {body}")
        ready = json.loads(body)
        jcli_port = int(ready["listeners"]["jcli"].rsplit(":", 1)[1])
        owner = run("ps", "-o", "user=", "-p", str(gw.pid)).stdout.strip()
        check(owner == user, f"the gateway runs as {user}")
        check(os.stat("/var/lib/smsgate/smsgate.db").st_uid == int(pw[2]), "its database is in /var/lib/smsgate, owned by smsgate")

        setup_operator(jcli_port, admin_pw, sim_port)

        deadline = time.time() + 30
        while json.loads(http_get(http_port, "/ready")[1])["connectors"].get("sim") != "bound":
            check(time.time() < deadline, "connector sim bound within 30 s")
            time.sleep(0.2)
        check(True, "connector sim bound (reported by /ready)")

        def send(to):
            status, body = http_get(http_port, f"/send?username=foo&password=bar&to={to}&content=packaged")
            check(status == 200 and body.startswith("Success"), f"/send to {to}: {status} {body}")

        send("33600000001")
        check(wait_submits(sim_log, 1), "the message reached the simulator")

        gw.send_signal(1)  # SIGHUP, as ExecReload sends it
        seen = notifications(nsock, ["RELOADING=1", "READY=1"])
        check(any(s.startswith("MONOTONIC_USEC=") for s in seen), "reload notifies RELOADING=1 with MONOTONIC_USEC, then READY=1")
        wait_line(gw_log, r"configuration reloaded.*jcli-prod")
        send("33600000002")
        check(wait_submits(sim_log, 2), "a message sent after the reload reached the simulator")

        gw.send_signal(15)
        notifications(nsock, ["STOPPING=1"])
        check(gw.wait(timeout=60) == 0, "SIGTERM: STOPPING=1 and exit status 0")
    finally:
        if gw.poll() is None:
            gw.kill()
        sim.kill()
        print("--- gateway log ---")
        print(open(gw_log).read()[-4000:])

    run("dpkg", "--purge", "smsgate")
    check(not os.path.exists("/usr/bin/smsgate") and not os.path.exists("/var/lib/smsgate")
          and not os.path.exists("/etc/smsgate/secrets.toml"),
          "dpkg --purge removed the binary, the data and the secrets")


if __name__ == "__main__":
    main()
