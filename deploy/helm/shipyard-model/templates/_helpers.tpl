{{/* Name of every object: .Values.name, else the release name. */}}
{{- define "shipyard-model.name" -}}
{{- .Values.name | default .Release.Name -}}
{{- end }}

{{- define "shipyard-model.selector" -}}
app.kubernetes.io/instance: {{ include "shipyard-model.name" . }}
app.kubernetes.io/name: shipyard-model
{{- end }}

{{- define "shipyard-model.labels" -}}
{{ include "shipyard-model.selector" . }}
app.kubernetes.io/component: model-server
app.kubernetes.io/part-of: shipyard
{{- end }}

{{/* "true" when the pods run Shipyard's router over a canary or a shadow (no KServe). */}}
{{- define "shipyard-model.routed" -}}
{{- if and (not .Values.kserve.enabled) (or .Values.canary.uri .Values.shadow.uri) }}true{{ end -}}
{{- end }}

{{/* The Secret with the bearer token, or nothing when requests need none. */}}
{{- define "shipyard-model.token" -}}
{{- if not .Values.auth.insecure }}{{ .Values.auth.tokenSecret | default (printf "%s-token" (include "shipyard-model.name" .)) }}{{ end -}}
{{- end }}

{{- define "shipyard-model.profile" -}}
{{- $profile := index .Values.profiles .Values.profile -}}
{{- if not $profile }}{{ fail (printf "profile must be one of small, medium, large; got %v" .Values.profile) }}{{ end -}}
{{- toYaml $profile -}}
{{- end }}

{{- define "shipyard-model.resources" -}}
{{- $profile := include "shipyard-model.profile" . | fromYaml -}}
{{- $resources := merge (deepCopy .Values.resources) (pick $profile "requests" "limits") -}}
limits:
  cpu: {{ $resources.limits.cpu | quote }}
  memory: {{ $resources.limits.memory | quote }}
requests:
  cpu: {{ $resources.requests.cpu | quote }}
  memory: {{ $resources.requests.memory | quote }}
{{- end }}

{{- define "shipyard-model.workers" -}}
{{- $profile := include "shipyard-model.profile" . | fromYaml -}}
{{- .Values.workers | default $profile.workers -}}
{{- end }}

{{- define "shipyard-model.args" -}}
- "--workers"
- {{ include "shipyard-model.workers" . | quote }}
{{- if .Values.auth.insecure }}
- "--insecure"
{{- end }}
{{- end }}

{{- define "shipyard-model.env" -}}
{{- if .Values.shipyardUrl }}
- name: SHIPYARD_URL
  value: {{ .Values.shipyardUrl | quote }}
{{- end }}
{{- with include "shipyard-model.token" . }}
- name: SHIPYARD_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: token
{{- end }}
{{- end }}

{{- define "shipyard-model.annotations" -}}
shipyard.io/model-uri: {{ required "model.uri is required" .Values.model.uri | quote }}
{{- with .Values.model.version }}
shipyard.io/model-version: {{ . | quote }}
{{- end }}
{{- with .Values.canary.uri }}
shipyard.io/canary-uri: {{ . | quote }}
{{- end }}
{{- with .Values.shadow.uri }}
shipyard.io/shadow-uri: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "shipyard-model.metric" -}}
{{- if not (has .Values.autoscaling.metric (list "cpu" "inflight")) }}{{ fail (printf "autoscaling.metric must be cpu or inflight; got %v" .Values.autoscaling.metric) }}{{ end -}}
{{- .Values.autoscaling.metric -}}
{{- end }}

{{- define "shipyard-model.target" -}}
{{- .Values.autoscaling.target | default (ternary 70 8 (eq (include "shipyard-model.metric" .) "cpu")) -}}
{{- end }}

{{- define "shipyard-model.maxReplicas" -}}
{{- .Values.maxReplicas | default (mul 3 .Values.replicas) -}}
{{- end }}

{{/* The `shipyard serve` config of a routed deployment: the same text `shipyard deploy k8s` writes. */}}
{{- define "shipyard-model.serveConfig" -}}
{{- $canary := 0 -}}
{{- if .Values.canary.uri }}{{ $canary = .Values.canary.percent }}{{ end -}}
models:
  {{ required "model.name is required" .Values.model.name | toJson }}:
    routes:
      - {uri: {{ .Values.model.uri | toJson }}, weight: {{ sub 100 $canary }}, label: stable}
{{- if .Values.canary.uri }}
      - {uri: {{ .Values.canary.uri | toJson }}, weight: {{ $canary }}, label: canary}
{{- end }}
{{- if .Values.shadow.uri }}
    shadow: {uri: {{ .Values.shadow.uri | toJson }}, fraction: {{ .Values.shadow.fraction }}}
{{- end }}
{{ end }}
