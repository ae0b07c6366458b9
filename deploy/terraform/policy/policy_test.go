package policy

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTree runs every rule over the real configuration in deploy/terraform.
func TestTree(t *testing.T) {
	t.Parallel()

	r, err := Check("..")
	if err != nil {
		t.Fatalf("check tree: %v", err)
	}
	for _, f := range r.Findings {
		t.Errorf("%s", f)
	}
	// A rule that looked at nothing proves nothing: the tree must contain
	// what each rule guards.
	for _, rule := range Rules {
		if r.Checked[rule.ID] == 0 {
			t.Errorf("rule %s checked no block in deploy/terraform", rule.ID)
		}
	}
	t.Logf("read %d modules; blocks checked per rule: %v", r.Modules, r.Checked)
	if r.Modules < 10 {
		t.Errorf("read %d module directories, want the modules, envs and bootstrap (>= 10)", r.Modules)
	}
}

// TestGoodFixture checks that compliant variants of every guarded construct
// pass, so the rules do not cry wolf.
func TestGoodFixture(t *testing.T) {
	t.Parallel()

	r, err := Check(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, f := range r.Findings {
		t.Errorf("unexpected finding: %s", f)
	}
}

// TestRulesCatchViolations runs each rule's fixture, which breaks that rule
// (and only that rule) a known number of times in different ways.
func TestRulesCatchViolations(t *testing.T) {
	t.Parallel()

	tests := []struct {
		rule string
		want int
		// mention is a fragment each finding's address must contain, in order.
		mention []string
	}{
		{"sqs-kms", 3, []string{"plain", "sqs_owned", "null_key"}},
		{"storage-kms", 8, []string{"not_encrypted", "aws_managed_key", "off", "no_key", "default_volumes", "no_template", "bare", "bare"}},
		{"logs-kms", 2, []string{"plain", "null_key"}},
		{"ecr-repository", 5, []string{"mutable", "unencrypted", "aes", "aes", "from_var"}},
		{"kms-rotation", 3, []string{"unset", "off", "from_var"}},
		{"sg-open-ingress", 7, []string{"ssh", "dynamic_v6", "all_traffic", "mixed_tuple", "via_variable", "web_range", "udp_443"}},
		{"rds-private", 4, []string{"implicit", "public", "from_var", "unresolved"}},
		{"app-iam-actions", 6, []string{"data.aws_iam_policy_document.api", "worker", "keda", "worker_extra", "api_dynamic", "keda_var"}},
		{"iam-policy-document", 3, []string{"inline_json", "heredoc", "with_inline"}},
	}
	if len(tests) != len(Rules) {
		t.Fatalf("%d fixtures for %d rules: every rule needs a fixture that breaks it", len(tests), len(Rules))
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()

			r, err := Check(filepath.Join("testdata", tt.rule))
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			var got []Finding
			for _, f := range r.Findings {
				if f.Rule != tt.rule {
					t.Errorf("fixture breaks another rule too: %s", f)
					continue
				}
				got = append(got, f)
			}
			if len(got) != tt.want {
				for _, f := range got {
					t.Logf("%s", f)
				}
				t.Fatalf("got %d findings, want %d", len(got), tt.want)
			}
			for i, f := range got {
				if !strings.Contains(f.Address, tt.mention[i]) {
					t.Errorf("finding %d is %s, want it about %q", i, f, tt.mention[i])
				}
				if f.Line == 0 || f.File == "" || f.Message == "" {
					t.Errorf("finding %d lacks a location or message: %+v", i, f)
				}
			}
		})
	}
}

func TestIsOpenCIDR(t *testing.T) {
	t.Parallel()

	for cidr, want := range map[string]bool{
		"0.0.0.0/0":   true,
		"::/0":        true,
		" 0.0.0.0/0":  true,
		"10.0.0.0/16": false,
		"0.0.0.0/1":   false,
		"not-a-cidr":  false,
		"":            false,
	} {
		if got := isOpenCIDR(cidr); got != want {
			t.Errorf("isOpenCIDR(%q) = %v, want %v", cidr, got, want)
		}
	}
}
