package chartcheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// terraformHelmValuesPaths reads the key paths of output "helm_values" in
// the platform module: nested objects become dotted paths; a value that is
// an expression or an empty object is a leaf.
func terraformHelmValuesPaths(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "deploy", "terraform", "modules", "platform", "outputs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assign := regexp.MustCompile(`^\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$`)
	paths := map[string]bool{}
	var stack []string
	in, depth := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !in {
			if strings.HasPrefix(line, `output "helm_values"`) {
				in = true
			}
			continue
		}
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		trim := strings.TrimSpace(line)
		if trim == "" {
			continue
		}
		if trim == "}" {
			if depth == 0 {
				break // end of the output block
			}
			depth--
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		m := assign.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, rhs := strings.Trim(m[1], `"`), m[2]
		if key == "description" && depth == 0 {
			continue
		}
		if key == "value" && depth == 0 && rhs == "{" {
			depth++
			stack = append(stack, "")
			continue
		}
		prefix := strings.Join(append(stack[1:], key), ".")
		switch {
		case rhs == "{":
			depth++
			stack = append(stack, key)
		case strings.HasPrefix(rhs, "{") && strings.HasSuffix(rhs, "}"):
			inner := strings.TrimSpace(rhs[1 : len(rhs)-1])
			if inner == "" {
				paths[prefix] = true
				continue
			}
			for _, part := range strings.Split(inner, ",") {
				k, _, _ := strings.Cut(part, "=")
				paths[prefix+"."+strings.Trim(strings.TrimSpace(k), `"`)] = true
			}
		default:
			paths[prefix] = true
		}
	}
	if len(paths) < 10 {
		t.Fatalf("read only %d paths from output helm_values: the parser is out of date", len(paths))
	}
	return paths
}

func flatten(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		out[prefix] = true
		return
	}
	if prefix != "" {
		out[prefix] = true
	}
	for k, child := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(p, child, out)
	}
}

