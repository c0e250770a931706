#!/usr/bin/env python3
"""Soak: steady mixed traffic through a release gateway, watching for slow leaks.

    scripts/soak.py SMSGATE_BINARY [--minutes 60] [--rate 100]

Starts the SMSC simulator (receipts 200 ms after each submit) and a gateway on free ports
with an embedded store in a temporary data dir, then for --minutes keeps up, all at once:
  - HTTP `/send` with DLR callbacks (level 3: the SMSC's answer and the receipt) at --rate
    messages per second,
  - a REST `/secure/sendbatch` of 20 messages every 5 s,
  - an SMPP ESME (python smpplib) submitting at --rate / 4 per second, receipts requested,
  - an MO from the SMSC every 200 ms, routed to an HTTP connector,
  - with --plugins DIR (the built first-party plugins), every MT through the `blacklist` Wasm
    filter (a route of its own), and with --python-runtime FILE, every MT through a Jasmin-style
    Python interceptor script (sender override),
with a local HTTP receiver answering `ACK/Jasmin` to every callback. Every 10 s it samples the
gateway's RSS and open file descriptors (`/metrics`), the database size on disk and the queue
backlog. After a warm-up (the first quarter), it fits a line through each series and prints
the slopes (per hour), then drains and counts.

Fails (exit 1) when an acknowledged message did not reach the SMSC, a callback is missing, the
gateway logged an error, or a series grows past its bound after the warm-up (ends averaged over
30 s): RSS without the Python instances by 16 MB plus 64 MB/h, file descriptors by 5 plus
20/h; the Python instances' memory (their linear memories, read from /proc/PID/smaps: it swings
as worn instances are replaced) peaking more than 32 MB higher in the second half than in the
first; or 1,000 messages are still queued at the end. The database grows by design (message records kept
`store.message_record_ttl`), so its slope is reported, not bounded.
"""
import argparse
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request


