package policy

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Rules are every rule the checker enforces, in the order they run.
var Rules = []Rule{
	{
		ID:          "sqs-kms",
		Description: "every SQS queue is encrypted with a customer-managed KMS key (kms_master_key_id)",
		applies:     resource("aws_sqs_queue"),
		check:       checkSQSKMS,
	},
	{
		ID:          "storage-kms",
		Description: "RDS and EBS storage is encrypted with a KMS key of ours (encrypted/storage_encrypted = true and kms_key_id); EKS node groups use a launch template so their volumes are covered",
		applies:     resource("aws_db_instance", "aws_rds_cluster", "aws_ebs_volume", "aws_launch_template", "aws_instance", "aws_eks_node_group"),
		check:       checkStorageKMS,
	},
	{
		ID:          "logs-kms",
		Description: "every CloudWatch log group is encrypted with a KMS key (kms_key_id)",
		applies:     resource("aws_cloudwatch_log_group"),
		check:       checkLogsKMS,
	},
	{
		ID:          "ecr-repository",
		Description: "every ECR repository has IMMUTABLE tags and KMS encryption with a key of ours",
		applies:     resource("aws_ecr_repository"),
		check:       checkECR,
	},
	{
		ID:          "kms-rotation",
		Description: "every KMS key has enable_key_rotation = true",
		applies:     resource("aws_kms_key"),
		check:       checkKMSRotation,
	},
	{
		ID:          "sg-open-ingress",
		Description: "no security group ingress from 0.0.0.0/0 or ::/0 except TCP 80 and 443",
		applies:     resource("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"),
		check:       checkOpenIngress,
	},
	{
		ID:          "rds-private",
		Description: "every RDS instance sets publicly_accessible = false explicitly",
		applies:     resource("aws_db_instance", "aws_rds_cluster_instance"),
		check:       checkRDSPrivate,
	},
	{
		ID:          "app-iam-actions",
		Description: "policy documents of the app roles (data.aws_iam_policy_document named api*, worker*, keda*) list exact actions: no \"*\", no \"service:*\", no wildcard, no not_actions",
		applies:     appPolicyDocument,
		check:       checkAppActions,
	},
	{
		ID:          "iam-policy-document",
		Description: "IAM identity policies come from a data.aws_iam_policy_document, so app-iam-actions sees every statement",
		applies:     resource("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy", "aws_iam_role"),
		check:       checkPolicySource,
	},
}

func resource(types ...string) func(*Block) bool {
	return func(b *Block) bool {
		return b.Kind == "resource" && slices.Contains(types, b.Type)
	}
}

func checkSQSKMS(b *Block) []string {
	var out []string
	if !b.isSet(b.Body, "kms_master_key_id") {
		out = append(out, "kms_master_key_id is not set: the queue must be encrypted with a customer-managed KMS key")
	}
	if b.isTrue(b.Body, "sqs_managed_sse_enabled") {
		out = append(out, "sqs_managed_sse_enabled = true uses an SQS-owned key; use kms_master_key_id instead")
	}
	return out
}

func checkStorageKMS(b *Block) []string {
	var out []string
	switch b.Type {
	case "aws_db_instance", "aws_rds_cluster":
		if !b.isTrue(b.Body, "storage_encrypted") {
			out = append(out, "storage_encrypted must be true")
		}
		if !b.isSet(b.Body, "kms_key_id") {
			out = append(out, "kms_key_id is not set: storage must use a customer-managed KMS key")
		}
	case "aws_ebs_volume":
		out = append(out, checkEBS(b, b.Body, "volume")...)
	case "aws_launch_template":
		for _, bdm := range blocks(b.Body, "block_device_mappings") {
			for _, ebs := range blocks(bdm, "ebs") {
				out = append(out, checkEBS(b, ebs, "block_device_mappings.ebs")...)
			}
		}
	case "aws_instance":
		for _, typ := range []string{"root_block_device", "ebs_block_device"} {
			for _, dev := range blocks(b.Body, typ) {
				out = append(out, checkEBS(b, dev, typ)...)
			}
		}
	case "aws_eks_node_group":
		if len(blocks(b.Body, "launch_template")) == 0 {
			out = append(out, "node group has no launch_template: its volumes would use the default aws/ebs key; encrypt them in a launch template")
		}
		if _, ok := attr(b.Body, "disk_size"); ok {
			out = append(out, "disk_size bypasses the launch template's encrypted volume; set the volume in the launch template")
		}
	}
	return out
}

func checkEBS(b *Block, body *hclsyntax.Body, what string) []string {
	var out []string
	if !b.isTrue(body, "encrypted") {
		out = append(out, what+": encrypted must be true")
	}
	if !b.isSet(body, "kms_key_id") {
		out = append(out, what+": kms_key_id is not set")
	}
	return out
}

func checkLogsKMS(b *Block) []string {
	if !b.isSet(b.Body, "kms_key_id") {
		return []string{"kms_key_id is not set: log groups must be encrypted with a customer-managed KMS key"}
	}
	return nil
}

