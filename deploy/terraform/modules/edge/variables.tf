variable "name" {
  description = "Name prefix of the web ACL and its metrics, e.g. \"flask-prod\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,100}$", var.name))
    error_message = "name must be 1-100 letters, digits and dashes."
  }
}

variable "domain_name" {
  description = "Domain the Flask API and UI are served on, e.g. \"flask.example.com\"; the certificate is issued for it."
  type        = string

  validation {
    condition     = can(regex("^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase fully qualified domain name, e.g. flask.example.com."
  }
}

variable "subject_alternative_names" {
  description = "Further names on the certificate, e.g. [\"api.flask.example.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.subject_alternative_names : can(regex("^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", n))])
    error_message = "subject_alternative_names must be lowercase fully qualified domain names."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone to write the DNS validation records into and wait for issuance. Null when DNS is elsewhere: create the records from the certificate_validation_records output by hand."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be null or a hosted zone ID (Z...)."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one client IP may send in any 5 minutes before the web ACL blocks it (10 - 2000000000). Size it above what a busy CI pipeline enqueueing jobs sends."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit_per_5_minutes >= 10 && var.rate_limit_per_5_minutes <= 2000000000
    error_message = "rate_limit_per_5_minutes must be between 10 and 2000000000."
  }
}

variable "common_rule_set_count_only" {
  description = "Rules of AWSManagedRulesCommonRuleSet switched from block to count. SizeRestrictions_BODY blocks bodies over 8 KB, which job payloads can exceed; the API enforces its own body limit."
  type        = set(string)
  default     = ["SizeRestrictions_BODY"]
}

variable "logs_kms_key_arn" {
  description = "ARN of the KMS key for the WAF log group; its key policy must admit CloudWatch Logs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Days to keep WAF logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
