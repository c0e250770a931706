#!/usr/bin/env python3
"""Smoke-test the smsgate container image built by scripts/build-image.sh.

    python3 scripts/test_image.py localhost/smsgate:0.1.0

Checks, failing loudly on the first that does not hold:
- the image runs as uid 10001, declares the /var/lib/smsgate volume and a HEALTHCHECK, and
  holds no shell;
- a container started from it with only SMSGATE_* variables (ports moved to free ones, the
  jCli password set) turns healthy through the image's own HEALTHCHECK (`smsgate probe`);
- the gateway in it runs as uid 10001 and keeps its database on the volume;
- set up through jCli, it sends a message to a simulator on the host;
- `podman stop` (SIGTERM) ends it with status 0; the volume keeps the data for the next
  container, which starts with the persisted configuration and sends again.

The container shares the host's network (`--network host`) so that the simulator and the
ephemeral ports need no publishing. Where the engine cannot set the default resource limits
or the default OCI runtime cannot run here (a VM with hybrid cgroups), it retries with runc
and lower limits, and says so.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from smoke import check, free_port, http_get, run, setup_operator, wait_bound, wait_line, wait_submits

ENGINE = shutil.which("podman") or shutil.which("docker")


def engine(*args, **kw):
    return run(ENGINE, *args, **kw)


def main():
    image = sys.argv[1]
    check(ENGINE is not None, f"container engine: {ENGINE}")
    info = json.loads(engine("image", "inspect", image).stdout)[0]
    cfg = info.get("Config", {})
    check(cfg.get("User") == "10001:10001", f"image user {cfg.get('User')}")
    check("/var/lib/smsgate" in (cfg.get("Volumes") or {}), "image declares the /var/lib/smsgate volume")
    health = (info.get("Healthcheck") or cfg.get("Healthcheck") or {}).get("Test") or []
    check("probe" in " ".join(health), f"image HEALTHCHECK runs smsgate probe: {health}")

    # Flags this machine may need to run a container at all.
    flags = []
    probe = subprocess.run([ENGINE, "run", "--rm", image, "--version"], text=True, capture_output=True)
    if probe.returncode != 0:
        flags = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
        print(f"note: plain `run` failed here ({probe.stderr.strip()[-160:]}); using {' '.join(flags)}")
        probe = subprocess.run([ENGINE, "run", *flags, "--rm", image, "--version"], text=True, capture_output=True)
    check(probe.returncode == 0 and "smsgate" in probe.stdout, f"the image runs smsgate: {probe.stdout.strip()}")
    no_shell = subprocess.run([ENGINE, "run", *flags, "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"],
                              text=True, capture_output=True)
    check(no_shell.returncode != 0, "no shell in the image")

    work = tempfile.mkdtemp(prefix="smsgate-img-")
    sim_log, sim_err = os.path.join(work, "sim.pdus"), os.path.join(work, "sim.err")
    sim = subprocess.Popen([os.environ.get("SMSGATE_BIN") or shutil.which("smsgate") or "smsgate",
                            "smsc-sim", "--port", "0", "--pdu-log", sim_log],
                           stdout=subprocess.DEVNULL, stderr=open(sim_err, "w"))
    sim_port = int(wait_line(sim_err, r"SMSC simulator listening addr=[\d.]+:(\d+)").group(1))

    name = f"smsgate-ci-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    http_port, jcli_port = free_port(), free_port()
    env = {
        "SMSGATE_HTTP_API__BIND": "127.0.0.1", "SMSGATE_HTTP_API__PORT": str(http_port),
        "SMSGATE_SMPP_SERVER__BIND": "127.0.0.1", "SMSGATE_SMPP_SERVER__PORT": str(free_port()),
        "SMSGATE_REST_API__BIND": "127.0.0.1", "SMSGATE_REST_API__PORT": str(free_port()),
        "SMSGATE_JCLI__BIND": "127.0.0.1", "SMSGATE_JCLI__PORT": str(jcli_port),
        "SMSGATE_JCLI__ADMIN_PASSWORD": "ci-" + uuid.uuid4().hex[:12],
    }
    env_flags = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]

    def start():
        engine("run", *flags, "-d", "--name", name, "--network", "host", "-v", f"{volume}:/var/lib/smsgate",
               *env_flags, image)

    def healthy(timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if subprocess.run([ENGINE, "healthcheck", "run", name], capture_output=True).returncode == 0:
                return True
            time.sleep(0.5)
        return False

    def stop():
        engine("stop", "-t", "30", name)
        code = json.loads(engine("inspect", name).stdout)[0]["State"]["ExitCode"]
        logs = engine("logs", name).stderr + engine("logs", name).stdout
        engine("rm", name)
        return code, logs

    try:
        start()
        check(healthy(), "the container turns healthy through the image's HEALTHCHECK")
        status, body = http_get(http_port, "/ready")
        check(status == 200 and json.loads(body)["ready"], f"/ready: {body}")
        pid = json.loads(engine("inspect", name).stdout)[0]["State"]["Pid"]
        uid = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Uid:")][0]
        check(uid == "10001", f"the gateway runs as uid {uid}")
        mount = json.loads(engine("volume", "inspect", volume).stdout)[0]["Mountpoint"]
        db = os.path.join(mount, "smsgate.db")
        check(os.path.exists(db) and os.stat(db).st_uid == 10001, "its database is on the volume, owned by 10001")

        setup_operator(jcli_port, env["SMSGATE_JCLI__ADMIN_PASSWORD"], sim_port)
        wait_bound(http_port)
        status, body = http_get(http_port, "/send?username=foo&password=bar&to=33600000001&content=container")
        check(status == 200 and body.startswith("Success"), f"/send: {status} {body}")
        check(wait_submits(sim_log, 1), "the message reached the simulator")

        code, logs = stop()
        check(code == 0, f"podman stop: exit status {code}")
        check('"message":"stopped"' in logs.replace(" ", ""), "JSON logs, ending with a clean stop")

        # A new container on the same volume: the persisted profile comes back.
        start()
        check(healthy(), "a second container on the same volume turns healthy")
        wait_bound(http_port)
        status, body = http_get(http_port, "/send?username=foo&password=bar&to=33600000002&content=again")
        check(status == 200 and body.startswith("Success"), f"/send after the restart: {status} {body}")
        check(wait_submits(sim_log, 2), "the second message reached the simulator")
        code, _ = stop()
        check(code == 0, "second container stopped cleanly")
    finally:
        subprocess.run([ENGINE, "rm", "-f", name], capture_output=True)
        subprocess.run([ENGINE, "volume", "rm", "-f", volume], capture_output=True)
        sim.kill()


if __name__ == "__main__":
    main()
