{{/* Standard names and labels of the Flask chart. */}}

{{/* flask.name is the chart name, or nameOverride. */}}
{{- define "flask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* flask.fullname prefixes every object: the release name, plus the chart name unless the release name contains it. */}}
{{- define "flask.fullname" -}}
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

{{/* flask.chart is name-version for the helm.sh/chart label. */}}
{{- define "flask.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* flask.selectorLabels: the immutable selector of every component; pass (dict "ctx" $ "component" "api"). */}}
{{- define "flask.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flask.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* flask.labels: every object's labels; pass (dict "ctx" $ "component" "api"). */}}
{{- define "flask.labels" -}}
helm.sh/chart: {{ include "flask.chart" .ctx }}
{{ include "flask.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: flask
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* flask.image renders repository:tag or repository@digest; refuses latest. Pass (dict "ctx" $ "image" .Values.api.image). */}}
{{- define "flask.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail (printf "image %s: the tag \"latest\" is not allowed; pin a version" .image.repository) }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* flask.serviceAccountName: pass (dict "ctx" $ "component" "api"). */}}
{{- define "flask.serviceAccountName" -}}
{{- $sa := index .ctx.Values.serviceAccount .component }}
{{- default (printf "%s-%s" (include "flask.fullname" .ctx) .component) $sa.name }}
{{- end }}

{{/* flask.configName is the shared ConfigMap. */}}
{{- define "flask.configName" -}}
{{- printf "%s-config" (include "flask.fullname" .) }}
{{- end }}

{{/* flask.durationSeconds turns a Go duration of h/m/s/ms units ("1m30s", "45s", "2h") into whole seconds, rounded up. */}}
{{- define "flask.durationSeconds" -}}
{{- $d := toString . }}
{{- if not (regexMatch "^([0-9]+(h|ms|m|s))+$" $d) }}
{{- fail (printf "duration %q: use whole numbers of h, m, s or ms, e.g. 30s or 1m30s" $d) }}
{{- end }}
{{- $ms := 0 }}
{{- range regexFindAll "[0-9]+(h|ms|m|s)" $d -1 }}
{{- $n := regexFind "^[0-9]+" . | atoi }}
{{- $unit := regexReplaceAll "^[0-9]+" . "" }}
{{- if eq $unit "h" }}{{ $ms = add $ms (mul $n 3600000) }}
{{- else if eq $unit "m" }}{{ $ms = add $ms (mul $n 60000) }}
{{- else if eq $unit "s" }}{{ $ms = add $ms (mul $n 1000) }}
{{- else }}{{ $ms = add $ms $n }}
{{- end }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/* flask.podSecurityContext: restricted Pod Security Standard. */}}
{{- define "flask.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.security.runAsUser }}
runAsGroup: {{ .Values.security.runAsGroup }}
fsGroup: {{ .Values.security.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* flask.containerSecurityContext: restricted Pod Security Standard. */}}
{{- define "flask.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* flask.topologySpread: zone and node spread for the pods of one selector; pass (dict "ctx" $ "selector" (include "flask.selectorLabels" …)). */}}
{{- define "flask.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled -}}
topologySpreadConstraints:
  - maxSkew: {{ .ctx.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ .ctx.Values.topologySpread.zoneWhenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- .selector | nindent 8 }}
  - maxSkew: {{ .ctx.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- .selector | nindent 8 }}
{{- end }}
{{- end }}

{{/* flask.sqsQueuePrefix: broker.sqs.queuePrefix, else the prefix shared by the queue names in broker.sqs.queueURLs (flask-prod-default for queue default: flask-prod; Flask adds the dash). */}}
{{- define "flask.sqsQueuePrefix" -}}
{{- $sqs := .Values.broker.sqs }}
{{- if $sqs.queuePrefix }}
{{- $sqs.queuePrefix }}
{{- else }}
{{- $prefixes := list }}
{{- range $q, $url := $sqs.queueURLs }}
{{- $name := regexReplaceAll "^.*/" $url "" }}
{{- if not (hasSuffix (printf "-%s" $q) $name) }}
{{- fail (printf "broker.sqs.queueURLs.%s: the queue name %q does not end with \"-%s\"; set broker.sqs.queuePrefix" $q $name $q) }}
{{- end }}
{{- $prefixes = append $prefixes (trimSuffix (printf "-%s" $q) $name) | uniq }}
{{- end }}
{{- if gt (len $prefixes) 1 }}
{{- fail (printf "broker.sqs.queueURLs: queue names have different prefixes %v; set broker.sqs.queuePrefix" $prefixes) }}
{{- end }}
{{- first $prefixes | default "" }}
{{- end }}
{{- end }}

{{/* flask.commonVolumes: /tmp, database CA, NATS credentials and TLS. Pass $. */}}
{{- define "flask.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.database.sslRootCert.configMap }}
- name: db-ca
  configMap:
    name: {{ . }}
{{- end }}
{{- if eq .Values.broker.type "nats" }}
{{- with .Values.broker.nats.auth.existingSecret }}
- name: nats-auth
  secret:
    secretName: {{ . }}
{{- end }}
{{- with .Values.broker.nats.tls.existingSecret }}
- name: nats-tls
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* flask.commonVolumeMounts matches flask.commonVolumes. */}}
{{- define "flask.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.database.sslRootCert.configMap }}
- name: db-ca
  mountPath: /etc/flask/db-ca
  readOnly: true
{{- end }}
{{- if eq .Values.broker.type "nats" }}
{{- if .Values.broker.nats.auth.existingSecret }}
- name: nats-auth
  mountPath: /etc/flask/nats-auth
  readOnly: true
{{- end }}
{{- if .Values.broker.nats.tls.existingSecret }}
- name: nats-tls
  mountPath: /etc/flask/nats-tls
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{/* flask.commonEnv: the database URL from its Secret, GOMAXPROCS from the CPU limit, and the OTLP exporter's headers from theirs (API and workers); pass (dict "ctx" $ "container" "api"). */}}
{{- define "flask.commonEnv" -}}
- name: FLASK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required: the Secret holding the database URL" .ctx.Values.database.existingSecret }}
      key: {{ .ctx.Values.database.existingSecretKey }}
- name: GOMAXPROCS
  valueFrom:
    resourceFieldRef:
      containerName: {{ .container }}
      resource: limits.cpu
      divisor: "1"
{{- if and .ctx.Values.tracing.headersSecret (ne .container "migrate") }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .ctx.Values.tracing.headersSecret }}
      key: {{ .ctx.Values.tracing.headersSecretKey }}
{{- end }}
{{- end }}

{{/* flask.envMap renders a map of extra settings as env entries, refusing the secret ones; pass (dict "env" MAP "indent" N). */}}
{{- define "flask.envMap" -}}
{{- $indent := .indent }}
{{- range $k, $v := .env }}
{{- if regexMatch "(DATABASE_URL|SECRET|PASSWORD|TOKEN|HEADERS)" $k }}
{{- fail (printf "env %s looks like a secret: secrets come only from Secrets (database.existingSecret, worker.httpSigningSecret, tracing.headersSecret)" $k) }}
{{- end }}
{{- printf "- name: %s\n  value: %s" $k ($v | toString | quote) | nindent $indent }}
{{- end }}
{{- end }}

{{/* flask.deepMerge sets every key of .src into .dst, merging nested maps (unlike mergeOverwrite it keeps 0, false and "" from .src). */}}
{{- define "flask.deepMerge" -}}
{{- $dst := .dst }}
{{- range $k, $v := .src }}
{{- if and (kindIs "map" $v) (hasKey $dst $k) (kindIs "map" (index $dst $k)) }}
{{- include "flask.deepMerge" (dict "dst" (index $dst $k) "src" $v) }}
{{- else }}
{{- $_ := set $dst $k $v }}
{{- end }}
{{- end }}
{{- end }}

{{/* flask.workerGroup renders worker.defaults overlaid with one group as YAML (read back with fromYaml); pass (dict "ctx" $ "name" NAME "group" GROUP). */}}
{{- define "flask.workerGroup" -}}
{{- $g := deepCopy .ctx.Values.worker.defaults }}
{{- $_ := set $g "shutdownGrace" .ctx.Values.worker.shutdownGrace }}
{{- $_ := set $g "enabled" true }}
{{- $_ := set $g "mode" "deployment" }}
{{- include "flask.deepMerge" (dict "dst" $g "src" .group) }}
{{- $_ := set $g "name" .name }}
{{- toYaml $g }}
{{- end }}

{{/* flask.workerQueues is FLASK_QUEUES of a group: "default:20,mail". */}}
{{- define "flask.workerQueues" -}}
{{- $parts := list }}
{{- range .queues }}
{{- if .concurrency }}
{{- $parts = append $parts (printf "%s:%d" .name (int .concurrency)) }}
{{- else }}
{{- $parts = append $parts .name }}
{{- end }}
{{- end }}
{{- join "," $parts }}
{{- end }}

{{/* flask.workerTriggers: one KEDA trigger per queue of the group, for the chosen broker; pass (dict "ctx" $ "group" $g). */}}
{{- define "flask.workerTriggers" -}}
{{- $ctx := .ctx }}
{{- $as := .group.autoscaling }}
{{- range $i, $q := .group.queues }}
{{- if $i }}{{ "\n" }}{{ end }}
{{- with $q }}
{{- if eq $as.trigger "metrics-api" }}
{{- $m := $ctx.Values.worker.keda.metricsApi -}}
- type: metrics-api
  name: {{ printf "queue-%s" .name | quote }}
  metadata:
    url: {{ printf "%s/v1/stats/queues/%s" (include "flask.statsBaseURL" $ctx) .name | quote }}
    format: "json"
    valueLocation: {{ $m.valueLocation | quote }}
    targetValue: {{ $as.targetBacklogPerReplica | toString | quote }}
    activationTargetValue: {{ $as.activationBacklog | toString | quote }}
    authMode: "bearer"
    {{- if $m.unsafeSsl }}
    unsafeSsl: "true"
    {{- end }}
  authenticationRef:
    kind: TriggerAuthentication
    name: {{ include "flask.fullname" $ctx }}-metrics-api
{{- else if eq $ctx.Values.broker.type "nats" }}
{{- $n := $ctx.Values.broker.nats -}}
- type: nats-jetstream
  name: {{ printf "queue-%s" .name | quote }}
  metadata:
    natsServerMonitoringEndpoint: {{ required "broker.nats.monitoringEndpoint is required for KEDA" $n.monitoringEndpoint | quote }}
    account: {{ $n.account | quote }}
    stream: {{ $n.stream | quote }}
    consumer: {{ printf "flask-%s" .name | quote }}
    lagThreshold: {{ $as.targetBacklogPerReplica | toString | quote }}
    activationLagThreshold: {{ $as.activationBacklog | toString | quote }}
    useHttps: {{ $n.monitoringUseHttps | toString | quote }}
{{- else }}
{{- $s := $ctx.Values.broker.sqs -}}
- type: aws-sqs-queue
  name: {{ printf "queue-%s" .name | quote }}
  metadata:
    queueURL: {{ index $s.queueURLs .name | required (printf "broker.sqs.queueURLs.%s is required: the group drains queue %s" .name .name) | quote }}
    queueLength: {{ $as.targetBacklogPerReplica | toString | quote }}
    activationQueueLength: {{ $as.activationBacklog | toString | quote }}
    scaleOnInFlight: {{ $as.scaleOnInFlight | toString | quote }}
    awsRegion: {{ default $s.region $ctx.Values.worker.keda.awsRegion | required "worker.keda.awsRegion or broker.sqs.region is required for the aws-sqs-queue trigger" | quote }}
    {{- with $s.endpoint }}
    awsEndpoint: {{ . | quote }}
    {{- end }}
  {{- if ne $ctx.Values.worker.keda.podIdentityProvider "none" }}
  authenticationRef:
    kind: TriggerAuthentication
    name: {{ include "flask.fullname" $ctx }}-sqs
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* flask.statsBaseURL: where KEDA reaches the API, without a trailing slash. */}}
{{- define "flask.statsBaseURL" -}}
{{- if .Values.worker.keda.metricsApi.url }}
{{- trimSuffix "/" .Values.worker.keda.metricsApi.url }}
{{- else }}
{{- printf "http://%s-api.%s.svc.cluster.local:%d" (include "flask.fullname" .) .Release.Namespace (int .Values.api.service.port) }}
{{- end }}
{{- end }}

{{/* flask.usesMetricsApi is "true" when KEDA scales some enabled worker group on the API's stats endpoint. */}}
{{- define "flask.usesMetricsApi" -}}
{{- $ctx := . }}
{{- $uses := false }}
{{- if .Values.worker.keda.enabled }}
{{- range $name, $group := .Values.worker.groups }}
{{- $g := include "flask.workerGroup" (dict "ctx" $ctx "name" $name "group" ($group | default dict)) | fromYaml }}
{{- if and $group $g.enabled (eq $g.autoscaling.trigger "metrics-api") }}
{{- $uses = true }}
{{- end }}
{{- end }}
{{- end }}
{{- if $uses }}true{{ end }}
{{- end }}

{{/* flask.workerPodSpec: the pod of one worker group (Deployment or ScaledJob); pass (dict "ctx" $ "group" $g "selector" SELECTOR "restartPolicy" "Always"). */}}
{{- define "flask.workerPodSpec" -}}
{{- $ctx := .ctx }}
{{- $g := .group }}
{{- $w := $ctx.Values.worker }}
{{- $grace := include "flask.durationSeconds" $g.shutdownGrace | atoi -}}
serviceAccountName: {{ include "flask.serviceAccountName" (dict "ctx" $ctx "component" "worker") }}
automountServiceAccountToken: false
enableServiceLinks: false
restartPolicy: {{ .restartPolicy }}
# Above the drain: `flask-worker drain` waits at most FLASK_SHUTDOWN_GRACE + 15s.
terminationGracePeriodSeconds: {{ add $grace $w.terminationGraceMarginSeconds }}
securityContext:
  {{- include "flask.podSecurityContext" $ctx | nindent 2 }}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- include "flask.topologySpread" (dict "ctx" $ctx "selector" .selector) | nindent 0 }}
{{- with $g.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: worker
    image: {{ include "flask.image" (dict "ctx" $ctx "image" $w.image) }}
    imagePullPolicy: {{ $w.image.pullPolicy }}
    ports:
      - name: http
        containerPort: 8081
        protocol: TCP
    envFrom:
      - configMapRef:
          name: {{ include "flask.configName" $ctx }}
    env:
      {{- include "flask.commonEnv" (dict "ctx" $ctx "container" "worker") | nindent 6 }}
      - name: FLASK_HTTP_ADDR
        value: ":8081"
      - name: FLASK_QUEUES
        value: {{ include "flask.workerQueues" $g | quote }}
      - name: FLASK_CONCURRENCY
        value: {{ $g.concurrency | toString | quote }}
      - name: FLASK_SHUTDOWN_GRACE
        value: {{ $g.shutdownGrace | quote }}
      {{- if eq .restartPolicy "Never" }}
      - name: FLASK_EXIT_WHEN_IDLE
        value: {{ $g.job.exitWhenIdle | quote }}
      {{- end }}
      {{- if $w.httpSigningSecret.existingSecret }}
      - name: FLASK_HTTP_SIGNING_SECRET_FILE
        value: {{ printf "/etc/flask/signing/%s" $w.httpSigningSecret.key | quote }}
      {{- end }}
      {{- include "flask.envMap" (dict "env" $w.env "indent" 6) }}
      {{- include "flask.envMap" (dict "env" ($g.env | default dict) "indent" 6) }}
    lifecycle:
      preStop:
        exec:
          command: ["/usr/local/bin/flask-worker", "drain"]
    startupProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 2
      failureThreshold: 30
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 10
      timeoutSeconds: 2
      failureThreshold: 3
    readinessProbe:
      httpGet:
        path: /readyz
        port: http
      periodSeconds: 5
      timeoutSeconds: 2
      failureThreshold: 2
    resources:
      {{- toYaml $g.resources | nindent 6 }}
    securityContext:
      {{- include "flask.containerSecurityContext" $ctx | nindent 6 }}
    volumeMounts:
      {{- include "flask.commonVolumeMounts" $ctx | nindent 6 }}
      {{- if $w.httpSigningSecret.existingSecret }}
      - name: signing
        mountPath: /etc/flask/signing
        readOnly: true
      {{- end }}
volumes:
  {{- include "flask.commonVolumes" $ctx | nindent 2 }}
  {{- with $w.httpSigningSecret.existingSecret }}
  - name: signing
    secret:
      secretName: {{ . }}
  {{- end }}
{{- end }}

{{/* flask.np.egressBase: egress to DNS and the database; pass $. */}}
{{- define "flask.np.egressBase" -}}
{{- $np := .Values.networkPolicy -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  to:
    {{- if $np.dnsTo }}
    {{- toYaml $np.dnsTo | nindent 4 }}
    {{- else }}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
    {{- end }}
- ports:
    - port: {{ .Values.database.port }}
      protocol: TCP
  {{- with $np.databaseTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{/* flask.np.egressBroker: egress to the broker (NATS client port, or HTTPS for SQS); pass $. */}}
{{- define "flask.np.egressBroker" -}}
{{- $np := .Values.networkPolicy -}}
- ports:
    - port: {{ ternary $np.natsPort 443 (eq .Values.broker.type "nats") }}
      protocol: TCP
  {{- with $np.brokerTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if and (eq .Values.broker.type "sqs") $np.podIdentityAgent }}
# The EKS Pod Identity agent on the node hands out the AWS credentials.
- ports:
    - port: 80
      protocol: TCP
  to:
    - ipBlock:
        cidr: 169.254.170.23/32
    - ipBlock:
        cidr: fd00:ec2::23/128
{{- end }}
{{- end }}
