"""Render the bream chart with Helm's own engine and check what comes out, without a cluster.

For each value set (the defaults, the seed's `helm install` flags, autoscaling on, a fixed
load-balancer address, an existing database Secret) this renders the chart with
helm-python-sdk (Helm v4 as a library), validates every object against the Kubernetes
schemas with kubernetes-validate (strict: unknown fields fail), and asserts the properties
the chart promises: what its values say is what the objects do. It also checks that the
chart refuses the value sets it cannot honour, with its message.

    python deploy/helm/check.py [--chart deploy/helm/bream]

Prints one line per case and every failed check; exits 1 if any failed. `mutants.py` breaks
the chart on purpose to show each check can fail.

Needs: helm-python-sdk==0.2.2, kubernetes-validate==1.37.0 (see .ci/run).
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

CHART = Path(__file__).resolve().parent / "bream"

# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ("1.25.0", "1.33.0")

# The seed's `helm install mim mongoose/mongooseim --set ...` flags, as one --set string.
SEED = (
    "replicaCount=3,volatileDatabase=cets,persistentDatabase=rdbms,rdbms.tls.required=false,"
    "rdbms.host=db-postgresql,resources.requests.cpu=200m"
)
AUTOSCALING = (
    "autoscaling.enabled=true,autoscaling.minReplicas=1,autoscaling.maxReplicas=8,"
    "autoscaling.targetCPUUtilizationPercentage=50"
)

# (name, --set string) rendered and checked.
CASES = [
    ("defaults", ""),
    ("seed flags", SEED),
    ("autoscaling on", f"{SEED},{AUTOSCALING}"),
    ("loadBalancerIP set", f"{SEED},loadBalancerIP=203.0.113.10"),
    ("existing database secret", "rdbms.existingSecret=db-postgresql,nodeCookie=monster"),
]

# (name, --set string, text the refusal must contain).
REFUSALS = [
    (
        "cets without rdbms",
        "volatileDatabase=cets,persistentDatabase=mnesia",
        "volatileDatabase=cets needs persistentDatabase=rdbms",
    ),
    ("mnesia", "volatileDatabase=mnesia", "volatileDatabase=mnesia is not supported"),
    (
        "autoscaling without a CPU request",
        f"{AUTOSCALING},resources.requests.cpu=null",
        "autoscaling.enabled needs resources.requests.cpu",
    ),
    (
        "loadBalancerIP without a LoadBalancer",
        "loadBalancerIP=203.0.113.10,service.type=ClusterIP",
        "loadBalancerIP is set but service.type=ClusterIP",
    ),
]

CONFIG_PATH = "/etc/bream/bream.toml"
RELEASE = "bream"
NAMESPACE = "xmpp"


@dataclass
class Report:
    """Failed checks, each prefixed with the case it belongs to."""

    failures: list[str] = field(default_factory=list)
    case: str = ""

    def expect(self, condition: bool, message: str) -> bool:
        if not condition:
            self.failures.append(f"[{self.case}] {message}")
        return condition


def render(chart: helm_python.Chart, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's objects for these values, as `helm install` would send them."""
    manifests = chart.render(overrides, name=RELEASE, namespace=NAMESPACE)
    objects = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def one(report: Report, objects: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = by_kind(objects, kind)
    return found[0] if report.expect(len(found) == 1, f"expected one {kind}, got {len(found)}") else None


def validate_schemas(report: Report, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(p) for p in error.absolute_path)
                report.expect(False, f"{obj['kind']}/{obj['metadata']['name']} fails Kubernetes {version} schema at {where}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                report.expect(False, f"{obj['kind']}/{obj['metadata']['name']}: no Kubernetes {version} schema: {error.message}")


def container_port(container: dict[str, Any], port: int | str) -> int | None:
    """A probe's or service's port, resolved through the container's named ports."""
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return declared["containerPort"]
    return None


def check_env(report: Report, container: dict[str, Any], secrets: dict[str, dict[str, Any]], values: dict[str, Any]) -> None:
    env = container.get("env", [])
    names = [e["name"] for e in env]
    entries = {e["name"]: e for e in env}
    # Kubernetes expands $(VAR) only for variables defined earlier in the list.
    for index, entry in enumerate(env):
        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", entry.get("value", "")):
            report.expect(ref in names[:index], f"env {entry['name']} uses $({ref}) before it is defined")

    pod_name = entries.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    report.expect(pod_name == "metadata.name", f"POD_NAME is not the pod's name (fieldPath {pod_name})")
    node_name = entries.get("BREAM_NODE_NAME", {}).get("value", "")
    report.expect(node_name == f"{values['nodeName']}@$(POD_NAME)", f"BREAM_NODE_NAME is {node_name!r}, not <nodeName>@$(POD_NAME)")
    node_ip = entries.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    report.expect(node_ip == "status.podIP" and entries.get("BREAM_NODE_IP", {}).get("value") == "$(POD_IP)", "BREAM_NODE_IP is not the pod IP")
    report.expect(entries.get("BREAM_DIST_PORT", {}).get("value") == str(values["ports"]["dist"]), "BREAM_DIST_PORT differs from ports.dist")

    def secret_ref(name: str) -> tuple[str, str] | None:
        ref = entries.get(name, {}).get("valueFrom", {}).get("secretKeyRef")
        return (ref["name"], ref["key"]) if ref else None

    cookie = secret_ref("BREAM_COOKIE")
    if report.expect(cookie is not None, "BREAM_COOKIE does not come from a Secret"):
        secret = secrets.get(cookie[0], {})
        report.expect(cookie[1] in secret.get("data", {}), f"BREAM_COOKIE names {cookie}, which the chart does not render")
    password = secret_ref("BREAM_DB_PASSWORD")
    existing = values["rdbms"]["existingSecret"]
    if report.expect(password is not None, "BREAM_DB_PASSWORD does not come from a Secret"):
        if existing:
            expected = (existing, values["rdbms"]["existingSecretPasswordKey"])
            report.expect(password == expected, f"BREAM_DB_PASSWORD is {password}, not rdbms.existingSecret {expected}")
        else:
            report.expect(password[1] in secrets.get(password[0], {}).get("data", {}), f"BREAM_DB_PASSWORD names {password}, which the chart does not render")
    url = entries.get("BREAM_DATABASE_URL", {}).get("value", "")
    rdbms = values["rdbms"]
    sslmode = "require" if rdbms["tls"]["required"] else "disable"
    expected_url = f"postgres://{rdbms['username']}:$(BREAM_DB_PASSWORD)@{rdbms['host']}:{rdbms['port']}/{rdbms['database']}?sslmode={sslmode}"
    report.expect(url == expected_url, f"BREAM_DATABASE_URL is {url!r}, expected {expected_url!r}")


def check_config(report: Report, configmap: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    try:
        config = tomllib.loads(configmap["data"]["bream.toml"])
    except (KeyError, tomllib.TOMLDecodeError) as error:
        report.expect(False, f"ConfigMap has no valid bream.toml: {error}")
        return {}
    cets = config.get("internal_databases", {}).get("cets", {})
    report.expect(cets.get("backend") == "rdbms", f"internal_databases.cets.backend is {cets.get('backend')!r}, not rdbms")
    report.expect(bool(cets.get("cluster_name")), "internal_databases.cets.cluster_name is empty")
    listen = config.get("listen", {})
    admin = listen.get("graphql_admin", {})
    report.expect(admin.get("ip_address") == "127.0.0.1", f"admin API listens on {admin.get('ip_address')!r}, not loopback")
    report.expect(listen.get("prometheus", {}).get("port") == values["ports"]["metrics"], "listen.prometheus.port differs from ports.metrics")
    c2s = {(l.get("port"), l.get("tls", {}).get("mode")) for l in listen.get("c2s", [])}
    report.expect((values["ports"]["c2s"], None) in c2s and (values["ports"]["c2sTls"], "tls") in c2s, f"c2s listeners are {c2s}")
    url = config.get("outgoing_pools", {}).get("rdbms", {}).get("default", {}).get("connection", {}).get("url", "")
    report.expect(f"@{values['rdbms']['host']}:" in url, f"connection.url {url!r} does not name rdbms.host")
    report.expect(":" not in url.split("://", 1)[-1].split("@", 1)[0], "connection.url in the ConfigMap carries a password")
    report.expect(config.get("general", {}).get("hosts") == values["xmpp"]["hosts"], "general.hosts differs from xmpp.hosts")
    return config


def check_release(report: Report, objects: list[dict[str, Any]], values: dict[str, Any]) -> None:
    validate_schemas(report, objects)
    sts = one(report, objects, "StatefulSet")
    configmap = one(report, objects, "ConfigMap")
    secrets = {s["metadata"]["name"]: s for s in by_kind(objects, "Secret")}
    services = by_kind(objects, "Service")
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    pdbs = by_kind(objects, "PodDisruptionBudget")
    if sts is None or configmap is None:
        return
    config = check_config(report, configmap, values)
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    containers = pod["containers"]
    container = containers[0]

    # Replicas: the value, unless the autoscaler owns the count.
    if values["autoscaling"]["enabled"]:
        report.expect("replicas" not in spec, "StatefulSet sets replicas although the HPA owns the count")
    else:
        report.expect(spec.get("replicas") == values["replicaCount"], f"StatefulSet replicas {spec.get('replicas')} != replicaCount {values['replicaCount']}")

    # The HPA exists exactly when asked for, and scales this StatefulSet.
    if values["autoscaling"]["enabled"]:
        if report.expect(len(hpas) == 1, f"autoscaling.enabled but {len(hpas)} HPAs"):
            hpa = hpas[0]["spec"]
            target = hpa["scaleTargetRef"]
            report.expect((target.get("apiVersion"), target["kind"], target["name"]) == ("apps/v1", "StatefulSet", sts["metadata"]["name"]), f"HPA targets {target}")
            report.expect(hpa.get("minReplicas") == values["autoscaling"]["minReplicas"] and hpa["maxReplicas"] == values["autoscaling"]["maxReplicas"], "HPA bounds differ from autoscaling values")
            cpu = [m["resource"]["target"].get("averageUtilization") for m in hpa.get("metrics", []) if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
            report.expect(cpu == [values["autoscaling"]["targetCPUUtilizationPercentage"]], f"HPA CPU targets {cpu}")
            report.expect(bool(container.get("resources", {}).get("requests", {}).get("cpu")), "HPA on CPU but the container requests no CPU")
    else:
        report.expect(not hpas, "HPA rendered with autoscaling.enabled=false")

    # The admin API is in no Service, and the client Service carries exactly the client ports.
    admin = values["ports"]["graphqlAdmin"]
    for service in services:
        for port in service["spec"].get("ports", []):
            resolved = container_port(container, port.get("targetPort", port["port"]))
            report.expect(admin not in (port["port"], resolved), f"Service {service['metadata']['name']} exposes the admin port {admin}")
            report.expect(resolved is not None, f"Service {service['metadata']['name']} port {port['name']} targets no container port")
        report.expect(service["spec"].get("selector", {}).items() <= pod_labels.items(), f"Service {service['metadata']['name']} selects no pod of the StatefulSet")
    clients = [s for s in services if s["spec"].get("type") == values["service"]["type"] and s["spec"].get("clusterIP") != "None"]
    if report.expect(len(clients) == 1, f"expected one {values['service']['type']} Service, got {len(clients)}"):
        client = clients[0]["spec"]
        ports = sorted(p["port"] for p in client["ports"])
        expected = sorted(values["ports"][k] for k in ("c2s", "c2sTls", "graphqlUser"))
        report.expect(ports == expected, f"client Service ports {ports}, expected {expected}")
        if values["loadBalancerIP"]:
            report.expect(client.get("loadBalancerIP") == values["loadBalancerIP"], f"loadBalancerIP {values['loadBalancerIP']} not in the Service ({client.get('loadBalancerIP')})")
        else:
            report.expect("loadBalancerIP" not in client, "loadBalancerIP rendered although unset")

    # The governing Service is headless and exists.
    governing = [s for s in services if s["metadata"]["name"] == spec.get("serviceName")]
    report.expect(len(governing) == 1 and governing[0]["spec"].get("clusterIP") == "None", f"serviceName {spec.get('serviceName')} is not a rendered headless Service")
    report.expect(not spec.get("volumeClaimTemplates") and all("persistentVolumeClaim" not in v for v in pod.get("volumes", [])), "the StatefulSet asks for persistent storage")

    # Probes: readiness on /health/ready, liveness on /health/live, both on the metrics port.
    for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
        get = container.get(probe, {}).get("httpGet", {})
        port = container_port(container, get.get("port", ""))
        report.expect(get.get("path") == path and port == values["ports"]["metrics"], f"{probe} is {get.get('path')} on {port}, expected {path} on {values['ports']['metrics']}")

    # The graceful stop fits in the grace period.
    timeout = config.get("general", {}).get("shutdown_timeout")
    grace = pod.get("terminationGracePeriodSeconds")
    report.expect(isinstance(timeout, int) and isinstance(grace, int) and grace > timeout, f"terminationGracePeriodSeconds {grace} is not above general.shutdown_timeout {timeout}")

    # The command reads the mounted ConfigMap.
    args = container.get("command", []) + container.get("args", [])
    report.expect(args[:1] == ["start"] and CONFIG_PATH in args, f"container runs {args}")
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v.get("configMap", {}).get("name") for v in pod.get("volumes", [])}
    mounted = [n for n, cm in volumes.items() if cm == configmap["metadata"]["name"] and mounts.get(n) == str(Path(CONFIG_PATH).parent)]
    report.expect(bool(mounted), f"ConfigMap not mounted at {Path(CONFIG_PATH).parent}")
    report.expect(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod may run as root")

    check_env(report, container, secrets, values)

    if values["nodeCookie"]:
        cookie = secrets.get(sts["metadata"]["name"], {}).get("data", {}).get("cookie", "")
        report.expect(base64.b64decode(cookie).decode() == values["nodeCookie"], "the Secret's cookie is not nodeCookie")

    if values["podDisruptionBudget"]["enabled"]:
        if report.expect(len(pdbs) == 1, f"expected one PodDisruptionBudget, got {len(pdbs)}"):
            selector = pdbs[0]["spec"]["selector"]["matchLabels"]
            report.expect(selector.items() <= pod_labels.items(), "the PodDisruptionBudget selects no pod of the StatefulSet")


def run(chart_dir: Path) -> list[str]:
    """Every check over every case; the failures, empty when the chart is right."""
    report = Report()
    report.case = "lint"
    lint = helm_python.lint(str(chart_dir), strict=True)
    for message in lint["messages"]:
        report.expect(message["severity"] < 2, f"helm lint: {message['path']}: {message['error']}")
    chart = helm_python.Chart.load(str(chart_dir))
    for name, flags in CASES:
        report.case = name
        overrides = helm_python.parse_set_string(flags) if flags else {}
        try:
            objects = render(chart, overrides)
        except helm_python.HelmError as error:
            report.expect(False, f"render failed: {error}")
            continue
        check_release(report, objects, chart.merge_values(overrides))
        print(f"{name}: {len(objects)} objects", file=sys.stderr)
    for name, flags, message in REFUSALS:
        report.case = f"refuses {name}"
        try:
            render(chart, helm_python.parse_set_string(flags))
            report.expect(False, "rendered instead of refusing")
        except helm_python.HelmRenderError as error:
            report.expect(message in str(error), f"refused with {str(error)!r}, expected {message!r}")
    return report.failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args()
    failures = run(args.chart)
    for failure in failures:
        print(failure)
    print(f"{len(CASES)} value sets, {len(REFUSALS)} refusals, {len(failures)} failed checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