// TestTerraformValuesMirrorTheContract: ci/terraform-values.yaml has exactly
// the keys of Terraform's helm_values output, so that its rendering (the
// other tests) proves the chart takes what Terraform gives.
func TestTerraformValuesMirrorTheContract(t *testing.T) {
	tf := terraformHelmValuesPaths(t)
	b, err := os.ReadFile(ciValues(t)["terraform"])
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(b, &vals); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	flatten("", vals, have)
	var missing, extra []string
	for p := range tf {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	for p := range have {
		covered := false
		for q := range tf {
			if p == q || strings.HasPrefix(p, q+".") || strings.HasPrefix(q, p+".") {
				covered = true
				break
			}
		}
		if !covered {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("ci/terraform-values.yaml differs from output helm_values: missing %v, not in Terraform %v", missing, extra)
	}
}

func writeValues(t *testing.T, doc string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestValuesRejected: values.schema.json refuses unknown keys and wrong
// types (also inside Terraform's part), and the templates refuse what the
// schema cannot see, each with a message naming the value.
func TestValuesRejected(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown top-level key", "replicaCount: 3\n", "additional properties 'replicaCount'"},
		{"misspelled database key", "database:\n  existingSecrets: x\n", "additional properties 'existingSecrets'"},
		{"database port as string", "database:\n  port: \"5432\"\n", "/database/port"},
		{"service account create as string", "serviceAccount:\n  api:\n    create: \"true\"\n", "/serviceAccount/api/create"},
		{"unknown broker", "broker:\n  type: kafka\n", "/broker/type"},
		{"keda enabled as string", "worker:\n  keda:\n    enabled: \"yes\"\n", "/worker/keda/enabled"},
		{"unknown KEDA knob", "worker:\n  groups:\n    default:\n      autoscaling:\n        pollingIntervall: 5\n", "additional properties 'pollingIntervall'"},
		{"negative minReplicaCount", "worker:\n  groups:\n    default:\n      autoscaling:\n        minReplicaCount: -1\n", "minReplicaCount"},
		{"bad queue name", "worker:\n  groups:\n    default:\n      queues:\n        - name: Bad Queue\n", "/worker/groups/default"},
		{"bad group name", "worker:\n  groups:\n    Mail_Group:\n      queues:\n        - name: mail\n", "Mail_Group"},
		{"annotation not a string", "ingress:\n  annotations:\n    a: 1\n", "/ingress/annotations/a"},
		{"latest tag", "api:\n  image:\n    tag: latest\n", "/api/image/tag"},
		{"pull Always", "worker:\n  image:\n    pullPolicy: Always\n", "/worker/image/pullPolicy"},
		{"grace margin under the drain margin", "worker:\n  terminationGraceMarginSeconds: 10\n", "/worker/terminationGraceMarginSeconds"},
		{"bad duration", "worker:\n  shutdownGrace: 30 seconds\n", "/worker/shutdownGrace"},
		{"queue URL not a URL", "broker:\n  sqs:\n    queueURLs:\n      default: flask-default\n", "/broker/sqs/queueURLs/default"},
		{"secret in env", "api:\n  env:\n    FLASK_HTTP_SIGNING_SECRET: x\n", "looks like a secret"},
		{"OTLP headers in env", "worker:\n  env:\n    OTEL_EXPORTER_OTLP_HEADERS: authorization=Bearer x\n", "looks like a secret"},
		{"non-FLASK env", "worker:\n  env:\n    PATH: /tmp\n", "'PATH' does not match pattern"},
		{"SQS queue without URL", "broker:\n  type: sqs\n  sqs:\n    region: eu-west-1\n    queuePrefix: flask\n", "broker.sqs.queueURLs.default is required"},
		{"SQS without region", "broker:\n  type: sqs\n  sqs:\n    queueURLs:\n      default: https://sqs.eu-west-1.amazonaws.com/1/flask-default\n", "broker.sqs.region is required"},
		{"SQS queue names with different prefixes", "broker:\n  type: sqs\n  sqs:\n    region: eu-west-1\n    queueURLs:\n      default: https://sqs.eu-west-1.amazonaws.com/1/a-default\n      mail: https://sqs.eu-west-1.amazonaws.com/1/b-mail\n", "different prefixes"},
		{"queue prefix with the dash", "broker:\n  sqs:\n    queuePrefix: flask-prod-\n", "/broker/sqs/queuePrefix"},
		{"queue URL without the dash", "broker:\n  type: sqs\n  sqs:\n    region: eu-west-1\n    queueURLs:\n      default: https://sqs.eu-west-1.amazonaws.com/1/flaskdefault\n", "does not end with"},
		{"ingress without host", "ingress:\n  enabled: true\n", "ingress.host is required"},
		{"ScaledJob without KEDA", "worker:\n  keda:\n    enabled: false\n  groups:\n    default:\n      mode: job\n", "mode job needs worker.keda.enabled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := tools(t).Template(chartDir, []string{writeValues(t, c.doc)})
			if err == nil {
				t.Fatalf("helm template accepted:\n%s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not name %q:\n%v", c.want, err)
			}
		})
	}
}

// TestEveryValueDocumented: each value of values.yaml has a "# --" comment,
// itself or on an enclosing key (keys that only group others need none), and each commented key is listed in the
// chart's README.md.
func TestEveryValueDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`^( *)([A-Za-z0-9_.-]+):`)
	type frame struct {
		indent     int
		key        string
		documented bool
	}
	var stack []frame
	commented := false
	count := 0
	lines := strings.Split(string(b), "\n")
	// isLeaf: a key with an inline value, or whose next line is a list item;
	// other keys only group others.
	isLeaf := func(i int, line string) bool {
		_, rest, _ := strings.Cut(line, ":")
		if rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "#") {
			return true
		}
		for _, next := range lines[i+1:] {
			if n := strings.TrimSpace(next); n != "" && !strings.HasPrefix(n, "#") {
				return strings.HasPrefix(n, "- ")
			}
		}
		return false
	}
	for i, line := range lines {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "# --") {
			commented = true
			continue
		}
		if trim == "" || strings.HasPrefix(trim, "#") || strings.HasPrefix(trim, "- ") {
			continue
		}
		m := keyRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		var path []string
		inherited := false
		for _, f := range stack {
			path = append(path, f.key)
			inherited = inherited || f.documented
		}
		path = append(path, m[2])
		p := strings.Join(path, ".")
		if !commented && !inherited && isLeaf(i, line) {
			t.Errorf("values.yaml:%d: %s has no # -- comment", i+1, p)
		}
		if commented {
			count++
			if !strings.Contains(string(readme), "`"+p+"`") {
				t.Errorf("values.yaml:%d: %s is not listed in README.md", i+1, p)
			}
		}
		stack = append(stack, frame{indent, m[2], commented})
		commented = false
	}
	if count < 100 {
		t.Fatalf("only %d documented values found: the parser is out of date", count)
	}
}
