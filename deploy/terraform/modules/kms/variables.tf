variable "alias" {
  description = "Alias of the key without the \"alias/\" prefix, e.g. \"flask-prod-sqs\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,250}$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "alias must be 1-250 characters of [a-zA-Z0-9/_-] and must not start with \"aws/\" (reserved for AWS managed keys)."
  }
}

variable "description" {
  description = "What the key protects; shown in the KMS console."
  type        = string

  validation {
    condition     = length(var.description) > 0 && length(var.description) <= 8192
    error_message = "description must be 1-8192 characters."
  }
}

variable "deletion_window_in_days" {
  description = "Days between scheduling deletion of the key and its deletion (7-30). A deleted key makes everything it encrypted unreadable, so prod should keep 30."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "rotation_period_in_days" {
  description = "Days between automatic rotations of the key material (90-2560). Rotation is always on."
  type        = number
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560
    error_message = "rotation_period_in_days must be between 90 and 2560."
  }
}

variable "allow_cloudwatch_logs" {
  description = "Let the CloudWatch Logs service use the key for log groups in this account and region (needed for any log group encrypted with it)."
  type        = bool
  default     = false
}

variable "allow_autoscaling_service_role" {
  description = "Let the EC2 Auto Scaling service-linked role use the key, which is needed when node volumes of an Auto Scaling group are encrypted with it. The role (AWSServiceRoleForAutoScaling) must already exist in the account."
  type        = bool
  default     = false
}

variable "administrator_arns" {
  description = "IAM role or user ARNs that may manage (but not use) the key. The account root always keeps full access so IAM policies in the account can grant use of the key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.administrator_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "administrator_arns must be IAM role or user ARNs."
  }
}

variable "tags" {
  description = "Tags added to the key (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
