package chartcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object, decoded from YAML.
type Object map[string]any

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// Name returns metadata.name.
func (o Object) Name() string { s, _ := Get(o, "metadata", "name").(string); return s }

// Get walks maps by key and lists by int index; it returns nil when a step
// is missing.
func Get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if o, ok2 := v.(Object); ok2 {
					m = o
				} else {
					return nil
				}
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		default:
			return nil
		}
	}
	return v
}

// Tools locates the binaries and schemas the checks use.
type Tools struct {
	// Helm is the helm binary.
	Helm string
	// Kubeconform is the kubeconform binary.
	Kubeconform string
	// Schemas is the directory of strict JSON schemas written by cmd/kubeschemas.
	Schemas string
	// KubeVersion is the Kubernetes version rendered for (helm --kube-version).
	KubeVersion string
}

// ToolsFromEnv reads CHARTCHECK_HELM, CHARTCHECK_KUBECONFORM,
// CHARTCHECK_SCHEMAS and CHARTCHECK_KUBE_VERSION, as scripts/chart-check.sh
// sets them. Helm and kubeconform default to
// ${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}/bin. It fails, naming the
// script, when something is missing: the checks never pass without their tools.
func ToolsFromEnv() (Tools, error) {
	dir := os.Getenv("FLASK_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "flask", "tools")
	}
	t := Tools{
		Helm:        envOr("CHARTCHECK_HELM", filepath.Join(dir, "bin", "helm")),
		Kubeconform: envOr("CHARTCHECK_KUBECONFORM", filepath.Join(dir, "bin", "kubeconform")),
		Schemas:     os.Getenv("CHARTCHECK_SCHEMAS"),
		KubeVersion: envOr("CHARTCHECK_KUBE_VERSION", "1.34.4"),
	}
	var missing []string
	for _, f := range []string{t.Helm, t.Kubeconform} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if t.Schemas == "" {
		missing = append(missing, "CHARTCHECK_SCHEMAS (schema directory)")
	} else if _, err := os.Stat(filepath.Join(t.Schemas, "deployment-apps-v1.json")); err != nil {
		missing = append(missing, t.Schemas+"/deployment-apps-v1.json")
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("missing %s: run scripts/chart-check.sh, which installs the tools and writes the schemas", strings.Join(missing, ", "))
	}
	return t, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Template runs helm template on the chart with value files and --set
// pairs, and returns the raw output. Release "flask", namespace "flask".
func (t Tools) Template(chart string, valueFiles []string, sets ...string) (string, error) {
	args := []string{"template", "flask", chart, "--namespace", "flask", "--kube-version", t.KubeVersion}
	for _, f := range valueFiles {
		args = append(args, "-f", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(t.Helm, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Decode splits helm output into objects.
func Decode(out string) ([]Object, error) {
	var objs []Object
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o Object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("decode %q: %w", firstLine(doc), err)
		}
		if o == nil {
			continue
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return nil, errors.New("helm rendered no objects")
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Validate runs kubeconform -strict over rendered output against the local
// schemas only (no network). The file name ends in .yaml: kubeconform
// silently skips any other.
func (t Tools) Validate(rendered string) (string, error) {
	dir, err := os.MkdirTemp("", "chartcheck-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "rendered.yaml")
	if err := os.WriteFile(file, []byte(rendered), 0o600); err != nil {
		return "", err
	}
	loc := filepath.Join(t.Schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json")
	cmd := exec.Command(t.Kubeconform, "-strict", "-summary", "-output", "text",
		"-schema-location", loc, file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubeconform: %w", err)
	}
	return string(out), nil
}
