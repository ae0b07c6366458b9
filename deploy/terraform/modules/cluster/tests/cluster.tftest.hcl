mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-west-1:123456789012:cluster/flask-test"
      certificate_authority = [{ data = "bW9jaw==" }]
    }
  }
  mock_resource "aws_launch_template" {
    defaults = {
      id             = "lt-0123456789abcdef0"
      latest_version = 1
    }
  }
  mock_resource "aws_eks_node_group" {
    defaults = {
      resources = [{ autoscaling_groups = [{ name = "eks-flask-test-default-asg" }], remote_access_security_group_id = "" }]
    }
  }
}

variables {
  name                = "flask-test"
  kubernetes_version  = "1.34"
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0a", "subnet-0b", "subnet-0c"]
  secrets_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/secrets"
  logs_kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/logs"
  ebs_kms_key_arn     = "arn:aws:kms:eu-west-1:123456789012:key/ebs"
}

run "private_endpoint_and_encryption" {
  command = apply

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_private_access && !aws_eks_cluster.this.vpc_config[0].endpoint_public_access
    error_message = "the API endpoint must be private unless CIDRs are given."
  }

  assert {
    condition     = aws_eks_cluster.this.encryption_config[0].provider[0].key_arn == var.secrets_kms_key_arn && aws_eks_cluster.this.encryption_config[0].resources == toset(["secrets"])
    error_message = "Secrets must be envelope-encrypted with our key."
  }

  assert {
    condition     = contains(aws_eks_cluster.this.enabled_cluster_log_types, "audit") && length(aws_eks_cluster.this.enabled_cluster_log_types) == 5
    error_message = "all control-plane logs, audit included, must be on by default."
  }

  assert {
    condition     = aws_cloudwatch_log_group.cluster.name == "/aws/eks/flask-test/cluster" && aws_cloudwatch_log_group.cluster.kms_key_id == var.logs_kms_key_arn
    error_message = "the control-plane log group must be pre-created with our key under the name EKS writes to."
  }

  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API" && !aws_eks_cluster.this.access_config[0].bootstrap_cluster_creator_admin_permissions
    error_message = "access must go through access entries only, with no implicit creator admin."
  }

  assert {
    condition     = aws_eks_node_group.this.subnet_ids == toset(var.subnet_ids)
    error_message = "the node group must span the three private subnets."
  }

  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "nodes must require IMDSv2 and keep IMDS out of pods' reach."
  }

  assert {
    condition     = aws_launch_template.node.block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.node.block_device_mappings[0].ebs[0].kms_key_id == var.ebs_kms_key_arn
    error_message = "node volumes must be encrypted with our key."
  }

  assert {
    condition     = aws_eks_node_group.this.tags["k8s.io/cluster-autoscaler/enabled"] == "true" && aws_eks_node_group.this.tags["k8s.io/cluster-autoscaler/flask-test"] == "owned"
    error_message = "the node group must carry the Cluster Autoscaler discovery tags."
  }

  assert {
    condition     = one(aws_eks_addon.vpc_cni.pod_identity_association).service_account == "aws-node" && one(aws_eks_addon.ebs_csi.pod_identity_association).service_account == "ebs-csi-controller-sa"
    error_message = "vpc-cni and the EBS CSI driver get their IAM through Pod Identity."
  }

  assert {
    condition     = toset([for a in [aws_eks_addon.vpc_cni, aws_eks_addon.kube_proxy, aws_eks_addon.coredns, aws_eks_addon.pod_identity_agent, aws_eks_addon.ebs_csi] : a.addon_name]) == toset(["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"])
    error_message = "the five core add-ons must be installed."
  }

  assert {
    condition     = length(aws_eks_access_entry.admin) == 0
    error_message = "no admin access entry unless asked for."
  }
}

run "public_allow_list_and_admins" {
  command = apply

  variables {
    endpoint_public_access_cidrs = ["203.0.113.0/24"]
    admin_principal_arns         = ["arn:aws:iam::123456789012:role/platform-admin"]
    node_group = {
      min_size     = 0
      desired_size = 1
      labels       = { workload = "flask" }
    }
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access && aws_eks_cluster.this.vpc_config[0].public_access_cidrs == toset(["203.0.113.0/24"])
    error_message = "the public endpoint must open to the listed CIDRs only."
  }

  assert {
    condition     = aws_eks_access_policy_association.admin["arn:aws:iam::123456789012:role/platform-admin"].policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    error_message = "admins get the cluster admin access policy."
  }

  assert {
    condition     = aws_autoscaling_group_tag.node_labels["workload"].tag[0].key == "k8s.io/cluster-autoscaler/node-template/label/workload"
    error_message = "node labels must be tagged on the ASG so the autoscaler can scale from zero."
  }
}

run "rejects_world_open_api" {
  command = plan

  variables {
    endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.endpoint_public_access_cidrs]
}

run "rejects_inverted_sizes" {
  command = plan

  variables {
    node_group = {
      min_size     = 5
      desired_size = 3
      max_size     = 4
    }
  }

  expect_failures = [var.node_group]
}
