# Defaults are the safe choice (highly available, protected, long retention):
# a new environment that forgets a knob gets prod behaviour, not dev's.
# envs/dev turns them down explicitly.

variable "environment" {
  description = "Environment name, e.g. \"dev\" or \"prod\"; every resource is named flask-<environment>-..."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters and digits, starting with a letter (e.g. dev, prod, staging); it ends up in IAM role, RDS and EKS names with length limits."
  }
}

variable "availability_zones" {
  description = "The three availability zones to spread subnets, nodes and the database standby over. Null (the default) takes the first three zones of the provider's region that need no opt-in."
  type        = list(string)
  default     = null

  validation {
    condition = var.availability_zones == null ? true : (
      length(var.availability_zones) == 3 &&
      length(distinct(var.availability_zones)) == 3 &&
      alltrue([for az in var.availability_zones : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", az))]) &&
      length(distinct([for az in var.availability_zones : substr(az, 0, length(az) - 1)])) == 1
    )
    error_message = "availability_zones must be null or three distinct zones of one region, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC, /16 to /19; must not overlap networks you peer with or reach over VPN."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && contains(["16", "17", "18", "19"], try(split("/", var.vpc_cidr)[1], ""))
    error_message = "vpc_cidr must be an IPv4 CIDR between /16 and /19."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the VPC instead of one per zone: about $70 a month cheaper, but losing that zone cuts all egress."
  type        = bool
  default     = false
}

variable "vpc_interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of NAT (about $22 a month each over three zones); an empty set sends that traffic through NAT at $0.045/GB."
  type        = set(string)
  default     = ["sqs", "ecr.api", "ecr.dkr", "sts", "logs"]

  validation {
    condition     = alltrue([for s in var.vpc_interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "vpc_interface_endpoints must be service short names such as \"sqs\" or \"ecr.api\"."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version, e.g. \"1.34\"; one in standard support (aws eks describe-cluster-versions). Upgrade dev first, one minor at a time."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like \"1.34\"."
  }
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs that may reach the Kubernetes API from the internet; empty (the default) keeps it private, reachable from the VPC only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.cluster_endpoint_public_access_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "cluster_endpoint_public_access_cidrs must be valid CIDRs and none may be a /0."
  }
}

variable "cluster_admin_principal_arns" {
  description = "IAM roles or users given cluster-admin through EKS access entries (the platform team's SSO role, CI's deploy role); nobody is admin implicitly."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admin_principal_arns) > 0 && alltrue([for arn in var.cluster_admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "cluster_admin_principal_arns must name at least one IAM role or user ARN, or nobody can administer the cluster."
  }
}

variable "nodes" {
  description = "The managed node group: instance types (several spread SPOT risk), ON_DEMAND or SPOT, and the bounds the Cluster Autoscaler moves within when KEDA scales workers out (min_size is also the starting size; max_size is the cost ceiling)."
  type = object({
    instance_types = optional(list(string), ["m7i.large"])
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = optional(number, 3)
    max_size       = optional(number, 15)
  })
  default = {}

  validation {
    condition     = length(var.nodes.instance_types) > 0 && contains(["ON_DEMAND", "SPOT"], var.nodes.capacity_type)
    error_message = "nodes needs at least one instance type and a capacity_type of ON_DEMAND or SPOT."
  }

  validation {
    condition     = var.nodes.min_size >= 1 && var.nodes.min_size <= var.nodes.max_size
    error_message = "nodes.min_size must be at least 1 and at most nodes.max_size."
  }
}

variable "kubernetes_namespace" {
  description = "Namespace the chart installs Flask into; the API and worker roles are bound to service accounts there."
  type        = string
  default     = "flask"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.kubernetes_namespace))
    error_message = "kubernetes_namespace must be a valid Kubernetes namespace name."
  }
}

variable "queues" {
  description = "Flask queue names; each becomes an SQS queue flask-<environment>-<name> with a dead-letter queue."
  type        = set(string)
  default     = ["default"]

  validation {
    condition     = length(var.queues) > 0
    error_message = "queues must name at least one queue."
  }
}

variable "sqs" {
  description = "SQS settings of every queue: the default visibility timeout (Flask workers set their own on every receive and extend it while a job runs), retention of unconsumed messages, and receives before a message is dead-lettered."
  type = object({
    visibility_timeout_seconds = optional(number, 300)
    message_retention_seconds  = optional(number, 345600)
    max_receive_count          = optional(number, 5)
  })
  default = {}

  validation {
    condition     = var.sqs.visibility_timeout_seconds <= 43200 && var.sqs.message_retention_seconds >= 60 && var.sqs.message_retention_seconds <= 1209600 && var.sqs.max_receive_count >= 1
    error_message = "sqs: visibility_timeout_seconds at most 43200, message_retention_seconds 60-1209600, max_receive_count at least 1."
  }
}

variable "database" {
  description = "RDS PostgreSQL: engine version (15 or 16), instance class, initial storage in GiB (grows automatically), Multi-AZ standby, days of backups, deletion protection, final snapshot, Enhanced Monitoring interval (0 = off) and whether changes apply now or in the maintenance window."
  type = object({
    engine_version        = optional(string, "16")
    instance_class        = optional(string, "db.m7g.large")
    allocated_storage_gib = optional(number, 100)
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 14)
    deletion_protection   = optional(bool, true)
    skip_final_snapshot   = optional(bool, false)
    monitoring_interval   = optional(number, 60)
    apply_immediately     = optional(bool, false)
  })
  default = {}

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.database.instance_class)) && can(regex("^1[56](\\.[0-9]+)?$", var.database.engine_version))
    error_message = "database.instance_class must look like db.<family>.<size> and database.engine_version must be PostgreSQL 15 or 16."
  }

  validation {
    condition     = !var.database.deletion_protection || (var.database.backup_retention_days >= 1 && !var.database.skip_final_snapshot)
    error_message = "a deletion-protected database must also keep backups (backup_retention_days >= 1) and a final snapshot (skip_final_snapshot = false)."
  }
}

variable "domain_name" {
  description = "Host name Flask is served on, e.g. \"flask.example.com\"; the certificate is issued for it and the chart's Ingress uses it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase fully qualified domain name, e.g. flask.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone for the certificate's validation records; null to create them by hand from the certificate_validation_records output."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be null or a hosted zone ID (Z...)."
  }
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client IP per 5 minutes before WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit_per_5_minutes >= 10
    error_message = "waf_rate_limit_per_5_minutes must be at least 10."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (flow logs, control plane, database, WAF)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a deleted KMS key is gone (7-30); everything it encrypted is unreadable after that."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "kms_administrator_arns" {
  description = "IAM roles that may manage (not use) the KMS keys, e.g. a security team's SSO role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.kms_administrator_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:.+$", arn))])
    error_message = "kms_administrator_arns must be IAM ARNs."
  }
}

variable "ecr_repository_prefix" {
  description = "Prefix of the ECR repository names, e.g. \"dev/\" when two environments share an account; empty otherwise."
  type        = string
  default     = ""

  validation {
    condition     = var.ecr_repository_prefix == "" || endswith(var.ecr_repository_prefix, "/")
    error_message = "ecr_repository_prefix must be empty or end with \"/\", e.g. \"dev/\"."
  }
}

variable "ecr_force_delete" {
  description = "Let a teardown delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the platform on top of the provider's default_tags (which the node group's instances and volumes also get)."
  type        = map(string)
  default     = {}
}
