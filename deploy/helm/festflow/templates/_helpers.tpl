{{/* The labels of a FestFlow part (an app or a broker): its name and the release's. */}}
{{- define "festflow.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: festflow
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{- define "festflow.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* An app's image: <repository>/<app>:<tag>. */}}
{{- define "festflow.image" -}}
{{ .root.Values.image.repository }}/{{ .name }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* The Secret with the passwords and tokens: the release's own, or one the platform provides. */}}
{{- define "festflow.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" .Release.Name) }}
{{- end }}

{{- define "festflow.operators" -}}
{{- if not (has .Values.infrastructure (list "statefulset" "operator")) -}}
{{- fail (printf "infrastructure must be statefulset or operator, not %q" .Values.infrastructure) -}}
{{- end -}}
{{- eq .Values.infrastructure "operator" | ternary "true" "" -}}
{{- end }}

{{/* Where the apps find the brokers and the database. */}}
{{- define "festflow.kafkaBootstrap" -}}
{{- if include "festflow.operators" . -}}
kafka-kafka-bootstrap:9092
{{- else -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.kafka.replicas) -}}
{{- $hosts = append $hosts (printf "kafka-%d.kafka-headless:9092" $i) -}}
{{- end -}}
{{ join "," $hosts }}
{{- end -}}
{{- end }}

{{- define "festflow.postgresHost" -}}
{{- if include "festflow.operators" . }}postgres-rw{{ else }}postgres{{ end }}
{{- end }}

{{/* The env entries with the database account (DB_USER, DB_PASSWORD) and the broker's (AMQP_USER, AMQP_PASSWORD):
the chart's own from its Secret, the operators' from the Secrets they make. */}}
{{- define "festflow.databaseAccount" -}}
{{- if include "festflow.operators" . }}
- name: DB_USER
  valueFrom: {secretKeyRef: {name: postgres-app, key: username}}
- name: DB_PASSWORD
  valueFrom: {secretKeyRef: {name: postgres-app, key: password}}
{{- else }}
- name: DB_USER
  value: festflow
- name: DB_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "festflow.secretName" . }}, key: postgres-password}}
{{- end }}
{{- end }}

{{- define "festflow.brokerAccount" -}}
{{- if include "festflow.operators" . }}
- name: AMQP_USER
  valueFrom: {secretKeyRef: {name: rabbitmq-default-user, key: username}}
- name: AMQP_PASSWORD
  valueFrom: {secretKeyRef: {name: rabbitmq-default-user, key: password}}
{{- else }}
- name: AMQP_USER
  value: festflow
- name: AMQP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "festflow.secretName" . }}, key: rabbitmq-password}}
{{- end }}
{{- end }}

{{/* The pod selector of a broker or the database, as the chart or its operator labels its pods. */}}
{{- define "festflow.infraSelector" -}}
{{- $operators := include "festflow.operators" .root -}}
{{- if and $operators (eq .name "rabbitmq") -}}
app.kubernetes.io/name: rabbitmq
app.kubernetes.io/component: rabbitmq
{{- else if and $operators (eq .name "kafka") -}}
strimzi.io/cluster: kafka
strimzi.io/kind: Kafka
{{- else if and $operators (eq .name "postgres") -}}
cnpg.io/cluster: postgres
{{- else -}}
{{ include "festflow.selector" . }}
{{- end -}}
{{- end }}

{{/* A NetworkPolicy peer: an app's pods, or a broker's or the database's. */}}
{{- define "festflow.peer" -}}
- podSelector:
    matchLabels: {{- include "festflow.selector" . | nindent 6 }}
{{- end }}
{{- define "festflow.infraPeer" -}}
- podSelector:
    matchLabels: {{- include "festflow.infraSelector" . | nindent 6 }}
{{- end }}
