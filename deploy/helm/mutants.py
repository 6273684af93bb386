"""Break the chart on purpose, one way at a time, and make sure check.py notices each time.

A checker that passes a correct chart proves little; this shows its checks can fail. Each
mutant copies the chart to a temporary directory, replaces one exact piece of a template
(which must occur exactly once, so a mutant never silently stops applying), runs every
check of check.py, and expects a failure containing the given text.

    python deploy/helm/mutants.py

Prints one line per mutant; exits 1 if a mutant survived or no longer applies.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

# No __pycache__ for check.py beside the chart in the source tree.
sys.dont_write_bytecode = True
import check  # noqa: E402

# (what breaks, template, exact text, replacement, text one of the failures must contain)
MUTANTS = [
    (
        "replicas kept under the HPA",
        "statefulset.yaml",
        "  {{- if not .Values.autoscaling.enabled }}\n  replicas: {{ int .Values.replicaCount }}\n  {{- end }}",
        "  replicas: {{ int .Values.replicaCount }}",
        "sets replicas although the HPA owns the count",
    ),
    (
        "replicas ignore replicaCount",
        "statefulset.yaml",
        "replicas: {{ int .Values.replicaCount }}",
        "replicas: 1",
        "!= replicaCount 3",
    ),
    (
        "HPA always rendered",
        "hpa.yaml",
        "{{- if .Values.autoscaling.enabled }}",
        "{{- if true }}",
        "HPA rendered with autoscaling.enabled=false",
    ),
    ("HPA targets a Deployment", "hpa.yaml", "kind: StatefulSet", "kind: Deployment", "HPA targets"),
    (
        "HPA ignores the CPU target",
        "hpa.yaml",
        "averageUtilization: {{ int .Values.autoscaling.targetCPUUtilizationPercentage }}",
        "averageUtilization: 80",
        "HPA CPU targets [80]",
    ),
    (
        "admin API in the client Service",
        "service.yaml",
        "    - name: graphql-user\n",
        "    - name: graphql-admin\n      port: {{ .Values.ports.graphqlAdmin }}\n    - name: graphql-user\n",
        "exposes the admin port 5551",
    ),
    (
        "loadBalancerIP dropped (MongooseIM's chart bug)",
        "service.yaml",
        "  loadBalancerIP: {{ .Values.loadBalancerIP | quote }}\n",
        "",
        "loadBalancerIP 203.0.113.10 not in the Service",
    ),
    (
        "readiness on the liveness path",
        "statefulset.yaml",
        "path: /health/ready",
        "path: /health/live",
        "readinessProbe is /health/live",
    ),
    (
        "liveness on the wrong port",
        "statefulset.yaml",
        "              path: /health/live\n              port: metrics\n            periodSeconds: {{ .Values.probes.liveness.periodSeconds }}",
        "              path: /health/live\n              port: c2s\n            periodSeconds: {{ .Values.probes.liveness.periodSeconds }}",
        "livenessProbe is /health/live on 5222",
    ),
    (
        "CETS on the file backend",
        "configmap.yaml",
        'backend = "rdbms"',
        'backend = "file"',
        "cets.backend is 'file'",
    ),
    (
        "admin API on every address",
        "configmap.yaml",
        '    port = {{ int .Values.ports.graphqlAdmin }}\n    ip_address = "127.0.0.1"',
        '    port = {{ int .Values.ports.graphqlAdmin }}\n    ip_address = "0.0.0.0"',
        "admin API listens on '0.0.0.0'",
    ),
    (
        "node name not from the pod name",
        "statefulset.yaml",
        '"{{ .Values.nodeName }}@$(POD_NAME)"',
        '"{{ .Values.nodeName }}@localhost"',
        "BREAM_NODE_NAME is",
    ),
    (
        "grace period equal to the shutdown timeout",
        "statefulset.yaml",
        "{{ add (int .Values.xmpp.shutdownTimeout) (int .Values.terminationGraceMarginSeconds) }}",
        "{{ int .Values.xmpp.shutdownTimeout }}",
        "terminationGracePeriodSeconds 30 is not above",
    ),
    (
        "password variable used before it is defined",
        "statefulset.yaml",
        '"password" ":$(BREAM_DB_PASSWORD)"',
        '"password" ":$(DB_PASSWORD)"',
        "uses $(DB_PASSWORD) before it is defined",
    ),
    (
        "sslmode ignores rdbms.tls.required",
        "_helpers.tpl",
        '(ternary "require" "disable" $r.tls.required)',
        '"require"',
        "sslmode=disable'",
    ),
    (
        "cookie key missing from the Secret",
        "secret.yaml",
        "  cookie: {{",
        "  node-cookie: {{",
        "BREAM_COOKIE names",
    ),
    (
        "an unknown field (schema)",
        "statefulset.yaml",
        "  podManagementPolicy: Parallel\n",
        "  podManagementPolicy: Parallel\n  minReadySecond: 5\n",
        "fails Kubernetes 1.25.0 schema at spec: Additional properties are not allowed",
    ),
    (
        "governing Service not headless",
        "service-headless.yaml",
        "  clusterIP: None\n",
        "",
        "is not a rendered headless Service",
    ),
    (
        "PodDisruptionBudget selects nothing",
        "pdb.yaml",
        '{{- include "bream.selectorLabels" . | nindent 6 }}',
        "app: other",
        "PodDisruptionBudget selects no pod",
    ),
    (
        "cets accepted without rdbms",
        "_helpers.tpl",
        '{{- if ne (toString .Values.persistentDatabase) "rdbms" }}',
        "{{- if false }}",
        "[refuses cets without rdbms] rendered instead of refusing",
    ),
    (
        "autoscaling accepted without a CPU request",
        "_helpers.tpl",
        "{{- if not (and .Values.resources .Values.resources.requests .Values.resources.requests.cpu) }}",
        "{{- if false }}",
        "[refuses autoscaling without a CPU request] rendered instead of refusing",
    ),
]


def survives(name: str, template: str, old: str, new: str, expected: str) -> str | None:
    """None when the checks catch this mutant, else why not."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "bream"
        shutil.copytree(check.CHART, chart)
        path = chart / "templates" / template
        text = path.read_text()
        if text.count(old) != 1:
            return f"no longer applies: {old!r} occurs {text.count(old)} times in {template}"
        path.write_text(text.replace(old, new))
        failures = check.run(chart)
    if any(expected in failure for failure in failures):
        return None
    return f"survived: no failure contains {expected!r}; failures were {failures}"


def main() -> int:
    survivors = 0
    for name, template, old, new, expected in MUTANTS:
        outcome = survives(name, template, old, new, expected)
        print(f"{name}: {'caught' if outcome is None else outcome}")
        survivors += outcome is not None
    print(f"{len(MUTANTS)} mutants, {survivors} survived or no longer apply")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
