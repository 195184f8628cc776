{{/* Names and labels. */}}
{{- define "odoo-saas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "odoo-saas.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "odoo-saas.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "odoo-saas.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "odoo-saas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "odoo-saas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "odoo-saas.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "odoo-saas.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "odoo-saas.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "odoo-saas.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The api Deployment's ServiceAccount: with customDomains.mode=ingress its own (domains-rbac.yaml:
a Role on Ingresses only; the api pod mounts its token, automountServiceAccountToken: true),
else the release's, which mounts nothing.
*/}}
{{- define "odoo-saas.apiServiceAccountName" -}}
{{- if eq .Values.customDomains.mode "ingress" -}}
{{- printf "%s-api" (include "odoo-saas.fullname" .) -}}
{{- else -}}
{{- include "odoo-saas.serviceAccountName" . -}}
{{- end -}}
{{- end -}}

{{- define "odoo-saas.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "odoo-saas.dataClaim" -}}
{{- default (printf "%s-data" (include "odoo-saas.fullname" .)) .Values.persistence.data.existingClaim -}}
{{- end -}}

{{- define "odoo-saas.backupsClaim" -}}
{{- default (printf "%s-backups" (include "odoo-saas.fullname" .)) .Values.persistence.backups.existingClaim -}}
{{- end -}}

{{/* Refusals that the JSON schema cannot express, with a message that says what to do. */}}
{{- define "odoo-saas.validate" -}}
{{- $web := .Values.web -}}
{{- $many := or (gt (int $web.replicas) 1) (and $web.autoscaling.enabled (gt (int $web.autoscaling.maxReplicas) 1)) -}}
{{- if and $many (not .Values.redis.enabled) -}}
{{- fail "web.replicas > 1 (or web.autoscaling) needs redis.enabled=true: with sessions on each pod's disk a user is logged out whenever the next request reaches another pod. Set redis.enabled=true and redis.host (or redis.existingSecret with urlKey)." -}}
{{- end -}}
{{- if and .Values.redis.enabled (not .Values.redis.host) (not .Values.redis.urlKey) -}}
{{- fail "redis.enabled=true needs redis.host, or redis.existingSecret with redis.urlKey" -}}
{{- end -}}
{{- if and .Values.redis.urlKey (not .Values.redis.existingSecret) -}}
{{- fail "redis.urlKey needs redis.existingSecret (the Secret holding the URL)" -}}
{{- end -}}
{{- if and .Values.redis.passwordKey (not .Values.redis.existingSecret) -}}
{{- fail "redis.passwordKey needs redis.existingSecret (the Secret holding the password)" -}}
{{- end -}}
{{- if and .Values.backup.s3.bucket (not .Values.backup.s3.existingSecret) -}}
{{- fail "backup.s3.bucket needs backup.s3.existingSecret (the Secret with the access keys)" -}}
{{- end -}}
{{- if eq .Values.backup.offsite "restic" -}}
{{- if not .Values.backup.s3.bucket -}}
{{- fail "backup.offsite=restic needs backup.s3.bucket (and backup.s3.existingSecret): the restic repository lives in that bucket, under backup.s3.prefix/restic" -}}
{{- end -}}
{{- if not .Values.backup.encryption.existingSecret -}}
{{- fail "backup.offsite=restic needs backup.encryption.existingSecret (the Secret holding the restic repository's password, key backup.encryption.passwordKey)" -}}
{{- end -}}
{{- else if .Values.backup.encryption.existingSecret -}}
{{- fail "backup.encryption.existingSecret is read only with backup.offsite=restic: s3 copies are the backup files as they are (encrypt them in the bucket with backup.s3.sse)" -}}
{{- end -}}
{{- if and .Values.odoo.smtp.server .Values.odoo.smtp.user (not .Values.odoo.smtp.existingSecret) -}}
{{- fail "odoo.smtp.user needs odoo.smtp.existingSecret (the Secret with the SMTP password)" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- fail "httpRoute.parentRefs: name the Gateway (its listener terminates TLS for *.domain)" -}}
{{- end -}}
{{- if and .Values.restore.enabled (or (not .Values.restore.tenant) (not .Values.restore.file)) -}}
{{- fail "restore.enabled=true needs restore.tenant and restore.file" -}}
{{- end -}}
{{- if and (eq .Values.customDomains.mode "ingress") (not .Values.customDomains.ingress.clusterIssuer) -}}
{{- fail "customDomains.mode=ingress needs customDomains.ingress.clusterIssuer (a cert-manager ClusterIssuer with HTTP-01)" -}}
{{- end -}}
{{- if and .Values.customDomains.mode (not .Values.api.enabled) -}}
{{- fail "customDomains.mode needs api.enabled=true (the API verifies domains and answers Caddy's ask)" -}}
{{- end -}}
{{- if and .Values.clone.enabled (or (not .Values.clone.source) (not .Values.clone.target)) -}}
{{- fail "clone.enabled=true needs clone.source and clone.target" -}}
{{- end -}}
{{- end -}}

{{/*
Which secrets a container reads, from its env ctx (dict "root" $ "role" ROLE, optionally "admin",
"s3", "manage"). The management role of PostgreSQL ("manage") goes to the Jobs that create,
restore, clone or migrate tenants and to the control API's pod (api), never to a pod that runs
Odoo. Every process of a pod runs as the same uid with the fsGroup, so whatever a pod mounts,
its Odoo could read: each secret goes only where it is used. The master password goes where Odoo
runs (web, cron) and to the upgrade Job that checks their settings ("admin"), and only as its
hash; Redis and SMTP where Odoo runs; the exporters' password where an exporter runs; S3 to the
backup and restore pods and the API's ("s3"), and there too the restic repository's password when
restic is the off-site engine.
*/}}
{{- define "odoo-saas.needs" -}}
{{- $v := .root.Values -}}
{{- $odoo := has .role (list "web" "cron") -}}
manager: {{ if and .manage (not $odoo) }}true{{ else }}false{{ end }}
admin: {{ if or $odoo .admin }}true{{ else }}false{{ end }}
redis: {{ if and $odoo $v.redis.enabled }}true{{ else }}false{{ end }}
smtp: {{ if and $odoo $v.odoo.smtp.server }}true{{ else }}false{{ end }}
metrics: {{ if and $v.metrics.enabled (has .role (list "web" "metrics")) }}true{{ else }}false{{ end }}
s3: {{ if and .s3 $v.backup.s3.bucket }}true{{ else }}false{{ end }}
restic: {{ if and .s3 $v.backup.s3.bucket (eq $v.backup.offsite "restic") }}true{{ else }}false{{ end }}
{{- end -}}

{{/* The mounted secrets of a container: ctx = its env ctx (see odoo-saas.needs). */}}
{{- define "odoo-saas.secretsVolume" -}}
{{- $v := .root.Values -}}
{{- $needs := include "odoo-saas.needs" . | fromYaml -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ $v.postgresql.existingSecret }}
          items:
            - {key: {{ $v.postgresql.passwordKey }}, path: db-password}
      {{- if $needs.manager }}
      - secret:
          name: {{ $v.postgresql.manager.existingSecret }}
          items:
            - {key: {{ $v.postgresql.manager.passwordKey }}, path: saas-db-password}
      {{- end }}
      {{- if $needs.admin }}
      - secret:
          name: {{ $v.adminPassword.existingSecret }}
          items:
            - {key: {{ $v.adminPassword.key }}, path: admin-passwd-hash}
      {{- end }}
      {{- if and $needs.redis $v.redis.existingSecret }}
      - secret:
          name: {{ $v.redis.existingSecret }}
          items:
            {{- if $v.redis.urlKey }}
            - {key: {{ $v.redis.urlKey }}, path: redis-url}
            {{- end }}
            {{- if $v.redis.passwordKey }}
            - {key: {{ $v.redis.passwordKey }}, path: redis-password}
            {{- end }}
      {{- end }}
      {{- if and $needs.smtp $v.odoo.smtp.user $v.odoo.smtp.existingSecret }}
      - secret:
          name: {{ $v.odoo.smtp.existingSecret }}
          items:
            - {key: {{ $v.odoo.smtp.passwordKey }}, path: smtp-password}
      {{- end }}
      {{- if and $needs.metrics $v.metrics.basicAuth.existingSecret }}
      - secret:
          name: {{ $v.metrics.basicAuth.existingSecret }}
          items:
            - {key: {{ $v.metrics.basicAuth.passwordKey }}, path: metrics-password}
      {{- end }}
      {{- if $needs.s3 }}
      - secret:
          name: {{ $v.backup.s3.existingSecret }}
          items:
            - {key: {{ $v.backup.s3.accessKeyIdKey }}, path: aws-access-key-id}
            - {key: {{ $v.backup.s3.secretAccessKeyKey }}, path: aws-secret-access-key}
      {{- end }}
      {{- if $needs.restic }}
      - secret:
          name: {{ $v.backup.encryption.existingSecret }}
          items:
            - {key: {{ $v.backup.encryption.passwordKey }}, path: backup-encryption-password}
      {{- end }}
{{- end -}}

{{/*
The environment of every odoo-saas container; ctx = dict "root" $ "role" ROLE and optionally
"s3" (S3 settings and keys), "admin" (the master password's hash outside web and cron),
"autoUpdate" (module updates), "backupVars" (schedule known), "restore" (loads a backup).
Secrets only as *_FILE paths into the `secrets` volume, and only those odoo-saas.needs names.
Every variable here is an odoo-saas setting: ci/settings-map.yaml says which ones the chart
sets and why it leaves the others alone (tests/chart/test_settings_map.py checks both).
*/}}
{{- define "odoo-saas.env" -}}
{{- $v := .root.Values -}}
{{- $dir := "/run/secrets/odoo-saas" -}}
{{- $needs := include "odoo-saas.needs" . | fromYaml -}}
- {name: ODOO_SAAS_ROLE, value: {{ .role | quote }}}
- {name: ODOO_DB_HOST, value: {{ required "postgresql.host is required" $v.postgresql.host | quote }}}
- {name: ODOO_DB_PORT, value: {{ $v.postgresql.port | quote }}}
- {name: ODOO_DB_USER, value: {{ $v.postgresql.user | quote }}}
- {name: ODOO_DB_PASSWORD_FILE, value: {{ printf "%s/db-password" $dir | quote }}}
- {name: ODOO_SAAS_DB_USER, value: {{ $v.postgresql.manager.user | quote }}}
{{- if $needs.manager }}
- {name: ODOO_SAAS_DB_PASSWORD_FILE, value: {{ printf "%s/saas-db-password" $dir | quote }}}
{{- end }}
- {name: ODOO_DB_SSLMODE, value: {{ $v.postgresql.sslmode | quote }}}
- {name: ODOO_DB_MAXCONN, value: {{ $v.postgresql.maxconn | quote }}}
- {name: ODOO_DB_WAIT_TIMEOUT, value: {{ $v.postgresql.waitTimeout | quote }}}
{{- if $needs.admin }}
- {name: ODOO_ADMIN_PASSWD_FILE, value: {{ printf "%s/admin-passwd-hash" $dir | quote }}}
{{- end }}
- {name: ODOO_DB_FILTER, value: "^%d$"}
- {name: ODOO_LIST_DB, value: "false"}
- {name: ODOO_PROXY_MODE, value: "true"}
{{- if not (kindIs "invalid" $v.odoo.workers) }}
- {name: ODOO_WORKERS, value: {{ $v.odoo.workers | quote }}}
{{- end }}
- {name: ODOO_MAX_CRON_THREADS, value: {{ $v.odoo.maxCronThreads | quote }}}
- {name: ODOO_LIMIT_MEMORY_SOFT, value: {{ $v.odoo.limitMemorySoft | quote }}}
- {name: ODOO_LIMIT_MEMORY_HARD, value: {{ $v.odoo.limitMemoryHard | quote }}}
- {name: ODOO_LIMIT_TIME_CPU, value: {{ $v.odoo.limitTimeCpu | quote }}}
- {name: ODOO_LIMIT_TIME_REAL, value: {{ $v.odoo.limitTimeReal | quote }}}
- {name: ODOO_LOG_LEVEL, value: {{ $v.odoo.logLevel | quote }}}
- {name: ODOO_STOP_TIMEOUT, value: {{ $v.odoo.stopTimeout | quote }}}
- {name: ODOO_DATA_DIR, value: /var/lib/odoo}
- {name: ODOO_SAAS_RUNTIME_DIR, value: /run/odoo-saas}
- {name: BACKUP_DIR, value: /mnt/backups}
- {name: HOME, value: /tmp}
- {name: TENANT_DB_PREFIX, value: {{ $v.tenantDbPrefix | quote }}}
- {name: ODOO_DOMAIN, value: {{ $v.domain | quote }}}
{{- if $v.customDomains.poolHost }}
- {name: ODOO_SAAS_POOL_HOST, value: {{ $v.customDomains.poolHost | quote }}}
{{- end }}
{{- if and (eq .role "api") (eq $v.customDomains.mode "ingress") }}
{{- /* the api keeps one Ingress per verified custom domain (domains/ingress.py) */}}
- {name: ODOO_SAAS_INGRESS_SERVICE, value: {{ printf "%s-web" (include "odoo-saas.fullname" .root) | quote }}}
- {name: ODOO_SAAS_INGRESS_CLASS, value: {{ default $v.ingress.className $v.customDomains.ingress.className | quote }}}
- {name: ODOO_SAAS_INGRESS_ISSUER, value: {{ $v.customDomains.ingress.clusterIssuer | quote }}}
{{- if $v.ingress.nginxAnnotations }}
- {name: ODOO_SAAS_INGRESS_ANNOTATIONS, value: {{ dict "nginx.ingress.kubernetes.io/proxy-body-size" $v.ingress.bodySize "nginx.ingress.kubernetes.io/proxy-read-timeout" "720" "nginx.ingress.kubernetes.io/proxy-send-timeout" "720" "nginx.ingress.kubernetes.io/proxy-buffering" "off" | toJson | quote }}}
{{- end }}
{{- end }}
- {name: TENANT_URL_TEMPLATE, value: {{ printf "%s://{tenant}.%s" (ternary "https" "http" (or $v.ingress.tls.enabled $v.httpRoute.enabled)) $v.domain | quote }}}
{{- if $v.provisionModules }}
- {name: PROVISION_MODULES, value: {{ join "," $v.provisionModules | quote }}}
{{- end }}
{{- if $v.provisionSpares }}
- {name: PROVISION_SPARES, value: {{ $v.provisionSpares | quote }}}
{{- end }}
- {name: TEMPLATE_CACHE_MAX_COUNT, value: {{ $v.templateCache.maxCount | quote }}}
- {name: TEMPLATE_CACHE_MAX_AGE_DAYS, value: {{ $v.templateCache.maxAgeDays | quote }}}
- {name: ODOO_AUTO_UPDATE, value: {{ ternary "true" "false" (default false .autoUpdate) | quote }}}
- {name: ODOO_AUTO_PATCH_DEPS, value: {{ ternary "true" "false" (and (default false .autoUpdate) $v.upgrade.patchDeps) | quote }}}
{{- if $needs.redis }}
- {name: ODOO_ENABLE_REDIS, value: "true"}
{{- if $v.redis.urlKey }}
- {name: ODOO_REDIS_URL_FILE, value: {{ printf "%s/redis-url" $dir | quote }}}
{{- else }}
- {name: ODOO_REDIS_HOST, value: {{ $v.redis.host | quote }}}
- {name: ODOO_REDIS_PORT, value: {{ $v.redis.port | quote }}}
- {name: ODOO_REDIS_DBINDEX, value: {{ $v.redis.dbIndex | quote }}}
{{- if $v.redis.passwordKey }}
- {name: ODOO_REDIS_PASSWORD_FILE, value: {{ printf "%s/redis-password" $dir | quote }}}
{{- end }}
{{- end }}
- {name: ODOO_REDIS_PREFIX, value: {{ $v.redis.prefix | quote }}}
{{- end }}
{{- if $needs.smtp }}
- {name: ODOO_SMTP_SERVER, value: {{ $v.odoo.smtp.server | quote }}}
- {name: ODOO_SMTP_PORT, value: {{ $v.odoo.smtp.port | quote }}}
- {name: ODOO_SMTP_SSL, value: {{ $v.odoo.smtp.ssl | quote }}}
{{- if $v.odoo.smtp.user }}
- {name: ODOO_SMTP_USER, value: {{ $v.odoo.smtp.user | quote }}}
- {name: ODOO_SMTP_PASSWORD_FILE, value: {{ printf "%s/smtp-password" $dir | quote }}}
{{- end }}
{{- end }}
{{- if $v.odoo.emailFrom }}
- {name: ODOO_EMAIL_FROM, value: {{ $v.odoo.emailFrom | quote }}}
{{- end }}
- {name: ODOO_METRICS_ENABLED, value: {{ ternary "true" "false" $needs.metrics | quote }}}
- {name: ODOO_METRICS_REFRESH_SECONDS, value: {{ $v.metrics.refreshSeconds | quote }}}
{{- if and $needs.metrics $v.metrics.basicAuth.existingSecret }}
- name: ODOO_METRICS_USER
  valueFrom:
    secretKeyRef: {name: {{ $v.metrics.basicAuth.existingSecret | quote }}, key: {{ $v.metrics.basicAuth.userKey | quote }}}
- {name: ODOO_METRICS_PASSWORD_FILE, value: {{ printf "%s/metrics-password" $dir | quote }}}
{{- end }}
{{- if .backupVars }}
{{- /* the backup Job and the pool exporter: the exporter judges backup age by the period */}}
- {name: ODOO_AUTO_BACKUP, value: "true"}
- {name: BACKUP_SCHEDULE, value: {{ $v.backup.schedule | quote }}}
- {name: BACKUP_TZ, value: {{ $v.backup.timeZone | quote }}}
- {name: BACKUP_FORMAT, value: {{ $v.backup.format | quote }}}
- {name: BACKUP_CONCURRENCY, value: {{ $v.backup.concurrency | quote }}}
- {name: BACKUP_RETENTION_DAYS, value: {{ $v.backup.retentionDays | quote }}}
{{- range $k, $n := dict "keepDaily" "BACKUP_KEEP_DAILY" "keepWeekly" "BACKUP_KEEP_WEEKLY" "keepMonthly" "BACKUP_KEEP_MONTHLY" }}
{{- if not (kindIs "invalid" (index $v.backup $k)) }}
- {name: {{ $n }}, value: {{ index $v.backup $k | quote }}}
{{- end }}
{{- end }}
{{- else }}
- {name: ODOO_AUTO_BACKUP, value: "false"}
{{- end }}
{{- if $needs.s3 }}
- {name: AWS_S3_BUCKET, value: {{ $v.backup.s3.bucket | quote }}}
- {name: BACKUP_S3_PREFIX, value: {{ $v.backup.s3.prefix | quote }}}
- {name: AWS_DEFAULT_REGION, value: {{ $v.backup.s3.region | quote }}}
{{- if $v.backup.s3.endpointUrl }}
- {name: AWS_S3_ENDPOINT_URL, value: {{ $v.backup.s3.endpointUrl | quote }}}
{{- end }}
{{- if $v.backup.s3.sse }}
- {name: AWS_S3_SSE, value: {{ $v.backup.s3.sse | quote }}}
{{- end }}
{{- if $v.backup.s3.sseKmsKeyId }}
- {name: AWS_S3_SSE_KMS_KEY_ID, value: {{ $v.backup.s3.sseKmsKeyId | quote }}}
{{- end }}
- {name: AWS_ACCESS_KEY_ID_FILE, value: {{ printf "%s/aws-access-key-id" $dir | quote }}}
- {name: AWS_SECRET_ACCESS_KEY_FILE, value: {{ printf "%s/aws-secret-access-key" $dir | quote }}}
- {name: BACKUP_OFFSITE, value: {{ $v.backup.offsite | quote }}}
{{- if $needs.restic }}
- {name: BACKUP_ENCRYPTION_PASSWORD_FILE, value: {{ printf "%s/backup-encryption-password" $dir | quote }}}
{{- if .backupVars }}
- {name: BACKUP_PRUNE_SCHEDULE, value: {{ $v.backup.prune.schedule | quote }}}
{{- end }}
{{- end }}
{{- end }}
{{- if .restore }}
{{- /* restic:TENANT@TIME is read in the backups' time zone */}}
- {name: BACKUP_TZ, value: {{ $v.backup.timeZone | quote }}}
- {name: RESTORE_MAX_DB_SIZE, value: {{ $v.restore.maxDbSize | quote }}}
{{- end }}
{{- with $v.odoo.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Restricted Pod Security Standard. */}}
{{- define "odoo-saas.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "odoo-saas.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Volumes: ctx = dict "root" $ "data" bool "backups" bool|"ro" "env" (the env ctx) */}}
{{- define "odoo-saas.volumes" -}}
{{- $root := .root -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.persistence.tmpSizeLimit }}
- name: runtime
  emptyDir:
    medium: Memory
    sizeLimit: {{ $root.Values.persistence.runtimeSizeLimit }}
{{- if .data }}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "odoo-saas.dataClaim" $root }}
{{- end }}
{{- if .backups }}
- name: backups
  persistentVolumeClaim:
    claimName: {{ include "odoo-saas.backupsClaim" $root }}
    {{- if eq (toString .backups) "ro" }}
    readOnly: true
    {{- end }}
{{- end }}
{{ include "odoo-saas.secretsVolume" .env }}
{{- end -}}

