// Command kubeschemas writes strict, standalone JSON schemas for kubeconform
// from the OpenAPI document in the k8s.io/kubernetes module and from the
// CustomResourceDefinitions in the KEDA, External Secrets and Prometheus
// Operator modules, all read from the Go module cache (go mod download), so
// the chart is validated offline against the official definitions.
//
// Files are named for kubeconform's -schema-location template
// "DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json": deployment-apps-v1.json,
// scaledobject-keda-v1alpha1.json, service-v1.json.
//
// Strict means: every object that lists its properties rejects any other
// (additionalProperties false) unless the definition says it preserves
// unknown fields, so a misspelled field fails validation.
//
// Usage:
//
//	kubeschemas -out DIR -kubernetes v1.34.4 -keda v2.21.0 -external-secrets v1.3.2 -prometheus-operator v0.85.0
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubeschemas:", err)
		os.Exit(1)
	}
}

// crdSource is a module holding CRDs and the files to read from it.
type crdSource struct {
	module, version string
	globs           []string
}

func run(args []string) error {
	fs := flag.NewFlagSet("kubeschemas", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the schemas to (required)")
	k8s := fs.String("kubernetes", "", "k8s.io/kubernetes module version, e.g. v1.34.4 (required)")
	keda := fs.String("keda", "", "github.com/kedacore/keda/v2 version (required)")
	eso := fs.String("external-secrets", "", "github.com/external-secrets/external-secrets version (required)")
	promop := fs.String("prometheus-operator", "", "github.com/prometheus-operator/prometheus-operator version (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *k8s == "" || *keda == "" || *eso == "" || *promop == "" {
		return errors.New("-out, -kubernetes, -keda, -external-secrets and -prometheus-operator are required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	k8sDir, err := moduleDir("k8s.io/kubernetes", *k8s)
	if err != nil {
		return err
	}
	swagger, err := readSwagger(filepath.Join(k8sDir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return err
	}
	n, err := writeBuiltins(*out, swagger)
	if err != nil {
		return err
	}

	sources := []crdSource{
		{"github.com/kedacore/keda/v2", *keda, []string{"config/crd/bases/*.yaml"}},
		{"github.com/external-secrets/external-secrets", *eso, []string{"config/crds/bases/external-secrets.io_*.yaml"}},
		{"github.com/prometheus-operator/prometheus-operator", *promop, []string{"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml", "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml", "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"}},
	}
	objectMeta := swagger.Definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
	if objectMeta == nil {
		return errors.New("swagger.json has no ObjectMeta definition")
	}
	for _, src := range sources {
		dir, err := moduleDir(src.module, src.version)
		if err != nil {
			return err
		}
		var files []string
		for _, g := range src.globs {
			m, err := filepath.Glob(filepath.Join(dir, g))
			if err != nil {
				return err
			}
			files = append(files, m...)
		}
		if len(files) == 0 {
			return fmt.Errorf("%s@%s: no CRDs under %v", src.module, src.version, src.globs)
		}
		for _, f := range files {
			c, err := writeCRD(*out, f, swagger)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			n += c
		}
	}
	fmt.Printf("kubeschemas: %d schemas in %s\n", n, *out)
	return nil
}

// moduleDir downloads (or finds in the module cache) one module version and
// returns its directory.
func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(outb, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", path, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %s", path, version, outb)
	}
	return info.Dir, nil
}

// schema is one JSON schema node.
type schema = map[string]any

type swaggerDoc struct {
	Definitions map[string]schema `json:"definitions"`
}

func readSwagger(path string) (*swaggerDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc swaggerDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("%s: no definitions", path)
	}
	return &doc, nil
}

// fileName is kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json.
func fileName(group, version, kind string) string {
	suffix := "-" + strings.ToLower(version)
	if group != "" {
		suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + suffix
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// writeBuiltins writes one schema per top-level kind of the OpenAPI document.
func writeBuiltins(out string, doc *swaggerDoc) (int, error) {
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	written := map[string]string{}
	n := 0
	for _, name := range names {
		def := doc.Definitions[name]
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		if len(gvks) != 1 {
			continue // lists of kinds (DeleteOptions, WatchEvent) are not objects one writes
		}
		gvk := gvks[0].(map[string]any)
		group, _ := gvk["group"].(string)
		version, _ := gvk["version"].(string)
		kind, _ := gvk["kind"].(string)
		file := fileName(group, version, kind)
		// Two groups can share a first label (policy/v1 and policy.x/v1):
		// keep the first and never overwrite silently.
		if prev, dup := written[file]; dup {
			return n, fmt.Errorf("%s and %s both map to %s", prev, name, file)
		}
		written[file] = name

		defs := map[string]any{}
		collectRefs(def, doc.Definitions, defs)
		root := strictCopy(def).(schema)
		apiVersion := version
		if group != "" {
			apiVersion = group + "/" + version
		}
		pinKind(root, apiVersion, kind)
		strictDefs := map[string]any{}
		for k, v := range defs {
			strictDefs[k] = strictCopy(v)
		}
		root["definitions"] = strictDefs
		if err := writeJSON(filepath.Join(out, file), root); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// collectRefs adds every definition reachable from node to into.
func collectRefs(node any, all map[string]schema, into map[string]any) {
	switch v := node.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, seen := into[name]; !seen {
				if def, ok := all[name]; ok {
					into[name] = def
					collectRefs(def, all, into)
				}
			}
		}
		for _, child := range v {
			collectRefs(child, all, into)
		}
	case []any:
		for _, child := range v {
			collectRefs(child, all, into)
		}
	}
}

// Kubernetes types whose JSON form is wider than their OpenAPI type.
var special = map[string]schema{
	"int-or-string": {"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}},
	"quantity":      {"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
}

// strictCopy deep-copies a schema node, closing every object that lists
// its properties, widening int-or-string and quantities, honouring nullable,
// and dropping "format" (Kubernetes formats such as int32 are not JSON
// Schema formats).
func strictCopy(node any) any {
	switch v := node.(type) {
	case map[string]any:
		if v["format"] == "int-or-string" || v["x-kubernetes-int-or-string"] == true {
			return cloneSpecial("int-or-string", v)
		}
		if ref, _ := v["$ref"].(string); ref == "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity" {
			return cloneSpecial("quantity", v)
		}
		out := make(map[string]any, len(v)+1)
		for k, child := range v {
			switch k {
			case "format", "x-kubernetes-group-version-kind":
				continue
			case "properties", "definitions", "patternProperties":
				m := map[string]any{}
				for name, s := range child.(map[string]any) {
					m[name] = strictCopy(s)
				}
				out[k] = m
			default:
				out[k] = strictCopy(child)
			}
		}
		if _, has := v["properties"]; has {
			if _, set := v["additionalProperties"]; !set && v["x-kubernetes-preserve-unknown-fields"] != true {
				out["additionalProperties"] = false
			}
		}
		if v["nullable"] == true {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, child := range v {
			out[i] = strictCopy(child)
		}
		return out
	default:
		return v
	}
}

func cloneSpecial(name string, orig map[string]any) schema {
	out := schema{}
	for k, v := range special[name] {
		out[k] = v
	}
	if d, ok := orig["description"]; ok {
		out["description"] = d
	}
	return out
}

// pinKind makes apiVersion and kind required and exact, so a typo in either
// is an error rather than a different schema.
func pinKind(root schema, apiVersion, kind string) {
	props, _ := root["properties"].(map[string]any)
	if props == nil {
		return
	}
	props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
	props["kind"] = map[string]any{"type": "string", "enum": []any{kind}}
	req, _ := root["required"].([]any)
	for _, r := range []string{"apiVersion", "kind"} {
		found := false
		for _, x := range req {
			if x == r {
				found = true
			}
		}
		if !found {
			req = append(req, r)
		}
	}
	root["required"] = req
}

type crd struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name   string `json:"name"`
			Served bool   `json:"served"`
			Schema struct {
				OpenAPIV3Schema schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// writeCRD writes one schema per served version of a CRD; metadata is
// checked against the real ObjectMeta.
func writeCRD(out, path string, doc *swaggerDoc) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var c crd
	if err := yaml.Unmarshal(b, &c); err != nil {
		return 0, err
	}
	if c.Spec.Group == "" || c.Spec.Names.Kind == "" {
		return 0, errors.New("not a CustomResourceDefinition")
	}
	n := 0
	for _, v := range c.Spec.Versions {
		if !v.Served || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		root := strictCopy(v.Schema.OpenAPIV3Schema).(schema)
		props, _ := root["properties"].(map[string]any)
		if props == nil {
			return n, fmt.Errorf("version %s has no properties", v.Name)
		}
		metaRef := "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
		props["metadata"] = map[string]any{"$ref": "#/definitions/" + metaRef}
		defs := map[string]any{}
		collectRefs(map[string]any{"$ref": "#/definitions/" + metaRef}, doc.Definitions, defs)
		strictDefs := map[string]any{}
		for k, d := range defs {
			strictDefs[k] = strictCopy(d)
		}
		root["definitions"] = strictDefs
		pinKind(root, c.Spec.Group+"/"+v.Name, c.Spec.Names.Kind)
		if err := writeJSON(filepath.Join(out, fileName(c.Spec.Group, v.Name, c.Spec.Names.Kind)), root); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
