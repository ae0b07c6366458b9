# Defaults here are the prod sizing; envs/dev/variables.tf holds the other
# environment's. Values that differ per account (ids, domain, CIDR allow-lists)
# have no default and come from terraform.tfvars.

variable "environment" {
  description = "Environment name; part of every resource name (flask-<environment>-...)."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "aws_account_id" {
  description = "The AWS account of this environment; the provider refuses to run against any other (a prod plan can never hit the dev account)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region, e.g. \"eu-west-1\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "availability_zones" {
  description = "Three availability zones of the region, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3 && alltrue([for az in var.availability_zones : startswith(az, var.region)])
    error_message = "availability_zones must be three zones of the chosen region."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /19); must not overlap networks you peer with or reach over VPN."
  type        = string
  default     = "10.20.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone: cheaper, but a zone outage cuts all egress."
  type        = bool
  default     = false
}

variable "vpc_interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of NAT (about $22 a month each over three zones); an empty set sends that traffic through NAT."
  type        = set(string)
  default     = ["sqs", "ecr.api", "ecr.dkr", "sts", "logs"]
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version, e.g. \"1.34\"; pick one in standard support (aws eks describe-cluster-versions)."
  type        = string
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs that may reach the Kubernetes API from the internet; empty keeps it private (reach it from the VPC)."
  type        = list(string)
  default     = []
}

variable "cluster_admin_principal_arns" {
  description = "IAM roles given cluster-admin (the platform team's SSO role, CI's deploy role)."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admin_principal_arns) > 0
    error_message = "cluster_admin_principal_arns must name at least one role, or nobody can administer the cluster."
  }
}

variable "node_instance_types" {
  description = "Instance types of the node group (several spread SPOT risk)."
  type        = list(string)
  default     = ["m7i.large"]
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT nodes."
  type        = string
  default     = "ON_DEMAND"
}

variable "node_min_size" {
  description = "Fewest nodes (also the starting size); at least one per zone in prod so a zone loss keeps capacity."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Most nodes the Cluster Autoscaler may add when KEDA scales workers out; the cost ceiling."
  type        = number
  default     = 15
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
}

variable "sqs_visibility_timeout_seconds" {
  description = "SQS visibility timeout; above the longest job plus the worker drain time."
  type        = number
  default     = 300
}

variable "sqs_message_retention_seconds" {
  description = "How long an unconsumed job message is kept."
  type        = number
  default     = 345600
}

variable "sqs_max_receive_count" {
  description = "Receives before SQS dead-letters a message."
  type        = number
  default     = 5
}

variable "db_engine_version" {
  description = "PostgreSQL version (15 or 16, major or full)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage_gib" {
  description = "Initial database storage in GiB (grows automatically up to 500)."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Synchronous standby in another zone with automatic failover."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups / point-in-time recovery."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot."
  type        = bool
  default     = false
}

variable "db_monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds, 0 for off."
  type        = number
  default     = 60
}

variable "db_apply_immediately" {
  description = "Apply database changes now rather than in the maintenance window."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Host name Flask is served on, e.g. \"flask.example.com\"."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone for certificate validation records; null to create them by hand."
  type        = string
  default     = null
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client IP per 5 minutes before WAF blocks it."
  type        = number
  default     = 2000
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (flow logs, control plane, database, WAF)."
  type        = number
  default     = 90
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a deleted KMS key is gone (7-30)."
  type        = number
  default     = 30
}

variable "kms_administrator_arns" {
  description = "Roles that may manage (not use) the KMS keys."
  type        = list(string)
  default     = []
}

variable "ecr_repository_prefix" {
  description = "Prefix of the ECR repository names (\"dev/\" when dev and prod share an account; empty otherwise)."
  type        = string
  default     = ""
}

variable "ecr_force_delete" {
  description = "Let a teardown delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "extra_tags" {
  description = "Tags added to every resource besides Project, Environment, ManagedBy, Repository and TerraformRoot, e.g. { CostCenter = \"platform\", Owner = \"team-flask\" }."
  type        = map(string)
  default     = {}
}
