# What an operator supplies for dev (terraform.tfvars); the sizing is in
# main.tf and the modules validate the rest.

variable "aws_account_id" {
  description = "The dev AWS account; the provider refuses to run against any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of dev, e.g. \"eu-west-1\" (the provider checks the name); the platform uses its first three zones."
  type        = string
}

variable "domain_name" {
  description = "Host name dev is served on, e.g. \"flask.dev.example.com\"."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone for the certificate's validation records; null to create them by hand."
  type        = string
  default     = null
}

variable "cluster_admin_principal_arns" {
  description = "IAM roles given cluster-admin in dev (the platform team's SSO role, CI's deploy role)."
  type        = list(string)
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "Office or VPN egress CIDRs that may reach dev's Kubernetes API from the internet; empty keeps it private. Never 0.0.0.0/0."
  type        = list(string)
  default     = []
}

variable "ecr_repository_prefix" {
  description = "\"dev/\" when dev shares its AWS account with prod (the repository names would clash); empty otherwise."
  type        = string
  default     = ""
}

variable "extra_tags" {
  description = "Tags added to every resource besides Project, Environment, ManagedBy, Repository and TerraformRoot, e.g. { CostCenter = \"platform\" }."
  type        = map(string)
  default     = {}
}
