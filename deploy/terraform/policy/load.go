package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Module is one directory of .tf files, the unit Terraform evaluates together.
type Module struct {
	// Dir is the module's directory as given to Load, joined with the walk path.
	Dir string
	// Blocks are the resource and data blocks of every file, in file order.
	Blocks []*Block

	vars   map[string]cty.Value
	locals map[string]cty.Value
}

// Block is one resource or data block.
type Block struct {
	// Kind is "resource" or "data".
	Kind string
	// Type is the resource type, e.g. "aws_sqs_queue".
	Type string
	// Name is the block's local name.
	Name string
	// File is the path of the file that holds the block.
	File string
	// Body is the block's parsed body.
	Body *hclsyntax.Body

	module *Module
}

// Address is how Terraform names the block: "aws_sqs_queue.x" or "data.aws_iam_policy_document.x".
func (b *Block) Address() string {
	if b.Kind == "data" {
		return "data." + b.Type + "." + b.Name
	}
	return b.Type + "." + b.Name
}

// skipDirs are never walked into: provider caches and the fixtures of this package.
var skipDirs = map[string]bool{".terraform": true, "testdata": true, ".git": true}

// Load parses every .tf file under root (skipping .terraform and testdata
// directories below root) and groups them into modules by directory.
func Load(root string) ([]*Module, error) {
	byDir := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".tf") {
			dir := filepath.Dir(path)
			byDir[dir] = append(byDir[dir], path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}

	dirs := make([]string, 0, len(byDir))
	for dir := range byDir {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)

	parser := hclparse.NewParser()
	modules := make([]*Module, 0, len(dirs))
	for _, dir := range dirs {
		files := byDir[dir]
		sort.Strings(files)
		m, err := loadModule(parser, dir, files)
		if err != nil {
			return nil, err
		}
		modules = append(modules, m)
	}
	return modules, nil
}

func loadModule(parser *hclparse.Parser, dir string, files []string) (*Module, error) {
	m := &Module{Dir: dir, vars: map[string]cty.Value{}, locals: map[string]cty.Value{}}
	var localExprs []*hclsyntax.Attribute

	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		f, diags := parser.ParseHCL(src, path)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", path, diags.Error())
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return nil, fmt.Errorf("parse %s: not native HCL syntax", path)
		}
		for _, blk := range body.Blocks {
			switch {
			case (blk.Type == "resource" || blk.Type == "data") && len(blk.Labels) == 2:
				m.Blocks = append(m.Blocks, &Block{
					Kind: blk.Type, Type: blk.Labels[0], Name: blk.Labels[1],
					File: path, Body: blk.Body, module: m,
				})
			case blk.Type == "variable" && len(blk.Labels) == 1:
				m.vars[blk.Labels[0]] = variableDefault(blk.Body)
			case blk.Type == "locals":
				for _, attr := range sortedAttrs(blk.Body) {
					localExprs = append(localExprs, attr)
				}
			}
		}
	}

	// Locals may refer to variables and to each other; a few passes settle
	// every chain this configuration writes. What stays unresolved is unknown.
	for _, attr := range localExprs {
		m.locals[attr.Name] = cty.DynamicVal
	}
	for range 4 {
		for _, attr := range localExprs {
			m.locals[attr.Name] = m.Eval(attr.Expr)
		}
	}
	return m, nil
}

// variableDefault is the literal default of a variable block, or unknown.
func variableDefault(body *hclsyntax.Body) cty.Value {
	attr, ok := body.Attributes["default"]
	if !ok {
		return cty.DynamicVal
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	return v
}

// sortedAttrs returns a body's attributes in source order.
func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool {
		return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte
	})
	return attrs
}

// Pos is where the block starts, for findings.
func (b *Block) Pos() hcl.Pos {
	return b.Body.SrcRange.Start
}
