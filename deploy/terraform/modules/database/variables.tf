variable "identifier" {
  description = "RDS instance identifier, e.g. \"flask-prod\"; also names its subnet group, parameter group, security group and log groups."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}[a-z0-9]$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "identifier must be 2-52 lowercase letters, digits and single dashes, starting with a letter and not ending with a dash."
  }
}

variable "engine_version" {
  description = "PostgreSQL version: a major (\"16\", RDS picks the newest minor and upgrades minors automatically) or a full version (\"16.6\"). 15 and 16 are supported."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^1[56](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 15 or 16, e.g. \"16\" or \"16.6\"."
  }
}

variable "instance_class" {
  description = "RDS instance class, e.g. \"db.t4g.medium\" (dev) or \"db.m7g.large\" (prod)."
  type        = string

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>, e.g. db.m7g.large."
  }
}

variable "allocated_storage_gib" {
  description = "Initial gp3 storage in GiB (20-65536)."
  type        = number
  default     = 50

  validation {
    condition     = var.allocated_storage_gib >= 20 && var.allocated_storage_gib <= 65536
    error_message = "allocated_storage_gib must be between 20 and 65536."
  }
}

variable "max_allocated_storage_gib" {
  description = "Ceiling for storage autoscaling in GiB; 0 turns autoscaling off."
  type        = number
  default     = 500

  validation {
    condition     = var.max_allocated_storage_gib == 0 || (var.max_allocated_storage_gib >= var.allocated_storage_gib && var.max_allocated_storage_gib <= 65536)
    error_message = "max_allocated_storage_gib must be 0 or between allocated_storage_gib and 65536."
  }
}

variable "db_name" {
  description = "Name of the database Flask uses."
  type        = string
  default     = "flask"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a lowercase letter and hold up to 63 lowercase letters, digits and underscores."
  }
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager; it never appears in Terraform or its state."
  type        = string
  default     = "flask_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin", "rdsrepladmin"], var.master_username)
    error_message = "master_username must be a lowercase identifier and not a reserved name (admin, postgres, rdsadmin, rdsrepladmin)."
  }
}

variable "multi_az" {
  description = "Run a synchronous standby in another zone with automatic failover (prod). Doubles the instance cost."
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery (0-35; 0 disables backups, allowed only when deletion_protection is off)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 0 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 0 and 35."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (prod). Turn off in a separate apply before a teardown."
  type        = bool

  validation {
    condition     = !var.deletion_protection || var.backup_retention_days > 0
    error_message = "a protected database must also have backups: set backup_retention_days > 0."
  }
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot. Keep false unless the data is disposable (a dev teardown)."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "The isolated subnets (no route out of the VPC) to place the instance in; at least two zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : startswith(s, "subnet-")])
    error_message = "subnet_ids must list at least two subnet IDs in different zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups admitted on 5432, by a stable name, e.g. { eks-cluster = <cluster security group id> }. Nothing else reaches the database."
  type        = map(string)

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group, or nothing can reach the database."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for storage, snapshots, Performance Insights and the master user secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "ARN of the KMS key for the PostgreSQL log groups; its key policy must admit CloudWatch Logs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Days to keep PostgreSQL logs in CloudWatch."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "performance_insights_retention_days" {
  description = "Days of Performance Insights history: 7 is free, otherwise a multiple of 31 up to 731."
  type        = number
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days >= 31 && var.performance_insights_retention_days <= 731)
    error_message = "performance_insights_retention_days must be 7 or a multiple of 31 between 31 and 731."
  }
}

variable "monitoring_interval" {
  description = "Seconds between Enhanced Monitoring (OS metrics) samples; 0 turns it off. Allowed: 0, 1, 5, 10, 15, 30, 60."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "backup_window" {
  description = "Daily UTC window for automated backups, hh24:mi-hh24:mi; must not overlap maintenance_window."
  type        = string
  default     = "02:00-03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_window))
    error_message = "backup_window must look like 02:00-03:00."
  }
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window, ddd:hh24:mi-ddd:hh24:mi."
  type        = string
  default     = "sun:03:30-sun:04:30"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window))
    error_message = "maintenance_window must look like sun:03:30-sun:04:30."
  }
}

variable "apply_immediately" {
  description = "Apply modifications now instead of in the next maintenance window (dev: true; prod: false, so a class change does not restart the database mid-day)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
