#!/usr/bin/env python3
"""Check the deployment files against the binary they ship:

    python3 scripts/check_deploy.py path/to/smsgate IMAGE_TAG

- every compose service and Kubernetes container running smsgate names IMAGE_TAG;
- the configuration each of them would start with (deploy/container.toml or the ConfigMap,
  plus its SMSGATE_* variables) passes `smsgate check-config`;
- Prometheus scrapes the compose nodes' HTTP API port, and Grafana's provisioning points at the
  dashboards directory.
"""

import os
import subprocess
import sys
import tempfile

import yaml

from smoke import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_config(binary, config_path, env, what):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    for k, v in env.items():
        # Values the platform fills in (secrets, ${VAR}) are replaced by something valid.
        if isinstance(v, dict) or "${" in str(v):
            v = {"SMSGATE_BROKER__URL": "amqp://u:p@broker:5672/%2f",
                 "SMSGATE_STORE__URL": "redis://redis:6379/0",
                 "SMSGATE_STORE__HISTORY_URL": "postgres://u:p@pg:5432/db"}.get(k, "placeholder")
        e[k] = str(v)
    r = subprocess.run([binary, "--config", config_path, "check-config"], env=e, text=True, capture_output=True)
    check(r.returncode == 0, f"{what}: {r.stdout.strip() or r.stderr.strip()}")


def main():
    binary, tag = sys.argv[1], sys.argv[2]
    container_toml = os.path.join(ROOT, "deploy/container.toml")
    check_config(binary, container_toml, {}, "deploy/container.toml")
    for name in ["embedded.yml", "cluster.yml"]:
        doc = yaml.safe_load(open(os.path.join(ROOT, "deploy/compose", name)))
        nodes = {k: v for k, v in doc["services"].items() if "smsgate" in str(v.get("image", ""))}
        check(nodes, f"compose/{name} runs smsgate")
        for svc, spec in nodes.items():
            check(spec["image"] == tag, f"compose/{name} {svc} uses {tag}")
            check_config(binary, container_toml, spec.get("environment") or {}, f"compose/{name} {svc} config")
    prom = yaml.safe_load(open(os.path.join(ROOT, "deploy/prometheus/prometheus.yml")))
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    check(all(t.endswith(":1401") for t in targets), f"Prometheus scrapes the HTTP API: {targets}")
    prov = yaml.safe_load(open(os.path.join(ROOT, "deploy/grafana/provisioning/dashboards/smsgate.yml")))
    check(prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards", "Grafana provisions the dashboards")

    docs = list(yaml.safe_load_all(open(os.path.join(ROOT, "deploy/kubernetes/smsgate.yaml"))))
    kinds = {d["kind"]: d for d in docs}
    check({"ConfigMap", "StatefulSet", "Service"} <= set(kinds), f"Kubernetes objects: {sorted(kinds)}")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(kinds["ConfigMap"]["data"]["smsgate.toml"])
    pod = kinds["StatefulSet"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(c["image"] == tag, f"Kubernetes uses {tag}")
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}
    check_config(binary, f.name, env, "Kubernetes ConfigMap and env")
    check(c["readinessProbe"]["httpGet"]["path"] == "/ready" and c["livenessProbe"]["httpGet"]["path"] == "/ping",
          "Kubernetes probes: /ready and /ping")
    check(pod["securityContext"]["runAsUser"] == 10001, "Kubernetes runs as the image's uid")
    os.unlink(f.name)


if __name__ == "__main__":
    main()