{{- define "odoo-saas.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
- {name: runtime, mountPath: /run/odoo-saas}
- {name: secrets, mountPath: /run/secrets/odoo-saas, readOnly: true}
{{- if .data }}
- {name: data, mountPath: /var/lib/odoo}
{{- end }}
{{- if .backups }}
- {name: backups, mountPath: /mnt/backups{{ if eq (toString .backups) "ro" }}, readOnly: true{{ end }}}
{{- end }}
{{- end -}}

{{/* Pod-level fields every workload shares. */}}
{{- define "odoo-saas.podCommon" -}}
serviceAccountName: {{ include "odoo-saas.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- include "odoo-saas.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
A one-shot pod running one odoo-saas command through the image's entrypoint (which validates,
renders odoo.conf and execs it). ctx = dict "root" $ "component" C "role" R "args" LIST and
optionally "backups", "initContainers", "extraVolumes", "resources"; "ctx" is the env ctx.
*/}}
{{- define "odoo-saas.jobPod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "odoo-saas.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  restartPolicy: Never
  {{- include "odoo-saas.podCommon" $root | nindent 2 }}
  {{- with .initContainers }}
  initContainers:
    {{- range . }}
    - name: {{ .name }}
      image: {{ include "odoo-saas.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: {{ toJson .args }}
      securityContext:
        {{- include "odoo-saas.containerSecurityContext" $root | nindent 8 }}
      env:
        {{- include "odoo-saas.env" $.ctx | nindent 8 }}
      volumeMounts:
        {{- include "odoo-saas.volumeMounts" (dict "data" true "backups" $.backups) | nindent 8 }}
        {{- with .extraMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- end }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "odoo-saas.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: {{ toJson .args }}
      securityContext:
        {{- include "odoo-saas.containerSecurityContext" $root | nindent 8 }}
      env:
        {{- include "odoo-saas.env" .ctx | nindent 8 }}
      {{- with .resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- include "odoo-saas.volumeMounts" (dict "data" true "backups" .backups) | nindent 8 }}
  volumes:
    {{- include "odoo-saas.volumes" (dict "root" $root "data" true "backups" .backups "env" .ctx) | nindent 4 }}
    {{- with .extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
One NetworkPolicy egress rule from a destination of networkPolicy.egress: ctx = dict "rule"
{to, ports} and optionally "port" (the TCP port used when the destination's ports are null).
*/}}
{{- define "odoo-saas.egressRule" -}}
{{- $ports := .rule.ports -}}
{{- if and (not $ports) .port -}}
{{- $ports = list (dict "port" (int .port) "protocol" "TCP") -}}
{{- end -}}
- to:
    {{- toYaml .rule.to | nindent 4 }}
  {{- with $ports }}
  ports:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
