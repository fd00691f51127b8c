{{- define "common.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "common.image" -}}{{ .repository }}:{{ .tag }}{{- end -}}
