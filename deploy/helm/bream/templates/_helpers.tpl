{{/*
Names and labels, as `helm create` makes them, plus the checks and values every template
shares. A check that fails stops the render with a message naming the value to change.
*/}}

{{- define "bream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the StatefulSet, the client Service, the ConfigMap, the Secret. */}}
{{- define "bream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The headless Service that gives each pod a stable DNS name for distribution. */}}
{{- define "bream.headlessName" -}}
{{- printf "%s-headless" (include "bream.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bream.labels" -}}
helm.sh/chart: {{ include "bream.chart" . }}
{{ include "bream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "bream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bream.clusterName" -}}
{{- default (include "bream.fullname" .) .Values.clusterName }}
{{- end }}

{{/* The Secret and key holding the database password. */}}
{{- define "bream.passwordSecret" -}}
{{- default (include "bream.fullname" .) .Values.rdbms.existingSecret }}
{{- end }}

{{- define "bream.passwordKey" -}}
{{- if .Values.rdbms.existingSecret }}{{ .Values.rdbms.existingSecretPasswordKey }}{{ else }}rdbms-password{{ end }}
{{- end }}

{{/*
The cookie: the value if set, else the one already installed (so an upgrade keeps the cluster
together), else a new random one. `lookup` finds nothing under `helm template`.
*/}}
{{- define "bream.cookie" -}}
{{- if .Values.nodeCookie }}
{{- .Values.nodeCookie }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "bream.fullname" .) }}
{{- if and $existing $existing.data (index $existing.data "cookie") }}
{{- index $existing.data "cookie" | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The database URL without its password, for the TOML; the pods get the full one in
BREAM_DATABASE_URL, with the password from the Secret.
*/}}
{{- define "bream.databaseUrl" -}}
{{- $r := .Values.rdbms }}
{{- $password := .password | default "" }}
{{- printf "postgres://%s%s@%s:%v/%s?sslmode=%s" $r.username $password $r.host $r.port $r.database (ternary "require" "disable" $r.tls.required) }}
{{- end }}

{{/*
Refuse values the chart cannot honour, so nothing is rendered that would not do what its
values say. Included by every template, so `helm template -s` fails the same way.
*/}}
{{- define "bream.validate" -}}
{{- if ne (toString .Values.volatileDatabase) "cets" }}
{{- fail (printf "volatileDatabase=%v is not supported: Bream keeps its in-memory tables in CETS only; set volatileDatabase=cets" .Values.volatileDatabase) }}
{{- end }}
{{- if ne (toString .Values.persistentDatabase) "rdbms" }}
{{- fail (printf "volatileDatabase=cets needs persistentDatabase=rdbms (got %v): CETS nodes find each other through the discovery_nodes table of the SQL database; set persistentDatabase=rdbms and rdbms.host" .Values.persistentDatabase) }}
{{- end }}
{{- if not .Values.rdbms.host }}
{{- fail "persistentDatabase=rdbms needs rdbms.host: the PostgreSQL server every node connects to" }}
{{- end }}
{{- if and .Values.loadBalancerIP (ne .Values.service.type "LoadBalancer") }}
{{- fail (printf "loadBalancerIP is set but service.type=%s: the address only applies to a LoadBalancer Service" .Values.service.type) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- $a := .Values.autoscaling }}
{{- if or (lt (int $a.minReplicas) 1) (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- fail (printf "autoscaling needs 1 <= minReplicas <= maxReplicas (got %v and %v)" $a.minReplicas $a.maxReplicas) }}
{{- end }}
{{- if not (and .Values.resources .Values.resources.requests .Values.resources.requests.cpu) }}
{{- fail "autoscaling.enabled needs resources.requests.cpu: targetCPUUtilizationPercentage is a percentage of the CPU request, and without one the autoscaler never scales" }}
{{- end }}
{{- end }}
{{- end }}