func checkECR(b *Block) []string {
	var out []string
	if m, ok := b.str(b.Body, "image_tag_mutability"); !ok || m != "IMMUTABLE" {
		out = append(out, `image_tag_mutability must be "IMMUTABLE"`)
	}
	encs := blocks(b.Body, "encryption_configuration")
	if len(encs) == 0 {
		return append(out, "no encryption_configuration: the repository would use AES256 with an AWS key")
	}
	for _, enc := range encs {
		if t, ok := b.str(enc, "encryption_type"); !ok || t != "KMS" {
			out = append(out, `encryption_configuration.encryption_type must be "KMS"`)
		}
		if !b.isSet(enc, "kms_key") {
			out = append(out, "encryption_configuration.kms_key is not set: without it ECR uses the AWS managed aws/ecr key")
		}
	}
	return out
}

func checkKMSRotation(b *Block) []string {
	if !b.isTrue(b.Body, "enable_key_rotation") {
		return []string{"enable_key_rotation must be true"}
	}
	return nil
}

func checkRDSPrivate(b *Block) []string {
	if _, ok := attr(b.Body, "publicly_accessible"); !ok {
		return []string{"publicly_accessible must be set to false explicitly"}
	}
	if !b.isFalse(b.Body, "publicly_accessible") {
		return []string{"publicly_accessible must be false"}
	}
	return nil
}

// isOpenCIDR reports whether cidr covers the whole address space (/0).
func isOpenCIDR(cidr string) bool {
	_, n, err := net.ParseCIDR(strings.TrimSpace(cidr))
	if err != nil {
		return false
	}
	ones, _ := n.Mask.Size()
	return ones == 0
}

func anyOpen(cidrs []string) (string, bool) {
	for _, c := range cidrs {
		if isOpenCIDR(c) {
			return c, true
		}
	}
	return "", false
}

// webPortOnly reports whether a rule admits exactly TCP 80 or exactly TCP 443.
func webPortOnly(b *Block, body *hclsyntax.Body, protoAttr string) bool {
	proto, ok := b.str(body, protoAttr)
	if !ok || (proto != "tcp" && proto != "6") {
		return false
	}
	from, ok1 := b.number(body, "from_port")
	to, ok2 := b.number(body, "to_port")
	return ok1 && ok2 && from == to && (from == 80 || from == 443)
}

func checkOpenIngress(b *Block) []string {
	var out []string
	report := func(body *hclsyntax.Body, what, protoAttr string, cidrAttrs ...string) {
		for _, a := range cidrAttrs {
			known, _ := b.strings(body, a)
			if c, open := anyOpen(known); open && !webPortOnly(b, body, protoAttr) {
				out = append(out, fmt.Sprintf("%s admits %s (%s) on something other than TCP 80/443", what, c, a))
			}
		}
	}
	switch b.Type {
	case "aws_security_group":
		for _, in := range blocks(b.Body, "ingress") {
			report(in, "inline ingress", "protocol", "cidr_blocks", "ipv6_cidr_blocks")
		}
	case "aws_security_group_rule":
		// An ingress rule, or one whose type cannot be resolved.
		if t, ok := b.str(b.Body, "type"); ok && t != "ingress" {
			return nil
		}
		report(b.Body, "ingress rule", "protocol", "cidr_blocks", "ipv6_cidr_blocks")
	case "aws_vpc_security_group_ingress_rule":
		report(b.Body, "ingress rule", "ip_protocol", "cidr_ipv4", "cidr_ipv6")
	}
	return out
}

// appRoleDoc matches the names of policy documents attached to app roles.
var appRoleDoc = regexp.MustCompile(`^(api|worker|keda)([_-].*)?$`)

func appPolicyDocument(b *Block) bool {
	return b.Kind == "data" && b.Type == "aws_iam_policy_document" && appRoleDoc.MatchString(b.Name)
}

func checkAppActions(b *Block) []string {
	var out []string
	for i, st := range blocks(b.Body, "statement") {
		if _, ok := attr(st, "not_actions"); ok {
			out = append(out, fmt.Sprintf("statement %d uses not_actions, which grants everything else", i))
		}
		actions, unknown := b.strings(st, "actions")
		if unknown {
			out = append(out, fmt.Sprintf("statement %d has actions the checker cannot resolve; app roles list their actions literally", i))
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				out = append(out, fmt.Sprintf("statement %d grants %q: app roles name each action, never \"*\" or \"service:*\"", i, a))
			}
		}
	}
	return out
}

func checkPolicySource(b *Block) []string {
	var out []string
	check := func(body *hclsyntax.Body, what string) {
		expr, ok := attr(body, "policy")
		if !ok {
			return
		}
		for _, tr := range expr.Variables() {
			if tr.RootName() == "data" && len(tr) > 1 {
				if step, ok := tr[1].(hcl.TraverseAttr); ok && step.Name == "aws_iam_policy_document" {
					return
				}
			}
		}
		out = append(out, what+" is not taken from a data.aws_iam_policy_document")
	}
	if b.Type == "aws_iam_role" {
		for _, ip := range blocks(b.Body, "inline_policy") {
			check(ip, "inline_policy.policy")
		}
		return out
	}
	check(b.Body, "policy")
	return out
}
