variable "name_prefix" {
  description = "Prefix of every queue name: queue \"default\" with prefix \"flask-prod\" becomes \"flask-prod-default\" and its dead-letter queue \"flask-prod-default-dlq\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters of letters, digits, - and _."
  }
}

variable "queues" {
  description = "Names of the Flask queues (as the API and workers call them); each gets an SQS queue and a dead-letter queue."
  type        = set(string)
  default     = ["default"]

  validation {
    condition     = length(var.queues) > 0 && alltrue([for q in var.queues : can(regex("^[a-z0-9][a-z0-9_-]{0,34}$", q))])
    error_message = "queues must hold at least one name of 1-35 lowercase letters, digits, - and _ (the SQS name, prefix and -dlq included, must fit 80 characters)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the queues (SSE-KMS). Producers need kms:GenerateDataKey and consumers kms:Decrypt on it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again (60-86400). Longer means fewer KMS calls (cost) and a slightly larger blast radius per key."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be between 60 and 86400."
  }
}

variable "visibility_timeout_seconds" {
  description = "Default time a received message stays hidden from other consumers (0-43200). Flask workers ask for FLASK_SQS_VISIBILITY_TIMEOUT on every receive and extend it while a job runs, so this only applies to other consumers of the queue."
  type        = number
  default     = 300

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long an unconsumed message is kept (60-1209600, i.e. up to 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queues (60-1209600). SQS keeps a message's original enqueue time when it moves to the DLQ, so this must be at least message_retention_seconds or dead messages expire early."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }

  validation {
    condition     = var.dlq_message_retention_seconds >= var.message_retention_seconds
    error_message = "dlq_message_retention_seconds must be at least message_retention_seconds: a message keeps its original age in the DLQ."
  }
}

variable "max_receive_count" {
  description = "Receives after which SQS moves a message to its dead-letter queue (1-1000). Flask retries with backoff and hands jobs back by publishing afresh, so this counts workers dying with a message; Flask's relay then rescues the job (FLASK_RESCUE_AFTER)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-poll wait of ReceiveMessage (0-20). 20 keeps empty receives, and their cost, down."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "tags" {
  description = "Tags added to every queue (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
