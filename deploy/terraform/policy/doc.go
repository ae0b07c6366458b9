// Package policy checks the Terraform configuration under deploy/terraform
// against Flask's security rules (encryption with customer-managed KMS keys,
// no open ingress, private databases, least-privilege app roles).
//
// It reads the .tf files with the HCL parser, without running Terraform or
// calling AWS, so it runs offline in scripts/tf-check.sh. It checks what is
// written in the configuration: literals, and values it can resolve from
// variable defaults and locals in the same module. A value it cannot resolve
// (a resource attribute, a function it does not know) is treated as unknown
// and never reported as a violation on its own; rules that demand an
// attribute be present still report it missing.
package policy
