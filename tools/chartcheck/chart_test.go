package chartcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	repoRoot = filepath.Join("..", "..")
	chartDir = filepath.Join(repoRoot, "deploy", "helm", "flask")
)

var (
	toolsOnce sync.Once
	toolsVal  Tools
	toolsErr  error
)

// tools returns the located tools or fails the test (never skips).
func tools(t *testing.T) Tools {
	t.Helper()
	toolsOnce.Do(func() { toolsVal, toolsErr = ToolsFromEnv() })
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsVal
}

// ciValues lists the chart's example values files; the five the chart
// promises must be there.
func ciValues(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[strings.TrimSuffix(filepath.Base(f), "-values.yaml")] = f
	}
	for _, want := range []string{"minimal", "nats", "sqs", "production", "terraform"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("ci/%s-values.yaml is missing", want)
		}
	}
	return out
}

type rendering struct {
	raw  string
	objs []Object
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]*rendering{}
)

// render renders the chart with one ci values file (cached per test binary).
func render(t *testing.T, name string) *rendering {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if r, ok := renderCache[name]; ok {
		return r
	}
	file := ciValues(t)[name]
	raw, err := tools(t).Template(chartDir, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendering{raw: raw, objs: objs}
	renderCache[name] = r
	return r
}

// renderWith renders with the chart defaults plus --set pairs.
func renderWith(t *testing.T, files []string, sets ...string) []Object {
	t.Helper()
	raw, err := tools(t).Template(chartDir, files, sets...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []Object, kind, name string) Object {
	for _, o := range objs {
		if o.Kind() == kind && o.Name() == name {
			return o
		}
	}
	return nil
}

func mustFind(t *testing.T, objs []Object, kind, name string) Object {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		var have []string
		for _, x := range objs {
			have = append(have, x.Kind()+"/"+x.Name())
		}
		sort.Strings(have)
		t.Fatalf("no %s %s rendered; have %s", kind, name, strings.Join(have, ", "))
	}
	return o
}

func ofKind(objs []Object, kind string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

var summaryRE = regexp.MustCompile(`Summary: (\d+) resources? found in 1 file - Valid: (\d+), Invalid: (\d+), Errors: (\d+), Skipped: (\d+)`)

// TestCIValuesValidateStrictly renders every ci/*-values.yaml and validates
// each object with kubeconform against the official schemas: every object
// is checked (none skipped for want of a schema) and all are valid.
func TestCIValuesValidateStrictly(t *testing.T) {
	for name := range ciValues(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := render(t, name)
			out, err := tools(t).Validate(r.raw)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			m := summaryRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no kubeconform summary in:\n%s", out)
			}
			if n, _ := strconv.Atoi(m[2]); n != len(r.objs) || m[1] != m[2] || m[5] != "0" {
				t.Fatalf("kubeconform validated %s of %d objects (%s found, %s skipped):\n%s", m[2], len(r.objs), m[1], m[5], out)
			}
		})
	}
}

// copyChart copies the chart into a temp dir so a test can break it.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "flask")
	err := filepath.WalkDir(chartDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestMisspelledFieldFailsValidation proves the validation is strict: one
// misspelled field (or wrong apiVersion) in a template makes kubeconform
// fail and name it, while the untouched copy passes.
func TestMisspelledFieldFailsValidation(t *testing.T) {
	cases := []struct {
		name, file, from, to, values string
		want                         []string
	}{
		{"unchanged", "", "", "", "production", []string{""}},
		{"container securityContext", "templates/_helpers.tpl", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "minimal", []string{"readOnlyRootFileSystem"}},
		{"ScaledObject spec", "templates/worker/scaledobject.yaml", "pollingInterval:", "pollingInterwal:", "nats", []string{"pollingInterwal"}},
		{"ScaledJob pod template", "templates/_helpers.tpl", "enableServiceLinks: false\nrestartPolicy", "enableServiceLink: false\nrestartPolicy", "sqs", []string{"ScaledJob flask-worker-reports", "enableServiceLink"}},
		{"TriggerAuthentication", "templates/worker/triggerauthentication.yaml", "identityOwner:", "identityOwnr:", "sqs", []string{"identityOwnr"}},
		{"HPA metric target", "templates/api/hpa.yaml", "averageUtilization:", "averageUtilisation:", "minimal", []string{"averageUtilisation"}},
		{"ExternalSecret", "templates/externalsecret.yaml", "refreshInterval:", "refreshIntervall:", "terraform", []string{"refreshIntervall"}},
		{"ServiceMonitor", "templates/servicemonitor.yaml", "interval:", "intervall:", "nats", []string{"intervall"}},
		{"NetworkPolicy", "templates/networkpolicy.yaml", "policyTypes:", "policyType:", "minimal", []string{"policyType"}},
		{"apiVersion with no schema", "templates/api/deployment.yaml", "apiVersion: apps/v1", "apiVersion: apps/v2", "minimal", []string{"Deployment flask-api", "could not find schema"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := copyChart(t)
			if c.file != "" {
				path := filepath.Join(dir, c.file)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), c.from) {
					t.Fatalf("%s does not contain %q: the test is out of date", c.file, c.from)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := tools(t).Template(dir, []string{ciValues(t)[c.values]})
			if err != nil {
				t.Fatal(err)
			}
			out, err := tools(t).Validate(raw)
			if c.file == "" {
				if err != nil {
					t.Fatalf("the unchanged chart must validate: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("kubeconform accepted %q in %s:\n%s", c.to, c.file, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Fatalf("kubeconform failed without naming %q:\n%s", w, out)
				}
			}
		})
	}
}
