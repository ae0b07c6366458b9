variable "repositories" {
  description = "Names of the ECR repositories to create (the images the chart deploys)."
  type        = set(string)
  default     = ["flask-api", "flask-worker"]

  validation {
    condition     = length(var.repositories) > 0 && alltrue([for r in var.repositories : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", r))])
    error_message = "repositories must hold at least one lowercase ECR name (letters, digits, and . _ - between them)."
  }
}

variable "name_prefix" {
  description = "Namespace in front of every repository name, e.g. \"dev/\" when dev and prod share an account; empty for none."
  type        = string
  default     = ""

  validation {
    condition     = var.name_prefix == "" || can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*/$", var.name_prefix))
    error_message = "name_prefix must be empty or lowercase path segments ending with \"/\", e.g. \"dev/\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the images at rest."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "keep_tagged_images" {
  description = "How many tagged images each repository keeps (the oldest beyond this expire). Keep enough for rollbacks."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_tagged_images >= 1 && var.keep_tagged_images <= 10000
    error_message = "keep_tagged_images must be between 1 and 10000."
  }
}

variable "untagged_expire_days" {
  description = "Days after which untagged images (superseded build layers, failed pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expire_days >= 1 && var.untagged_expire_days <= 3650
    error_message = "untagged_expire_days must be between 1 and 3650."
  }
}

variable "force_delete" {
  description = "Let `terraform destroy` delete repositories that still hold images (dev teardown). Keep false in prod."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every repository (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
