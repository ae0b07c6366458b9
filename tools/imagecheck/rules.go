package imagecheck

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Image describes what one of Flask's Dockerfiles must produce.
type Image struct {
	// Binary is the command built and shipped, such as flask-api.
	Binary string
	// Port is the one port the image exposes, such as 8080.
	Port int
}

// Path is where the image holds its binary, and its ENTRYPOINT.
func (im Image) Path() string { return "/usr/local/bin/" + im.Binary }

// Violation is one broken project rule.
type Violation struct {
	// Rule is the rule's ID, one of Rules.
	Rule string
	// Line is the Dockerfile line it concerns (0 for the whole file).
	Line int
	// Detail says what is wrong.
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("line %d: %s: %s", v.Line, v.Rule, v.Detail)
}

// Rules lists the project's Dockerfile rules by ID, with what each requires.
var Rules = map[string]string{
	"multi-stage":     "a build stage and a separate final stage",
	"pinned-base":     "every base image pinned to an exact version tag (x.y.z) or a digest; never latest or untagged",
	"modules-first":   "COPY go.mod go.sum and RUN go mod download before the sources are copied",
	"static-build":    "go build with CGO_ENABLED=0 and -trimpath",
	"version-ldflags": "version and commit injected with -ldflags -X from ARG VERSION and ARG COMMIT",
	"own-binary":      "go build builds only ./cmd/<binary>; the final stage holds only that binary, at /usr/local/bin/<binary>",
	"minimal-final":   "the final stage is FROM scratch (or a distroless static image)",
	"no-shell":        "no RUN or SHELL in the final stage, nothing copied from the build context into it",
	"ca-certificates": "the final image gets the CA certificates at /etc/ssl/certs/ca-certificates.crt",
	"non-root-user":   "USER is a numeric uid (and gid) other than 0 in the final stage",
	"oci-labels":      "org.opencontainers.image.* labels: title, description, source, licenses, version=${VERSION}, revision=${COMMIT}",
	"entrypoint":      `ENTRYPOINT ["/usr/local/bin/<binary>"] in exec form, no CMD`,
	"expose":          "EXPOSE exactly the image's port",
}

const modulePath = "github.com/flaskhq/flask"

// Check applies the project's rules to a Dockerfile for the image im and
// returns every violation. An error means dt is not a Dockerfile.
func Check(dt []byte, im Image) ([]Violation, error) {
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{SkipAll: true}))
	if err != nil {
		return nil, err
	}
	c := &checker{im: im, stages: stages}
	c.run()
	return c.out, nil
}

type checker struct {
	im     Image
	stages []instructions.Stage
	out    []Violation
}

func (c *checker) add(rule string, loc []parser.Range, format string, args ...any) {
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	c.out = append(c.out, Violation{Rule: rule, Line: line, Detail: fmt.Sprintf(format, args...)})
}

// stageNamed is the index of the stage called name, or -1.
func (c *checker) stageNamed(name string, before int) int {
	for i := 0; i < before; i++ {
		if strings.EqualFold(c.stages[i].Name, name) || strconv.Itoa(i) == name {
			return i
		}
	}
	return -1
}

func (c *checker) run() {
	if len(c.stages) < 2 {
		var loc []parser.Range
		if len(c.stages) > 0 {
			loc = c.stages[0].Location
		}
		c.add("multi-stage", loc, "%d stage(s): build in one stage and copy the binary into a separate final stage", len(c.stages))
	}
	for i, st := range c.stages {
		c.checkBase(i, st)
	}
	if len(c.stages) == 0 {
		return
	}
	final := c.stages[len(c.stages)-1]
	c.checkBuild(len(c.stages) - 1)
	c.checkFinal(final)
}

