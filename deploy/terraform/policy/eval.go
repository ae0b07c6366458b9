package policy

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the Terraform functions the checker can evaluate; any other
// call makes the value unknown.
var functions = map[string]function.Function{
	"concat":     stdlib.ConcatFunc,
	"distinct":   stdlib.DistinctFunc,
	"flatten":    stdlib.FlattenFunc,
	"format":     stdlib.FormatFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"merge":      stdlib.MergeFunc,
	"tolist":     toList,
	"toset":      toSet,
	"upper":      stdlib.UpperFunc,
	"values":     stdlib.ValuesFunc,
}

var toList = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0], nil
	},
})

var toSet = toList

// Eval evaluates expr with the module's variable defaults and locals. Any
// reference the checker cannot know (resources, data sources, each, count,
// for-each iterators) evaluates to unknown; so does any expression that fails.
func (m *Module) Eval(expr hcl.Expression) cty.Value {
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(m.vars),
			"local": cty.ObjectVal(m.locals),
		},
		Functions: functions,
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if _, ok := ctx.Variables[root]; !ok {
			ctx.Variables[root] = cty.DynamicVal
		}
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	return v
}

// attr returns the attribute's expression, if the body sets it.
func attr(body *hclsyntax.Body, name string) (hclsyntax.Expression, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return nil, false
	}
	return a.Expr, true
}

// value evaluates the named attribute; ok is false when it is not set.
func (b *Block) value(body *hclsyntax.Body, name string) (cty.Value, bool) {
	expr, ok := attr(body, name)
	if !ok {
		return cty.NilVal, false
	}
	return b.module.Eval(expr), true
}

// isSet reports whether the attribute is present and not the literal null.
func (b *Block) isSet(body *hclsyntax.Body, name string) bool {
	v, ok := b.value(body, name)
	if !ok {
		return false
	}
	return !(v.IsKnown() && v.IsNull())
}

// isTrue reports whether the attribute is provably true (bool true or "true").
func (b *Block) isTrue(body *hclsyntax.Body, name string) bool {
	v, ok := b.value(body, name)
	if !ok || !v.IsWhollyKnown() || v.IsNull() {
		return false
	}
	switch v.Type() {
	case cty.Bool:
		return v.True()
	case cty.String:
		return v.AsString() == "true"
	}
	return false
}

// isFalse reports whether the attribute is set and provably false.
func (b *Block) isFalse(body *hclsyntax.Body, name string) bool {
	v, ok := b.value(body, name)
	if !ok || !v.IsWhollyKnown() || v.IsNull() {
		return false
	}
	switch v.Type() {
	case cty.Bool:
		return v.False()
	case cty.String:
		return v.AsString() == "false"
	}
	return false
}

// str returns the attribute as a known string.
func (b *Block) str(body *hclsyntax.Body, name string) (string, bool) {
	v, ok := b.value(body, name)
	if !ok || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// number returns the attribute as a known integer.
func (b *Block) number(body *hclsyntax.Body, name string) (int64, bool) {
	v, ok := b.value(body, name)
	if !ok || !v.IsKnown() || v.IsNull() {
		return 0, false
	}
	switch v.Type() {
	case cty.Number:
		i, acc := v.AsBigFloat().Int64()
		return i, acc == 0
	case cty.String:
		n, err := cty.ParseNumberVal(v.AsString())
		if err != nil {
			return 0, false
		}
		i, acc := n.AsBigFloat().Int64()
		return i, acc == 0
	}
	return 0, false
}

// strings returns the known string elements of a list/set/tuple attribute,
// and whether any element is unknown. A single string counts as a list of one.
func (b *Block) strings(body *hclsyntax.Body, name string) (known []string, unknown bool) {
	expr, ok := attr(body, name)
	if !ok {
		return nil, false
	}
	// Evaluate tuple literals element by element, so that one unknown
	// element does not hide a literal "0.0.0.0/0" beside it.
	if tup, isTuple := expr.(*hclsyntax.TupleConsExpr); isTuple {
		for _, e := range tup.Exprs {
			k, u := flattenStrings(b.module.Eval(e))
			known = append(known, k...)
			unknown = unknown || u
		}
		return known, unknown
	}
	return flattenStrings(b.module.Eval(expr))
}

func flattenStrings(v cty.Value) (known []string, unknown bool) {
	if !v.IsKnown() {
		return nil, true
	}
	if v.IsNull() {
		return nil, false
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return []string{v.AsString()}, false
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			k, u := flattenStrings(e)
			known = append(known, k...)
			unknown = unknown || u
		}
		return known, unknown
	}
	return nil, true
}

// blocks returns the bodies of nested blocks of the given type, both written
// out and generated by `dynamic "type" { content { ... } }`.
func blocks(body *hclsyntax.Body, typ string) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, blk := range body.Blocks {
		switch {
		case blk.Type == typ:
			out = append(out, blk.Body)
		case blk.Type == "dynamic" && len(blk.Labels) == 1 && blk.Labels[0] == typ:
			for _, c := range blk.Body.Blocks {
				if c.Type == "content" {
					out = append(out, c.Body)
				}
			}
		}
	}
	return out
}
