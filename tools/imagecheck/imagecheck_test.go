package imagecheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the Flask repository holding the Dockerfiles.
const repoRoot = "../.."

// images are the repository's Dockerfiles and what each must produce.
var images = map[string]Image{
	"Dockerfile.api":    {Binary: "flask-api", Port: 8080},
	"Dockerfile.worker": {Binary: "flask-worker", Port: 8081},
}

var buildArgs = map[string]string{"VERSION": "v0.0.0-test", "COMMIT": "0123abc"}

func TestDockerfilesPassBuildKitLint(t *testing.T) {
	for name := range images {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dt, err := os.ReadFile(filepath.Join(repoRoot, name))
			require.NoError(t, err)
			// Without build args too: the ARG defaults must lint clean.
			for _, args := range []map[string]string{buildArgs, nil} {
				warnings, err := Lint(context.Background(), name, dt, args)
				require.NoError(t, err)
				require.Empty(t, warnings, "BuildKit lint warnings (docker build --check)")
			}
		})
	}
}

func TestDockerfilesFollowProjectRules(t *testing.T) {
	for name, im := range images {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dt, err := os.ReadFile(filepath.Join(repoRoot, name))
			require.NoError(t, err)
			violations, err := Check(dt, im)
			require.NoError(t, err)
			require.Empty(t, violations)
		})
	}
}

// TestBrokenFixturesFail proves that each rule can fail: every fixture under
// testdata/broken breaks what its "# expect:" line names (project rule IDs,
// and BuildKit rules as lint:Name), and nothing else.
func TestBrokenFixturesFail(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.Dockerfile")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	covered := map[string]bool{}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".Dockerfile"), func(t *testing.T) {
			dt, err := os.ReadFile(f)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(dt), "\n")
			spec, ok := strings.CutPrefix(first, "# expect: ")
			require.True(t, ok, "%s: the first line must be '# expect: rule...'", f)
			var wantRules, wantLint []string
			for _, r := range strings.Fields(spec) {
				if l, ok := strings.CutPrefix(r, "lint:"); ok {
					wantLint = append(wantLint, l)
					continue
				}
				require.Contains(t, Rules, r, "unknown rule in %s", f)
				wantRules = append(wantRules, r)
				covered[r] = true
			}

			violations, err := Check(dt, images["Dockerfile.api"])
			require.NoError(t, err)
			require.Equal(t, sorted(wantRules), ruleIDs(violations), "violations: %v", violations)

			warnings, err := Lint(context.Background(), f, dt, buildArgs)
			require.NoError(t, err)
			var got []string
			for _, w := range warnings {
				got = append(got, w.Rule)
			}
			require.Equal(t, sorted(wantLint), uniqSorted(got), "lint warnings: %v", warnings)
		})
	}
	for r := range Rules {
		require.True(t, covered[r], "rule %s has no broken fixture in testdata/broken", r)
	}
}

func TestRuleIDsInViolationsAreKnown(t *testing.T) {
	dt, err := os.ReadFile("testdata/broken/multi-stage--one-stage.Dockerfile")
	require.NoError(t, err)
	violations, err := Check(dt, images["Dockerfile.api"])
	require.NoError(t, err)
	for _, v := range violations {
		require.Contains(t, Rules, v.Rule)
		require.NotZero(t, v.Line, "violation %v points at no line", v)
	}
}

func TestCheckRejectsNonDockerfile(t *testing.T) {
	_, err := Check([]byte("FROM\n"), images["Dockerfile.api"])
	require.Error(t, err)
}

// mustNotSend are files that must never reach the builder.
var mustNotSend = []string{
	".git/HEAD", ".flask/flask.db", ".env", "bin/flask-api", "deploy/terraform/main.tf",
	"docs/architecture.md", "e2e/e2e_test.go", "api/api_test.go",
	"web/e2e/node_modules/playwright-core/index.js", "store/testdata/x.sql", "Dockerfile.api",
}

func TestDockerignoreSendsWhatTheBuildReads(t *testing.T) {
	inputs, err := BuildInputs(repoRoot, "./cmd/flask-api", "./cmd/flask-worker")
	require.NoError(t, err)
	require.Contains(t, inputs, "cmd/flask-api/main.go")
	require.Contains(t, inputs, "cmd/flask-worker/main.go")
	require.Contains(t, inputs, "api/openapi.yaml", "embedded files are inputs")

	c, err := OpenContext(repoRoot)
	require.NoError(t, err)
	require.Empty(t, unsent(t, c, inputs), "files the build reads but .dockerignore leaves out")
	for _, f := range mustNotSend {
		sent, err := c.Sent(f)
		require.NoError(t, err)
		require.False(t, sent, ".dockerignore sends %s", f)
	}
}

func TestBrokenDockerignoreFails(t *testing.T) {
	inputs, err := BuildInputs(repoRoot, "./cmd/flask-api", "./cmd/flask-worker")
	require.NoError(t, err)

	c, err := OpenContext("testdata/context/no-store")
	require.NoError(t, err)
	missing := unsent(t, c, inputs)
	require.Contains(t, missing, "store/store.go")

	c, err = OpenContext("testdata/context/deny-list")
	require.NoError(t, err)
	sent, err := c.Sent(".flask/flask.db")
	require.NoError(t, err)
	require.True(t, sent, "the deny-list fixture should leak .flask/")
}

func unsent(t *testing.T, c *Context, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		sent, err := c.Sent(f)
		require.NoError(t, err)
		if !sent {
			out = append(out, f)
		}
	}
	return out
}

func ruleIDs(vs []Violation) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.Rule)
	}
	return uniqSorted(ids)
}

func uniqSorted(s []string) []string {
	s = sorted(s)
	return slices.Compact(s)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	if s == nil {
		s = []string{}
	}
	return s
}
