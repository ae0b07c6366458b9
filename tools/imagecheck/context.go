package imagecheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context filtered by its .dockerignore, with the same
// pattern matcher as Docker and BuildKit.
type Context struct {
	root string
	pm   *patternmatcher.PatternMatcher
}

// OpenContext reads root/.dockerignore.
func OpenContext(root string) (*Context, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return &Context{root: root, pm: pm}, nil
}

// Sent tells whether the file at rel (slash-separated, relative to the
// root) is sent to the builder.
func (c *Context) Sent(rel string) (bool, error) {
	ignored, err := c.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	return !ignored, err
}

// BuildInputs lists the files of this module that 'go build' reads to build
// the given packages of the module at root (relative, slash-separated,
// sorted): go.mod, go.sum, and the Go and embedded files of every package of
// the module they depend on.
func BuildInputs(root string, pkgs ...string) ([]string, error) {
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module,Standard"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	files := map[string]bool{"go.mod": true, "go.sum": true}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Standard            bool
			Module              *struct{ Path string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if p.Standard || p.Module == nil || p.Module.Path != modulePath {
			continue
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(abs, filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			files[filepath.ToSlash(rel)] = true
		}
	}
	var list []string
	for f := range files {
		list = append(list, f)
	}
	sort.Strings(list)
	return list, nil
}
