variable "aws_account_id" {
  description = "The AWS account the state bucket lives in; the provider refuses to run against any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the state bucket, e.g. \"eu-west-1\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "state_bucket_name" {
  description = "Globally unique name of the S3 bucket for Terraform state, e.g. \"flaskhq-terraform-state-123456789012\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.state_bucket_name)) && !strcontains(var.state_bucket_name, "--")
    error_message = "state_bucket_name must be 3-63 lowercase letters, digits and single dashes (no dots: they break TLS virtual-host addressing)."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days to keep superseded state versions (the undo history of every apply)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "create_autoscaling_service_linked_role" {
  description = "Create AWSServiceRoleForAutoScaling. The envs' EBS key policy names it, so it must exist before them; it exists already in any account that ever created an Auto Scaling group (then leave this false, or the apply fails)."
  type        = bool
  default     = false
}

variable "extra_tags" {
  description = "Tags added to every resource besides Project, ManagedBy and Component, e.g. { CostCenter = \"platform\" }."
  type        = map(string)
  default     = {}
}
