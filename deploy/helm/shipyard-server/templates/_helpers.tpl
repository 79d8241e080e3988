{{/* Name of every object: .Values.name, else the release name. */}}
{{- define "shipyard-server.name" -}}
{{- .Values.name | default .Release.Name -}}
{{- end }}

{{- define "shipyard-server.selector" -}}
app.kubernetes.io/instance: {{ include "shipyard-server.name" . }}
app.kubernetes.io/name: shipyard-server
{{- end }}

{{- define "shipyard-server.labels" -}}
{{ include "shipyard-server.selector" . }}
app.kubernetes.io/component: api-server
app.kubernetes.io/part-of: shipyard
{{- end }}

{{/* The Secret named by secrets.KIND, else NAME-KIND. */}}
{{- define "shipyard-server.secret" -}}
{{- index .root.Values.secrets .kind | default (printf "%s-%s" (include "shipyard-server.name" .root) .kind) -}}
{{- end }}

{{/* The Secret with the bearer token, or nothing when requests need none. */}}
{{- define "shipyard-server.token" -}}
{{- if not .Values.auth.insecure }}{{ include "shipyard-server.secret" (dict "root" . "kind" "token") }}{{ end -}}
{{- end }}

{{- define "shipyard-server.resources" -}}
{{- $profile := index .Values.profiles .Values.profile -}}
{{- if not $profile }}{{ fail (printf "profile must be one of small, medium, large; got %v" .Values.profile) }}{{ end -}}
{{- $resources := merge (deepCopy .Values.resources) (pick $profile "requests" "limits") -}}
limits:
  cpu: {{ $resources.limits.cpu | quote }}
  memory: {{ $resources.limits.memory | quote }}
requests:
  cpu: {{ $resources.requests.cpu | quote }}
  memory: {{ $resources.requests.memory | quote }}
{{- end }}

{{/* The environment of the server and of its migration: the same for both. */}}
{{- define "shipyard-server.env" -}}
- name: SHIPYARD_HOME
  value: /tmp/shipyard
- name: SHIPYARD_DB
  valueFrom:
    secretKeyRef:
      key: url
      name: {{ include "shipyard-server.secret" (dict "root" . "kind" "db") }}
- name: SHIPYARD_ARTIFACTS
  value: {{ .Values.artifacts | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      key: AWS_ACCESS_KEY_ID
      name: {{ include "shipyard-server.secret" (dict "root" . "kind" "s3") }}
      optional: true
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      key: AWS_SECRET_ACCESS_KEY
      name: {{ include "shipyard-server.secret" (dict "root" . "kind" "s3") }}
      optional: true
{{- with .Values.s3EndpointUrl }}
- name: SHIPYARD_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.secrets.redis }}
- name: SHIPYARD_ONLINE_STORE
  valueFrom:
    secretKeyRef:
      key: url
      name: {{ . }}
{{- end }}
{{- with include "shipyard-server.token" . }}
- name: SHIPYARD_TOKEN
  valueFrom:
    secretKeyRef:
      key: token
      name: {{ . }}
{{- end }}
{{- end }}

{{- define "shipyard-server.security" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
readOnlyRootFilesystem: true
{{- end }}
