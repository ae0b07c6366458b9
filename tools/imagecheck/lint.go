package imagecheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Warning is one finding of BuildKit's Dockerfile linter.
type Warning struct {
	// Rule is the BuildKit rule name, such as JSONArgsRecommended.
	Rule string
	// Line is the first line of the Dockerfile it points at (1-based; 0 if none).
	Line int
	// Detail says what is wrong.
	Detail string
}

func (w Warning) String() string {
	return fmt.Sprintf("line %d: %s: %s", w.Line, w.Rule, w.Detail)
}

// Lint runs the checks of 'docker build --check' on a Dockerfile: every
// stage, every default rule, and the check= directive of the file itself.
// name is the file name shown in findings. buildArgs are passed as with
// --build-arg. An error means the Dockerfile could not be linted at all,
// for example because it does not parse or a stage cannot be built.
func Lint(ctx context.Context, name string, dt []byte, buildArgs map[string]string) ([]Warning, error) {
	src := llb.Local("dockerfile")
	sm := llb.NewSourceMap(&src, name, "Dockerfile", dt)
	def, err := src.Marshal(ctx)
	if err != nil {
		return nil, fmt.Errorf("source map for %s: %w", name, err)
	}
	sm.Definition = def
	args := map[string]string{}
	for k, v := range buildArgs {
		args[k] = v
	}
	res, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{BuildArgs: args},
		SourceMap:    sm,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		return nil, fmt.Errorf("lint %s: %w", name, err)
	}
	var out []Warning
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = firstLine(w.Location.Ranges)
		}
		out = append(out, Warning{Rule: w.RuleName, Line: line, Detail: strings.TrimSpace(w.Detail)})
	}
	// With "# check=error=true" the warnings also stop the build: then the
	// error only repeats them.
	if res.Error != nil && len(out) == 0 {
		return nil, fmt.Errorf("lint %s: line %d: %s", name, firstLine(res.Error.Location.Ranges), res.Error.Message)
	}
	return out, nil
}

// firstLine is the first line of a location (1-based; 0 if none).
func firstLine(rs []*pb.Range) int {
	if len(rs) == 0 || rs[0].GetStart() == nil {
		return 0
	}
	return int(rs[0].GetStart().GetLine())
}

// errNoRegistry is what the offline resolver answers for a reference it
// cannot describe.
var errNoRegistry = errors.New("imagecheck resolves base images offline and never contacts a registry")

// offlineResolver answers BuildKit's image metadata requests from memory,
// so that linting never reaches a registry. Every base image is described as
// a one-layer image of the requested platform; the Go images get the
// environment of the official golang images, which the linter's
// UndefinedVar rule consults.
type offlineResolver struct{}

// ResolveImageConfig implements sourceresolver.ImageMetaResolver.
func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if ref == "" {
		return "", "", nil, errNoRegistry
	}
	p := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if isGoImage(ref) {
		env = []string{
			"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"GOLANG_VERSION=" + tagOf(ref), "GOTOOLCHAIN=local", "GOPATH=/go",
		}
	}
	img := ocispecs.Image{
		Platform: ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant},
		Config:   ocispecs.ImageConfig{Env: env},
		RootFS:   ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString(ref)}},
	}
	dt, err := json.Marshal(img)
	if err != nil {
		return "", "", nil, err
	}
	return ref, "", dt, nil
}

// isGoImage tells the official Go images (golang, docker.io/library/golang).
func isGoImage(ref string) bool {
	repo, _, _ := strings.Cut(ref, ":")
	return repo == "golang" || strings.HasSuffix(repo, "/golang")
}

// tagOf is the Go version in a tag such as 1.26.8-bookworm.
func tagOf(ref string) string {
	_, tag, _ := strings.Cut(ref, ":")
	v, _, _ := strings.Cut(tag, "-")
	return v
}
