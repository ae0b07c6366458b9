variable "name" {
  description = "Name of the EKS cluster, e.g. \"flask-prod\"; also the prefix of its IAM roles and log group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lowercase letters, digits and dashes, starting with a letter (IAM role names built from it must stay under 64 characters)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes, e.g. \"1.34\". Upgrade one minor version at a time."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like \"1.34\"."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the cluster runs in."
  type        = string

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "The three private subnets (one per zone) for the control plane ENIs and the nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 3 && alltrue([for s in var.subnet_ids : startswith(s, "subnet-")])
    error_message = "subnet_ids must be exactly three subnet IDs, one per availability zone."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API over the internet. Empty (the default) keeps the endpoint private: reach it from inside the VPC (VPN, SSM bastion, in-VPC CI runner). Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "endpoint_public_access_cidrs must be valid CIDRs and none may be a /0: list the office or CI egress ranges instead."
  }
}

variable "secrets_kms_key_arn" {
  description = "ARN of the KMS key for envelope encryption of Kubernetes Secrets."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "ARN of the KMS key for the control-plane log group; its key policy must admit CloudWatch Logs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "ebs_kms_key_arn" {
  description = "ARN of the KMS key for node root volumes and EBS CSI volumes; its key policy must admit the Auto Scaling service-linked role."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.ebs_kms_key_arn))
    error_message = "ebs_kms_key_arn must be a KMS key ARN."
  }
}

variable "control_plane_log_types" {
  description = "Control-plane logs sent to CloudWatch. All five by default; \"audit\" is the one security reviews need."
  type        = set(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  validation {
    condition     = length(setsubtract(var.control_plane_log_types, ["api", "audit", "authenticator", "controllerManager", "scheduler"])) == 0
    error_message = "control_plane_log_types may only hold api, audit, authenticator, controllerManager and scheduler."
  }
}

variable "log_retention_days" {
  description = "Days to keep control-plane logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "node_group" {
  description = "The managed node group, spread over the three subnets. The Cluster Autoscaler moves the size between min_size and max_size; desired_size only seeds it."
  type = object({
    instance_types = optional(list(string), ["m7i.large"])
    capacity_type  = optional(string, "ON_DEMAND")
    ami_type       = optional(string, "AL2023_x86_64_STANDARD")
    min_size       = optional(number, 3)
    max_size       = optional(number, 12)
    desired_size   = optional(number, 3)
    disk_size_gib  = optional(number, 50)
    labels         = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = length(var.node_group.instance_types) > 0
    error_message = "node_group.instance_types must list at least one instance type."
  }

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_group.capacity_type)
    error_message = "node_group.capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = var.node_group.min_size >= 0 && var.node_group.min_size <= var.node_group.desired_size && var.node_group.desired_size <= var.node_group.max_size && var.node_group.max_size >= 1
    error_message = "node_group sizes must satisfy 0 <= min_size <= desired_size <= max_size, with max_size >= 1."
  }

  validation {
    condition     = var.node_group.disk_size_gib >= 20 && var.node_group.disk_size_gib <= 1000
    error_message = "node_group.disk_size_gib must be between 20 and 1000."
  }
}

variable "admin_principal_arns" {
  description = "IAM roles or users given cluster-admin through EKS access entries (the cluster creator gets nothing implicitly). Typically the platform team's SSO role and the deploy role of CI."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "admin_principal_arns must be IAM role or user ARNs."
  }
}

variable "addon_versions" {
  description = "Pinned versions of EKS add-ons by name (e.g. { \"vpc-cni\" = \"v1.20.4-eksbuild.1\" }); an add-on left out gets the default version for the cluster's Kubernetes version."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setsubtract(keys(var.addon_versions), ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"])) == 0
    error_message = "addon_versions keys must be among vpc-cni, kube-proxy, coredns, eks-pod-identity-agent, aws-ebs-csi-driver."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags); also put on the instances and volumes the node group launches."
  type        = map(string)
  default     = {}
}
