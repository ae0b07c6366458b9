package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIAMPolicies: the example policies of the agents' roles are valid
// policy documents and grant no wildcard action.
func TestIAMPolicies(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/jenkins/iam/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no policies in deploy/jenkins/iam (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version   string
			Statement []struct {
				Sid      string
				Effect   string
				Action   any
				Resource any
			}
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
			t.Errorf("%s: want Version 2012-10-17 and statements", f)
		}
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range list(st.Action) {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s %s: Allow of wildcard action %q", f, st.Sid, a)
				}
			}
			if len(list(st.Action)) == 0 || (st.Resource == nil) {
				t.Errorf("%s %s: Allow needs Action and Resource", f, st.Sid)
			}
		}
	}
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