var (
	exactTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$`)
	digestRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
)

// checkBase: pinned-base for every stage that starts from an image.
func (c *checker) checkBase(i int, st instructions.Stage) {
	base := st.BaseName
	if base == "scratch" || c.stageNamed(base, i) >= 0 {
		return
	}
	if digestRe.MatchString(base) {
		return
	}
	ref := base
	if at := strings.LastIndex(ref, "/"); at >= 0 {
		ref = ref[at+1:]
	}
	_, tag, ok := strings.Cut(ref, ":")
	switch {
	case strings.Contains(base, "$"):
		c.add("pinned-base", st.Location, "base image %q comes from a variable: write the pinned reference", base)
	case !ok:
		c.add("pinned-base", st.Location, "base image %q has no tag: pin an exact version tag", base)
	case !exactTag.MatchString(tag):
		c.add("pinned-base", st.Location, "base image %q: tag %q is not an exact version (want x.y.z[-variant] or a digest)", base, tag)
	}
}

// buildRun is the RUN instruction running go build, and its stage.
type buildRun struct {
	stage int
	cmd   int
	run   *instructions.RunCommand
	words []string
}

// findBuild finds the go build commands of every stage before the final one.
func (c *checker) findBuilds(final int) []buildRun {
	var out []buildRun
	for si := 0; si < final; si++ {
		for ci, cmd := range c.stages[si].Commands {
			run, ok := cmd.(*instructions.RunCommand)
			if !ok {
				continue
			}
			for _, words := range commands(strings.Join(run.CmdLine, " ")) {
				if i := goSub(words); i >= 0 && words[i] == "build" {
					out = append(out, buildRun{stage: si, cmd: ci, run: run, words: words})
				}
			}
		}
	}
	return out
}

// goSub is the index of the go subcommand in words ("go build" → 1), after
// leading VAR=value assignments; -1 if words do not run go.
func goSub(words []string) int {
	for i, w := range words {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "-") && i < len(words)-1 {
			continue
		}
		if (w == "go" || strings.HasSuffix(w, "/go")) && i+1 < len(words) {
			return i + 1
		}
		return -1
	}
	return -1
}

func (c *checker) checkBuild(final int) {
	builds := c.findBuilds(final)
	floc := c.stages[final].Location
	if len(builds) != 1 {
		c.add("own-binary", floc, "%d 'go build' commands before the final stage: want exactly one, building %s", len(builds), c.im.Binary)
		if len(builds) == 0 {
			c.add("static-build", floc, "no 'go build' command before the final stage")
			c.add("version-ldflags", floc, "no 'go build' command before the final stage")
			c.checkModulesFirst(final, -1)
			return
		}
	}
	b := builds[0]
	st := c.stages[b.stage]
	loc := b.run.Location()
	c.checkModulesFirst(b.stage, b.cmd)

	// static-build
	if !slices.Contains(b.words, "-trimpath") {
		c.add("static-build", loc, "go build without -trimpath")
	}
	if !c.cgoOff(b) {
		c.add("static-build", loc, "CGO_ENABLED=0 is not set for go build (ENV or on the command)")
	}

	// version-ldflags
	ldflags := flagValue(b.words, "-ldflags")
	xs := map[string]string{}
	f := strings.Fields(ldflags)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-X" {
			k, v, _ := strings.Cut(f[i+1], "=")
			xs[k] = v
		}
	}
	for _, want := range []struct{ name, arg string }{{"Version", "VERSION"}, {"Commit", "COMMIT"}} {
		v := xs[modulePath+"/app."+want.name]
		if v != "${"+want.arg+"}" && v != "$"+want.arg {
			c.add("version-ldflags", loc, "-ldflags must set -X %s/app.%s=${%s} (got %q)", modulePath, want.name, want.arg, v)
		}
		if !declaresArg(st.Commands[:b.cmd], want.arg) {
			c.add("version-ldflags", loc, "ARG %s is not declared in stage %q before go build", want.arg, st.Name)
		}
	}

	// own-binary: one package, ./cmd/<binary>, written to a file named after it.
	var pkgs []string
	for i := goSub(b.words) + 1; i < len(b.words); i++ {
		w := b.words[i]
		if strings.HasPrefix(w, "-") {
			if !strings.Contains(w, "=") && takesValue(w) {
				i++
			}
			continue
		}
		pkgs = append(pkgs, w)
	}
	if want := "./cmd/" + c.im.Binary; len(pkgs) != 1 || pkgs[0] != want {
		c.add("own-binary", loc, "go build builds %v: want only %s", pkgs, want)
	}
	if o := flagValue(b.words, "-o"); !strings.HasSuffix(o, "/"+c.im.Binary) {
		c.add("own-binary", loc, "go build -o %q: want a file named %s", o, c.im.Binary)
	}
}

// takesValue tells go build flags that take a separate value.
func takesValue(flag string) bool {
	switch strings.TrimLeft(flag, "-") {
	case "o", "ldflags", "gcflags", "tags", "p", "mod", "modfile", "pkgdir", "overlay", "pgo", "asmflags", "installsuffix", "toolexec", "buildmode", "compiler", "gccgoflags", "C":
		return true
	}
	return false
}

// flagValue is the value of a flag in words, as "-f v" or "-f=v".
func flagValue(words []string, flag string) string {
	for i, w := range words {
		if w == flag && i+1 < len(words) {
			return words[i+1]
		}
		if v, ok := strings.CutPrefix(w, flag+"="); ok {
			return v
		}
	}
	return ""
}

func declaresArg(cmds []instructions.Command, name string) bool {
	for _, cmd := range cmds {
		if a, ok := cmd.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				if kv.Key == name {
					return true
				}
			}
		}
	}
	return false
}

// cgoOff tells whether CGO_ENABLED=0 holds for the go build: on the command
// itself, or the last ENV of the stage before it setting it.
func (c *checker) cgoOff(b buildRun) bool {
	for _, w := range b.words[:goSub(b.words)] {
		if k, v, ok := strings.Cut(w, "="); ok && k == "CGO_ENABLED" {
			return v == "0"
		}
	}
	off := false
	for _, cmd := range c.stages[b.stage].Commands[:b.cmd] {
		if e, ok := cmd.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				if kv.Key == "CGO_ENABLED" {
					off = kv.Value == "0"
				}
			}
		}
	}
	return off
}

// checkModulesFirst: in the build stage, go.mod and go.sum are copied and
// the modules downloaded before any other file of the context is copied.
func (c *checker) checkModulesFirst(stage, buildCmd int) {
	if stage < 0 || stage >= len(c.stages) {
		return
	}
	st := c.stages[stage]
	cmds := st.Commands
	if buildCmd >= 0 {
		cmds = cmds[:buildCmd]
	}
	copiedMod, downloaded := false, false
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case *instructions.CopyCommand:
			if cmd.From != "" {
				continue
			}
			onlyMod := true
			for _, p := range cmd.SourcePaths {
				if p != "go.mod" && p != "go.sum" {
					onlyMod = false
				}
			}
			if onlyMod && slices.Contains(cmd.SourcePaths, "go.mod") && slices.Contains(cmd.SourcePaths, "go.sum") {
				copiedMod = true
				continue
			}
			if !downloaded {
				c.add("modules-first", cmd.Location(), "%s copied before 'go mod download': the module layer would be rebuilt on every source change", strings.Join(cmd.SourcePaths, " "))
				return
			}
		case *instructions.RunCommand:
			for _, words := range commands(strings.Join(cmd.CmdLine, " ")) {
				if i := goSub(words); i >= 0 && i+1 < len(words) && words[i] == "mod" && words[i+1] == "download" {
					if !copiedMod {
						c.add("modules-first", cmd.Location(), "'go mod download' runs before go.mod and go.sum are copied")
						return
					}
					downloaded = true
				}
			}
		}
	}
	if !downloaded {
		c.add("modules-first", st.Location, "stage %q never runs 'go mod download' after copying go.mod and go.sum", st.Name)
	}
}

var ociLabels = []string{"title", "description", "source", "licenses", "version", "revision"}

func (c *checker) checkFinal(st instructions.Stage) {
	base := st.BaseName
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		c.add("minimal-final", st.Location, "final stage is FROM %s: use scratch (or a distroless static image)", base)
	}
	labels := map[string]string{}
	var user *instructions.UserCommand
	var entry *instructions.EntrypointCommand
	var ports []string
	binaries, certs := 0, false
	final := len(c.stages) - 1
	for _, cmd := range st.Commands {
		switch cmd := cmd.(type) {
		case *instructions.RunCommand:
			c.add("no-shell", cmd.Location(), "RUN in the final stage: it holds no shell and nothing to run but its binary")
		case *instructions.ShellCommand:
			c.add("no-shell", cmd.Location(), "SHELL in the final stage: it holds no shell")
		case *instructions.CmdCommand:
			c.add("entrypoint", cmd.Location(), "CMD in the final stage: the binary takes no default arguments")
		case *instructions.EntrypointCommand:
			entry = cmd
		case *instructions.UserCommand:
			user = cmd
		case *instructions.ExposeCommand:
			ports = append(ports, cmd.Ports...)
		case *instructions.LabelCommand:
			for _, kv := range cmd.Labels {
				labels[kv.Key] = unquote(kv.Value)
			}
		case *instructions.AddCommand:
			c.add("no-shell", cmd.Location(), "ADD in the final stage: copy only the binary and the runtime files from the build stage")
		case *instructions.CopyCommand:
			if cmd.From == "" || c.stageNamed(cmd.From, final) < 0 {
				c.add("no-shell", cmd.Location(), "COPY into the final stage from %q: only files built in an earlier stage belong there", cmd.From)
				continue
			}
			dest := cmd.DestPath
			switch {
			case dest == c.im.Path() && len(cmd.SourcePaths) == 1:
				binaries++
			case strings.HasPrefix(dest, "/usr/local/bin"):
				c.add("own-binary", cmd.Location(), "COPY %s to %s: /usr/local/bin holds only %s", strings.Join(cmd.SourcePaths, " "), dest, c.im.Path())
			case dest == "/etc/ssl/certs/ca-certificates.crt" || dest == "/etc/ssl/certs/":
				certs = true
			case dest == "/" && len(cmd.SourcePaths) == 1 && c.rootfsHasCerts(final, cmd.SourcePaths[0]):
				certs = true
			case dest == "/" || dest == "/etc/" || strings.HasPrefix(dest, "/etc/"):
				// runtime files (passwd, group)
			case shellDir(dest):
				c.add("no-shell", cmd.Location(), "COPY %s to %s: the final image holds no shell or tools", strings.Join(cmd.SourcePaths, " "), dest)
			default:
				c.add("own-binary", cmd.Location(), "COPY %s to %s: the image holds only its binary, CA certificates and passwd", strings.Join(cmd.SourcePaths, " "), dest)
			}
		}
	}
	if binaries != 1 {
		c.add("own-binary", st.Location, "final stage copies %s %d times: want once", c.im.Path(), binaries)
	}
	if !certs {
		c.add("ca-certificates", st.Location, "the final stage gets no /etc/ssl/certs/ca-certificates.crt")
	}
	c.checkUser(st, user)
	if entry == nil {
		c.add("entrypoint", st.Location, "no ENTRYPOINT: want [%q]", c.im.Path())
	} else if entry.PrependShell || len(entry.CmdLine) != 1 || entry.CmdLine[0] != c.im.Path() {
		c.add("entrypoint", entry.Location(), "ENTRYPOINT %v: want exec form [%q]", entry.CmdLine, c.im.Path())
	}
	if want := strconv.Itoa(c.im.Port); len(ports) != 1 || strings.TrimSuffix(ports[0], "/tcp") != want {
		c.add("expose", st.Location, "EXPOSE %v: want exactly %s", ports, want)
	}
	for _, k := range ociLabels {
		if strings.TrimSpace(labels["org.opencontainers.image."+k]) == "" {
			c.add("oci-labels", st.Location, "label org.opencontainers.image.%s is missing", k)
		}
	}
	if t, ok := labels["org.opencontainers.image.title"]; ok && t != c.im.Binary {
		c.add("oci-labels", st.Location, "org.opencontainers.image.title=%q: want %q", t, c.im.Binary)
	}
	for k, arg := range map[string]string{"version": "VERSION", "revision": "COMMIT"} {
		if v, ok := labels["org.opencontainers.image."+k]; ok {
			if v != "${"+arg+"}" && v != "$"+arg {
				c.add("oci-labels", st.Location, "org.opencontainers.image.%s=%q: want ${%s}", k, v, arg)
			}
			if !declaresArg(st.Commands, arg) {
				c.add("oci-labels", st.Location, "ARG %s is not declared in the final stage, so the %s label would be empty", arg, k)
			}
		}
	}
}

// unquote removes the quotes around a LABEL value.
func unquote(v string) string {
	if u, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		return u
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}

// shellDir tells destinations where shells and tools live.
func shellDir(dest string) bool {
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/sbin"} {
		if dest == d || strings.HasPrefix(dest, d+"/") {
			return true
		}
	}
	return false
}

var numericUser = regexp.MustCompile(`^(\d+)(?::(\d+))?$`)

func (c *checker) checkUser(st instructions.Stage, user *instructions.UserCommand) {
	if user == nil {
		c.add("non-root-user", st.Location, "no USER in the final stage: the image would run as root")
		return
	}
	m := numericUser.FindStringSubmatch(user.User)
	if m == nil {
		c.add("non-root-user", user.Location(), "USER %q is not numeric: Kubernetes' runAsNonRoot can verify only a numeric uid", user.User)
		return
	}
	if m[1] == "0" || m[2] == "0" {
		c.add("non-root-user", user.Location(), "USER %q is root", user.User)
	}
}

// rootfsHasCerts tells whether a build stage RUN puts ca-certificates.crt
// under the directory src (such as /rootfs/) that is copied to /.
func (c *checker) rootfsHasCerts(final int, src string) bool {
	dir := strings.TrimSuffix(src, "/")
	for _, st := range c.stages[:final] {
		for _, cmd := range st.Commands {
			if run, ok := cmd.(*instructions.RunCommand); ok {
				line := strings.Join(run.CmdLine, " ")
				if strings.Contains(line, dir+"/etc/ssl/certs/ca-certificates.crt") {
					return true
				}
			}
		}
	}
	return false
}

// commands splits a shell command line into simple commands (at &&, || and
// ;) of words, with quotes removed and variables left as written.
func commands(line string) [][]string {
	var out [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	end := func() {
		flush()
		if len(words) > 0 {
			out = append(out, words)
		}
		words = nil
	}
	var quote rune
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			if rs[i] != '\n' {
				cur.WriteRune(rs[i])
				inWord = true
			}
		case r == ' ' || r == '\t' || r == '\n':
			flush()
		case r == ';':
			end()
		case (r == '&' || r == '|') && i+1 < len(rs) && rs[i+1] == r:
			i++
			end()
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	end()
	return out
}
