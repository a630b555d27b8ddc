{{/* Names: the chart name, and the release-qualified name every object carries. */}}
{{- define "flask-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flask-app.fullname" -}}
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

{{- define "flask-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "flask-app.labels" -}}
helm.sh/chart: {{ include "flask-app.chart" . }}
{{ include "flask-app.selectorLabels" . }}
app.kubernetes.io/version: {{ include "flask-app.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flask-auth
{{- end }}

{{/* The labels a selector matches: name and instance only, so they never change. */}}
{{- define "flask-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flask-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flask-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flask-app.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The tag shown in labels: the image tag, else the chart's appVersion. */}}
{{- define "flask-app.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* repository@digest when a digest is given, repository:tag otherwise (never latest: flask-app.validateValues.imageTag). */}}
{{- define "flask-app.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the pods read SECRET_KEY and DATABASE_URL from. */}}
{{- define "flask-app.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- include "flask-app.fullname" . }}
{{- end }}
{{- end }}

{{/* Whether this release has a Secret to read at all. */}}
{{- define "flask-app.hasSecret" -}}
{{- if or .Values.secret.existingSecret .Values.secret.create }}true{{ end }}
{{- end }}

{{/* The settings every container of the app's pod reads: the ConfigMap, and the Secret if any. */}}
{{- define "flask-app.envFrom" -}}
- configMapRef:
    name: {{ include "flask-app.fullname" . }}
{{- if include "flask-app.hasSecret" . }}
- secretRef:
    name: {{ include "flask-app.secretName" . }}
{{- end }}
{{- end }}

{{/* Migrations run in an init container when SQLite lives on the pod's volume. */}}
{{- define "flask-app.migrateInPod" -}}
{{- if and .Values.migration.enabled .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{- define "flask-app.migrateByJob" -}}
{{- if and .Values.migration.enabled (not .Values.persistence.enabled) }}true{{ end }}
{{- end }}

{{/* The purge CronJob needs a database its own pod can reach: not SQLite on the web pod's volume. */}}
{{- define "flask-app.purgeByCronJob" -}}
{{- if and .Values.purge.enabled (not .Values.persistence.enabled) }}true{{ end }}
{{- end }}

{{/*
The non-secret settings, as a YAML map. The ConfigMap holds them, and the
migration Job, which runs before the ConfigMap exists on a first install,
sets the same ones inline.
*/}}
{{- define "flask-app.config" -}}
APP_ENV: {{ .Values.app.env | quote }}
LOG_LEVEL: {{ .Values.app.logLevel | quote }}
LOG_FORMAT: {{ .Values.app.logFormat | quote }}
TRUSTED_PROXIES: {{ .Values.app.trustedProxies | quote }}
HSTS: {{ .Values.app.hsts | quote }}
RATELIMIT_STORAGE_URI: {{ .Values.app.rateLimitStorageUri | quote }}
{{- with .Values.app.metricsAllowedNetworks }}
METRICS_ALLOWED_NETWORKS: {{ . | quote }}
{{- end }}
PORT: {{ .Values.containerPort | quote }}
WEB_CONCURRENCY: {{ .Values.gunicorn.workers | quote }}
GUNICORN_THREADS: {{ .Values.gunicorn.threads | quote }}
GUNICORN_TIMEOUT: {{ .Values.gunicorn.timeout | quote }}
GUNICORN_GRACEFUL_TIMEOUT: {{ .Values.gunicorn.gracefulTimeout | quote }}
PROMETHEUS_MULTIPROC_DIR: "/tmp/prometheus"
{{- if and .Values.persistence.enabled (not .Values.secret.databaseUrl) (not .Values.secret.existingSecret) }}
DATABASE_URL: {{ printf "sqlite:///%s/app.db" .Values.persistence.mountPath | quote }}
{{- end }}
APP_BASE_URL: {{ default (printf "https://%s" .Values.ingress.host) .Values.app.baseUrl | trimSuffix "/" | quote }}
REQUIRE_EMAIL_VERIFICATION: {{ .Values.app.requireEmailVerification | quote }}
MFA_REQUIRED: {{ .Values.app.mfaRequired | quote }}
WEBAUTHN_ENABLED: {{ .Values.app.passkeys.enabled | quote }}
{{- with .Values.app.passkeys.origin }}
WEBAUTHN_ORIGIN: {{ . | trimSuffix "/" | quote }}
{{- end }}
{{- with .Values.app.passkeys.rpId }}
WEBAUTHN_RP_ID: {{ . | quote }}
{{- end }}
{{- with .Values.app.mail }}
{{- if .server }}
MAIL_SERVER: {{ .server | quote }}
MAIL_PORT: {{ .port | quote }}
MAIL_USE_TLS: {{ .useTls | quote }}
MAIL_FROM: {{ .from | quote }}
{{- end }}
{{- end }}
{{- range $key, $value := .Values.app.extraEnv }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* The container security context every container of the chart runs with. */}}
{{- define "flask-app.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "flask-app.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Checks on combinations the schema cannot express, in the pattern of Bitnami's
charts: each check is a template named flask-app.validateValues.<what> that
returns its message, or nothing when the values are fine, and
flask-app.validateValues (included by configmap.yaml, which every render has)
collects them and fails once, naming every problem. A new check is a new
template here and one more name in the list below.
*/}}
{{- define "flask-app.validateValues" -}}
{{- $messages := list }}
{{- range $check := list "imageTag" "secretSource" "secretKey" "secretKeyLength" "secretRequired" "database" "persistenceReplicas" "emailVerification" "terminationGracePeriod" "podDisruptionBudget" }}
{{- $messages = append $messages (include (printf "flask-app.validateValues.%s" $check) $ | trim) }}
{{- end }}
{{- $messages = without $messages "" }}
{{- if $messages }}
{{- fail (printf "\nVALUES VALIDATION (%d problems):\n- %s" (len $messages) (join "\n- " $messages)) }}
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.imageTag" -}}
{{- if and (not .Values.image.digest) (eq (default .Chart.AppVersion .Values.image.tag) "latest") }}
image.tag must not be latest: give a release tag or image.digest
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.secretSource" -}}
{{- if and .Values.secret.existingSecret .Values.secret.create }}
secret: set existingSecret or create, not both
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.secretKey" -}}
{{- if and .Values.secret.create (not .Values.secret.secretKey) (not .Values.secret.generateSecretKey) }}
secret.create needs secret.secretKey (pass it with --set) or secret.generateSecretKey=true
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.secretKeyLength" -}}
{{- if and .Values.secret.secretKey (lt (len .Values.secret.secretKey) 32) }}
secret.secretKey must be at least 32 characters
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.secretRequired" -}}
{{- if and (ne .Values.app.env "development") (not (include "flask-app.hasSecret" .)) }}
{{- printf "app.env %s needs SECRET_KEY: set secret.existingSecret (or secret.create for dev)" .Values.app.env }}
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.database" -}}
{{- if and (not .Values.persistence.enabled) (not .Values.secret.existingSecret) (not .Values.secret.databaseUrl) (ne .Values.app.env "development") }}
no database: set secret.existingSecret (with DATABASE_URL), secret.databaseUrl, or persistence.enabled for SQLite
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.persistenceReplicas" -}}
{{- if and .Values.persistence.enabled (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
persistence (SQLite on a ReadWriteOnce volume) allows exactly one replica: set replicaCount=1 and autoscaling.enabled=false
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.emailVerification" -}}
{{- if and .Values.app.requireEmailVerification (not .Values.app.mail.server) }}
app.requireEmailVerification needs app.mail.server: nobody could confirm an address
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.terminationGracePeriod" -}}
{{- $drain := add .Values.preStopSleepSeconds .Values.gunicorn.gracefulTimeout | int }}
{{- if le (int .Values.terminationGracePeriodSeconds) $drain }}
{{- printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + gunicorn.gracefulTimeout (%d)" (int .Values.terminationGracePeriodSeconds) $drain }}
{{- end }}
{{- end }}

{{- define "flask-app.validateValues.podDisruptionBudget" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- $min := ne (toString $pdb.minAvailable) "" }}
{{- $max := ne (toString $pdb.maxUnavailable) "" }}
{{- if and $pdb.enabled $min $max }}
podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to "")
{{- else if and $pdb.enabled (not $min) (not $max) }}
podDisruptionBudget: set minAvailable or maxUnavailable
{{- end }}
{{- end }}

{{/*
The app.kubernetes.io/component label of one part of the release: web (the app's
pods and what selects them), migration, purge or test. Every template that sets
or selects the label calls this, e.g. {{ include "flask-app.componentLabel" "web" }}.
*/}}
{{- define "flask-app.componentLabel" -}}
app.kubernetes.io/component: {{ . }}
{{- end }}

{{/*
Checkov findings accepted on purpose, each with its reason, written on the
resource as checkov.io/skip annotations. Call with (dict "ctx" $ "checks" (list ...)).
*/}}
{{- define "flask-app.checkovSkips" -}}
{{- $reasons := dict
  "CKV_K8S_15" "ECR tags are immutable and digests are content addresses, so IfNotPresent cannot run a stale image; Always only adds a registry round trip to every pod start"
  "CKV_K8S_35" "The app reads SECRET_KEY and DATABASE_URL from its environment (twelve-factor); the Secret is namespace-scoped and never logged"
  "CKV_K8S_43" "No image.digest was given, so this render uses the release tag (immutable in ECR); the pipeline and scripts/deploy.sh always pass the digest"
  "CKV_K8S_8" "A run-once pod that exits after one check; a liveness probe has nothing to watch"
  "CKV_K8S_9" "A run-once pod that exits after one check; nothing routes traffic to it" }}
{{- $n := 0 }}
{{- range .checks }}
{{- if or (ne . "CKV_K8S_43") (not $.ctx.Values.image.digest) }}
{{- $n = add1 $n }}
checkov.io/skip{{ $n }}: {{ . }}={{ index $reasons . }}
{{- end }}
{{- end }}
{{- end }}