# A mapping's first line in /proc/PID/smaps: its permissions and its path (if any).
SMAPS_HEAD = re.compile(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, data=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


class Receiver(http.server.BaseHTTPRequestHandler):
    calls = {"dlr": 0, "mo": 0}
    lock = threading.Lock()

    def _any(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        kind = "mo" if self.path.startswith("/mo") else "dlr"
        with Receiver.lock:
            Receiver.calls[kind] += 1
        body = b"ACK/Jasmin"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _any
    do_POST = _any

    def log_message(self, *a):
        pass


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / den * 3600


def metric(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("smsgate")
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--rate", type=float, default=100, help="HTTP messages per second")
    p.add_argument("--plugins", help="directory of the built plugins (blacklist.wasm): a Wasm filter on every MT")
    p.add_argument("--python-runtime", help="smsgate-python.wasm: a Python interceptor on every MT")
    a = p.parse_args()
    try:
        import smpplib.client
        import smpplib.consts
    except ImportError:
        sys.exit("python smpplib is needed (pip install smpplib)")

    work = tempfile.mkdtemp(prefix="smsgate-soak-")
    rx = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    rx_url = f"http://127.0.0.1:{rx.server_address[1]}"
    sim_port, sim_ctl = free_port(), free_port()
    http_port, rest_port, smpp_port = free_port(), free_port(), free_port()
    cfg = f"""
data_dir = "{work}/data"
log = "warn"
[jcli]
enabled = false
[http-api]
bind = "127.0.0.1"
port = {http_port}
[rest-api]
bind = "127.0.0.1"
port = {rest_port}
[smpp-server]
bind = "127.0.0.1"
port = {smpp_port}
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {sim_port}
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
[[httpccs]]
cid = "web"
url = "{rx_url}/mo"
method = "POST"
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
[[moroutes]]
type = "DefaultRoute"
order = 0
connector = "http(web)"
"""
    if a.plugins or a.python_runtime:
        os.makedirs(f"{work}/plugins", exist_ok=True)
        cfg += f"""
[plugins]
enabled = true
dir = "{work}/plugins"
cache_dir = "{work}/plugin-cache"
"""
    if a.plugins:
        wasm = os.path.join(a.plugins, "blacklist.wasm")
        if not os.path.exists(wasm):
            sys.exit(f"{wasm} not found (build the plugins first)")
        with open(wasm, "rb") as src, open(f"{work}/plugins/blacklist.wasm", "wb") as dst:
            dst.write(src.read())
        with open(f"{work}/plugins/blacklist.toml", "w") as f:
            f.write('[config]\nnumbers = "33600000007,33600000042"\n')
        cfg += """
[[filters]]
fid = "black"
type = "PluginFilter"
plugin = "blacklist"
[[mtroutes]]
type = "StaticMTRoute"
order = 10
connector = "smppc(sim)"
filters = ["black"]
"""
    if a.python_runtime:
        with open(f"{work}/sender_override.py", "w") as f:
            f.write("routable.pdu.params['source_addr'] = '123456789'\n")
        cfg += f"""
[plugins.python]
runtime = "{a.python_runtime}"
[[mtinterceptors]]
type = "DefaultInterceptor"
order = 0
script = "python3({work}/sender_override.py)"
"""
    with open(f"{work}/smsgate.toml", "w") as f:
        f.write(cfg)
    sim_log = open(f"{work}/sim.log", "w")
    gw_log = open(f"{work}/gateway.log", "w")
    sim = subprocess.Popen(
        [a.smsgate, "smsc-sim", "--port", str(sim_port), "--control-port", str(sim_ctl),
         "--dlr-delay-ms", "200", "--pdu-log", "off"],
        stdout=sim_log, stderr=subprocess.STDOUT)
    gw = subprocess.Popen([a.smsgate, "--config", f"{work}/smsgate.toml"], stdout=gw_log, stderr=subprocess.STDOUT)
    gw_url = f"http://127.0.0.1:{http_port}"
    # Up to 2 minutes: with --python-runtime the start compiles the interpreter's component
    # (a fresh plugin cache each run), which took over 20 s on a busy machine.
    for _ in range(600):
        if get(f"{gw_url}/ready")[0] == 200:
            break
        time.sleep(0.2)
    else:
        gw.kill()
        sim.kill()
        sys.exit(f"the gateway did not become ready (its log: {work}/gateway.log)")

    stop = threading.Event()
    acked = {"http": 0, "rest": 0, "smpp": 0, "mo": 0}
    failures = []
    lock = threading.Lock()

    def http_load():
        gap, n, nxt = 1.0 / a.rate, 0, time.monotonic()
        dlr = urllib.parse.quote(f"{rx_url}/dlr", safe="")
        while not stop.is_set():
            nxt += gap
            q = f"username=foo&password=bar&to=3360{n % 1000000:07d}&content=soak-{n}&dlr=yes&dlr-url={dlr}&dlr-level=3"
            st, body = get(f"{gw_url}/send?{q}")
            with lock:
                if st == 200:
                    acked["http"] += 1
                else:
                    failures.append(f"http {st} {body[:80]}")
            n += 1
            time.sleep(max(0.0, nxt - time.monotonic()))

    def rest_load():
        auth = "Basic Zm9vOmJhcg=="
        while not stop.wait(5):
            body = json.dumps({"messages": [{"to": f"3370{i:07d}", "content": f"batch {i}"} for i in range(20)]}).encode()
            st, text = get(f"http://127.0.0.1:{rest_port}/secure/sendbatch", body,
                           {"Authorization": auth, "Content-Type": "application/json"})
            with lock:
                if st == 200:
                    acked["rest"] += 20
                else:
                    failures.append(f"rest {st} {text[:80]}")

    def smpp_load():
        c = smpplib.client.Client("127.0.0.1", smpp_port, allow_unknown_opt_params=True)
        c.set_message_received_handler(lambda pdu: None)

        def answered(pdu):
            with lock:
                if pdu.status == 0:
                    acked["smpp"] += 1
                else:
                    failures.append(f"smpp submit_sm_resp status {pdu.status}")

        c.set_message_sent_handler(answered)
        c.connect()
        c.bind_transceiver(system_id="foo", password="bar")
        def listen():
            try:
                c.listen()
            except Exception:  # noqa: BLE001 - the session ends with the soak
                pass

        threading.Thread(target=listen, daemon=True).start()
        gap, n, nxt = 4.0 / a.rate, 0, time.monotonic()
        while not stop.is_set():
            nxt += gap
            try:
                c.send_message(source_addr="1234", destination_addr=f"3380{n:07d}",
                               short_message=f"smpp-{n}".encode(), registered_delivery=1)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    failures.append(f"smpp {e}")
                return
            n += 1
            time.sleep(max(0.0, nxt - time.monotonic()))
        try:
            c.unbind()
            c.disconnect()
        except Exception:  # noqa: BLE001
            pass

    def mo_load():
        n = 0
        while not stop.wait(0.2):
            st, _ = get(f"http://127.0.0.1:{sim_ctl}/mo?from=3390{n:07d}&to=1234&content=mo-{n}", b"")
            if st == 200:
                with lock:
                    acked["mo"] += 1
            n += 1

    threads = [threading.Thread(target=t, daemon=True) for t in (http_load, rest_load, smpp_load, mo_load)]
    for t in threads:
        t.start()

    def db_bytes():
        d = f"{work}/data"
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("smsgate.db"))

    def python_mb():
        """Resident memory of the Python runtime's instances: their linear memories, mapped
        copy-on-write from the compiled runtime in the plugin cache (a `.cwasm` mapped
        read-write). Bounded by design (idle instances at most `MAX_IDLE`, each retired after
        10,000 runs or 16 MiB of growth), but it swings by tens of MB as worn instances are
        dropped and fresh ones made, so it is judged apart from the rest of the RSS."""
        kb, writable = 0, False
        try:
            with open(f"/proc/{gw.pid}/smaps") as f:
                for line in f:
                    head = SMAPS_HEAD.match(line)
                    if head:
                        writable = head.group(1).startswith("rw") and head.group(2).endswith(".cwasm")
                    elif writable and line.startswith("Rss:"):
                        kb += int(line.split()[1])
        except OSError:
            return 0.0
        return kb / 1024

    series = {"rss_mb": [], "host_rss_mb": [], "python_mb": [], "fds": [], "db_mb": [], "backlog": []}
    start = time.monotonic()
    end = start + a.minutes * 60
    while time.monotonic() < end:
        time.sleep(min(10, max(0.0, end - time.monotonic())))
        st, m = get(f"{gw_url}/metrics")
        if st != 200:
            failures.append(f"/metrics {st}")
            continue
        t = time.monotonic() - start
        rss = (metric(m, "process_resident_memory_bytes") or 0) / 2**20
        py = python_mb()
        series["rss_mb"].append((t, rss))
        series["host_rss_mb"].append((t, rss - py))
        series["python_mb"].append((t, py))
        series["fds"].append((t, metric(m, "process_open_fds") or 0))
        series["db_mb"].append((t, db_bytes() / 2**20))
        series["backlog"].append((t, metric(m, "smsgate_queue_ready") or 0))
    stop.set()
    for t in threads:
        t.join(timeout=15)
    elapsed = time.monotonic() - start

    # Drain: every message at the SMSC, every receipt and MO called back.
    want = acked["http"] + acked["rest"] + acked["smpp"]
    deadline = time.monotonic() + 120
    got = 0
    while time.monotonic() < deadline:
        st, s = get(f"http://127.0.0.1:{sim_ctl}/stats")
        got = json.loads(s)["submit_sm"] if st == 200 else 0
        with Receiver.lock:
            calls = dict(Receiver.calls)
        if got >= want and calls["dlr"] >= 2 * acked["http"] and calls["mo"] >= acked["mo"]:
            break
        time.sleep(1)
    with Receiver.lock:
        calls = dict(Receiver.calls)
    st, m = get(f"{gw_url}/metrics")
    plugin_calls = (metric(m, "plugin_calls") or 0) if st == 200 else 0
    intercepted = ((metric(m, "httpapi_interceptor_count") or 0)
                   + (metric(m, "smppsapi_interceptor_count") or 0)) if st == 200 else 0
    gw.terminate()
    gw.wait(timeout=60)
    sim.terminate()
    sim.wait(timeout=10)
    gw_log.close()
    errors = [line for line in open(f"{work}/gateway.log") if re.search(r"\bERROR\b", line)]

    warm = [(k, [p for p in v if p[0] >= elapsed / 4]) for k, v in series.items()]
    slopes = {k: round(slope_per_hour(v), 2) for k, v in warm}
    report = {
        "minutes": round(elapsed / 60, 1),
        "rate_http_per_s": a.rate,
        "accepted": acked,
        "at_smsc": got,
        "lost": max(0, want - got),
        "dlr_callbacks": calls["dlr"],
        "mo_callbacks": calls["mo"],
        "slopes_per_hour": slopes,
        "first_after_warmup": {k: round(v[0][1], 1) for k, v in warm if v},
        "last": {k: round(v[-1][1], 1) for k, v in series.items() if v},
        "plugin_calls": plugin_calls,
        "python_interceptions": intercepted,
        "errors_logged": len(errors),
        "client_failures": len(failures),
    }
    print("SOAK " + json.dumps(report), flush=True)
    bad = []
    if report["lost"]:
        bad.append(f"{report['lost']} acknowledged messages did not reach the SMSC")
    if calls["dlr"] < 2 * acked["http"]:
        bad.append(f"DLR callbacks {calls['dlr']} < 2 x {acked['http']} messages that asked for both levels")
    if calls["mo"] < acked["mo"]:
        bad.append(f"MO callbacks {calls['mo']} < {acked['mo']} MO sent")
    mt = acked["http"] + acked["smpp"]
    if a.plugins and plugin_calls < mt:
        bad.append(f"the Wasm filter ran {plugin_calls} times for {mt} HTTP and SMPP messages")
    if a.python_runtime and intercepted < mt:
        bad.append(f"the Python interceptor ran {intercepted} times for {mt} HTTP and SMPP messages")
    if errors:
        bad.append(f"{len(errors)} errors logged, first: {errors[0].strip()}")
    if failures:
        bad.append(f"{len(failures)} client requests failed, first: {failures[0]}")
    # Growth after the warm-up, against a floor for noise plus the hourly bound.
    hours = elapsed / 3600
    # RSS is judged without the Python instances' memory (judged next); each end is the mean of
    # three samples (30 s).
    for key, floor, per_hour, what in (("host_rss_mb", 16, 64, "RSS without the Python instances (MB)"),
                                       ("fds", 5, 20, "file descriptors")):
        pts = [v for _, v in dict(warm)[key]]
        if len(pts) >= 2:
            first, last = sum(pts[:3]) / len(pts[:3]), sum(pts[-3:]) / len(pts[-3:])
            if last - first > floor + per_hour * hours:
                bad.append(f"{what} grew from {first:.1f} to {last:.1f} after the warm-up ({slopes[key]}/h)")
    # The Python instances' memory swings as worn instances are replaced; it must not pile up:
    # its peak in the second half of the run after the warm-up stays within two fresh instances
    # (32 MB) of its peak in the first half.
    py = [v for _, v in dict(warm)["python_mb"]]
    if len(py) >= 4:
        half = len(py) // 2
        if max(py[half:]) > max(py[:half]) + 32:
            bad.append(f"the Python instances' memory peaked at {max(py[half:]):.1f} MB after {max(py[:half]):.1f} MB "
                       f"earlier: instances pile up ({slopes['python_mb']}/h)")
    if series["backlog"] and series["backlog"][-1][1] > 1000:
        bad.append(f"backlog {series['backlog'][-1][1]} at the end")
    for b in bad:
        print("soak: " + b, file=sys.stderr)
    if not bad:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"soak: logs kept in {work}", file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
