package policy

import (
	"fmt"
	"path/filepath"
	"sort"
)

// Finding is one violation of a rule.
type Finding struct {
	// Rule is the ID of the rule that was broken, e.g. "sqs-kms".
	Rule string
	// File and Line locate the offending block.
	File string
	Line int
	// Address is the Terraform address of the block, e.g. "aws_sqs_queue.jobs".
	Address string
	// Message says what is wrong and what is expected.
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: [%s] %s: %s", f.File, f.Line, f.Rule, f.Address, f.Message)
}

// Report is the result of checking a tree.
type Report struct {
	// Findings are the violations, sorted by file and line.
	Findings []Finding
	// Checked counts, per rule, the blocks the rule looked at, so a test can
	// tell a clean tree from a rule that matched nothing.
	Checked map[string]int
	// Modules is the number of module directories read.
	Modules int
}

// Rule is one check over a block.
type Rule struct {
	// ID names the rule in findings.
	ID string
	// Description says what the rule demands.
	Description string
	// applies selects the blocks the rule looks at.
	applies func(b *Block) bool
	// check returns the problems with a block it applies to.
	check func(b *Block) []string
}

// Check loads every module under root and runs every rule over it.
func Check(root string) (*Report, error) {
	modules, err := Load(root)
	if err != nil {
		return nil, err
	}
	r := &Report{Checked: map[string]int{}, Modules: len(modules)}
	for _, m := range modules {
		for _, b := range m.Blocks {
			for _, rule := range Rules {
				if !rule.applies(b) {
					continue
				}
				r.Checked[rule.ID]++
				for _, msg := range rule.check(b) {
					file := b.File
					if rel, err := filepath.Rel(root, b.File); err == nil {
						file = rel
					}
					r.Findings = append(r.Findings, Finding{
						Rule: rule.ID, File: file, Line: b.Pos().Line,
						Address: b.Address(), Message: msg,
					})
				}
			}
		}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return r, nil
}
