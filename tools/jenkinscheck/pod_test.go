package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const podsDir = "../../deploy/jenkins/pods"

// TestRepositoryPods: every pod template the Jenkinsfile can use passes.
func TestRepositoryPods(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(podsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pod templates in %s (%v)", podsDir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if problems := CheckPod(data); len(problems) > 0 {
			t.Errorf("%s:\n  %s", f, strings.Join(problems, "\n  "))
		}
	}
}

// TestBrokenPods: each edit of a good template makes the check fail with
// the message that names the problem.
func TestBrokenPods(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(podsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	goPod, imagesPod := read("go.yaml"), read("images.yaml")
	cases := []struct {
		name, base, old, new, want string
	}{
		{"latest tag", goPod, "golang:1.26.11-bookworm", "golang:latest", "uses latest"},
		{"no tag", goPod, "golang:1.26.11-bookworm", "golang", "is not pinned"},
		{"no registry", goPod, "docker.io/library/golang", "golang", "is not pinned"},
		{"tag without version", goPod, "golang:1.26.11-bookworm", "golang:bookworm", "is not pinned"},
		{"pull always", goPod, "    command: [sleep]\n", "    imagePullPolicy: Always\n    command: [sleep]\n", "imagePullPolicy Always"},
		{"root user", goPod, "      runAsUser: 1000\n      allowPrivilegeEscalation: false\n      readOnlyRootFilesystem: true\n      capabilities:\n        drop: [ALL]\n    resources:\n      requests: {cpu: \"2\"", "      runAsUser: 0\n      allowPrivilegeEscalation: false\n      readOnlyRootFilesystem: true\n      capabilities:\n        drop: [ALL]\n    resources:\n      requests: {cpu: \"2\"", "container build: must run as non-root"},
		{"token mounted", goPod, "automountServiceAccountToken: false", "automountServiceAccountToken: true", "automountServiceAccountToken must be false"},
		{"default account", goPod, "serviceAccountName: jenkins-agent", "serviceAccountName: default", "not default"},
		{"host network", goPod, "  automountServiceAccountToken: false\n", "  automountServiceAccountToken: false\n  hostNetwork: true\n", "host namespaces"},
		{"no seccomp", goPod, "type: RuntimeDefault", "type: Unconfined", "seccompProfile.type must be RuntimeDefault"},
		{"escalation", goPod, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation must be false"},
		{"caps added", goPod, "        drop: [ALL]\n    resources:\n      requests: {cpu: \"2\"", "        drop: [ALL]\n        add: [NET_ADMIN]\n    resources:\n      requests: {cpu: \"2\"", "adds capabilities [NET_ADMIN]"},
		{"caps kept", goPod, "drop: [ALL]", "drop: [NET_RAW]", "drop must include ALL"},
		{"no limits", goPod, "      limits: {memory: 8Gi}\n", "", "resources need"},
		{"docker socket", goPod, "    - {name: tmp, mountPath: /tmp}\n", "    - {name: tmp, mountPath: /tmp}\n    - {name: sock, mountPath: /var/run/docker.sock}\n", "no Docker socket"},
		{"host path", goPod, "  - {name: tmp, emptyDir: {}}\n", "  - {name: tmp, hostPath: {path: /tmp}}\n", "hostPath volumes are not allowed"},
		{"no jnlp", goPod, "  - name: jnlp\n", "  - name: agent\n", `container "jnlp" is required`},
		{"root without user namespace", imagesPod, "\n  hostUsers: false\n", "\n  hostUsers: true\n", "user namespace"},
		{"root not named", imagesPod, "flask.ci/root-containers: build", "flask.ci/root-containers: other", "container build: must run as non-root"},
		{"privileged", imagesPod, "      runAsUser: 0\n", "      runAsUser: 0\n      privileged: true\n", "privileged containers are not allowed"},
		{"two documents", goPod, "apiVersion: v1\n", "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\n", "more than one YAML document"},
		{"invalid yaml", goPod, "  containers:\n", "  containers: [\n", "invalid YAML"},
		{"not a pod", goPod, "kind: Pod", "kind: Deployment", "kind Pod expected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(tc.base, tc.old) {
				t.Fatalf("fixture edit %q not found in the template", tc.old)
			}
			broken := strings.Replace(tc.base, tc.old, tc.new, 1)
			problems := CheckPod([]byte(broken))
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Fatalf("want a problem containing %q, got %q", tc.want, problems)
		})
	}
}
