#!/usr/bin/env python3
"""Fault drill against a staging node: the SMSC faults of tests/faults.rs, played with the
simulator in front of a running gateway.

The gateway's connector must point at `smsgate smsc-sim --control-port P --keep-messages`, and
a user must be allowed to send to it (a response timeout `res_to` of a few seconds makes the
stall case short). For each fault the drill turns it on
(`POST /faults` on the simulator), sends messages over the gateway's HTTP API for a while,
turns it off, waits until every acknowledged message reached the simulator, and prints one
JSON line: acknowledged, refused, delivered, lost (must be 0), duplicates, recovery_s.

    scripts/fault_drill.py --gateway http://127.0.0.1:1401 --sim http://127.0.0.1:8081 \
        --user foo --password bar --to 33600000001 [--faults throttle,stall,flap,refuse]

Exit status 1 when a message was lost (not delivered within --settle seconds).
"""
import argparse
import json
import sys
import time
import urllib.parse
import urllib.request

FAULTS = {
    "throttle": "throttle_all=1",
    "stall": "stall=1",
    "flap": "flap_ms=800",
    # the bound session is dropped, and binds are refused until the fault is lifted
    "refuse": "refuse_binds=0x0D&flap_ms=1",
}


def call(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def received(sim):
    status, body = call(f"{sim}/messages")
    if status != 200:
        sys.exit(f"simulator {sim}: {status} {body}")
    seen = {}
    for m in json.loads(body):
        text = bytes.fromhex(m["short_message"]).decode("latin-1")
        seen[text] = seen.get(text, 0) + 1
    return seen


def drill(a, name, query):
    call(f"{a.sim}/faults?{query}", "POST")
    tag = f"drill-{name}-{int(time.time())}"
    acked, refused = [], 0
    gap = 1.0 / a.rate
    until = time.monotonic() + a.seconds
    i = 0
    while time.monotonic() < until:
        content = f"{tag}-{i}"
        q = urllib.parse.urlencode(
            {"username": a.user, "password": a.password, "to": a.to, "content": content}
        )
        status, body = call(f"{a.gateway}/send?{q}")
        if status == 200 and body.startswith("Success"):
            acked.append(content)
        else:
            refused += 1
        i += 1
        time.sleep(gap)
    call(f"{a.sim}/faults", "POST")  # every fault off
    lifted = time.monotonic()
    while True:
        seen = received(a.sim)
        missing = [c for c in acked if c not in seen]
        if not missing or time.monotonic() - lifted > a.settle:
            break
        time.sleep(0.5)
    report = {
        "case": name,
        "acknowledged": len(acked),
        "refused": refused,
        "delivered": len(acked) - len(missing),
        "lost": len(missing),
        "duplicates": sum(max(seen.get(c, 0) - 1, 0) for c in acked),
        "recovery_s": round(time.monotonic() - lifted, 1),
    }
    print(json.dumps(report), flush=True)
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway", required=True, help="the gateway's HTTP API, e.g. http://127.0.0.1:1401")
    p.add_argument("--sim", required=True, help="the simulator's control port, e.g. http://127.0.0.1:8081")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--to", default="33600000001")
    p.add_argument("--faults", default=",".join(FAULTS), help="comma-separated: " + ", ".join(FAULTS))
    p.add_argument("--seconds", type=float, default=8, help="how long each fault lasts, under load")
    p.add_argument("--rate", type=float, default=20, help="messages per second during a fault")
    p.add_argument("--settle", type=float, default=180, help="seconds allowed to drain after a fault")
    a = p.parse_args()
    lost = 0
    for name in a.faults.split(","):
        if name not in FAULTS:
            sys.exit(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
        lost += drill(a, name, FAULTS[name])["lost"]
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
