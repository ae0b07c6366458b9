# What an operator supplies for prod (terraform.tfvars); the sizing is in
# main.tf and the modules validate the rest.

variable "aws_account_id" {
  description = "The prod AWS account; the provider refuses to run against any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of prod, e.g. \"eu-west-1\" (the provider checks the name); the platform spreads over its first three zones."
  type        = string
}

variable "domain_name" {
  description = "Host name Flask is served on, e.g. \"flask.example.com\"."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone for the certificate's validation records; null to create them by hand."
  type        = string
  default     = null
}

variable "cluster_admin_principal_arns" {
  description = "IAM roles given cluster-admin in prod: the platform team's SSO role and CI's deploy role, nobody else."
  type        = list(string)
}

variable "kms_administrator_arns" {
  description = "Roles that may manage (schedule deletion of, change policies of) but not use prod's KMS keys, e.g. the security team's SSO role."
  type        = list(string)
  default     = []
}

variable "extra_tags" {
  description = "Tags added to every resource besides Project, Environment, ManagedBy, Repository and TerraformRoot, e.g. { CostCenter = \"platform\" }."
  type        = map(string)
  default     = {}
}
