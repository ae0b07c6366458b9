variable "name_prefix" {
  description = "Prefix of the IAM role names, e.g. \"flask-prod\" gives \"flask-prod-api\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,32}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 characters valid in IAM role names."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster the Pod Identity associations are made in; roles trust only sessions from it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be a valid EKS cluster name."
  }
}

variable "service_accounts" {
  description = "Kubernetes namespace and service account of each role. The chart must create the app service accounts with these names; Pod Identity matches on namespace + name, no annotation needed."
  type = object({
    api                       = optional(object({ namespace = string, name = string }), { namespace = "flask", name = "flask-api" })
    worker                    = optional(object({ namespace = string, name = string }), { namespace = "flask", name = "flask-worker" })
    keda                      = optional(object({ namespace = string, name = string }), { namespace = "keda", name = "keda-operator" })
    load_balancer_controller  = optional(object({ namespace = string, name = string }), { namespace = "kube-system", name = "aws-load-balancer-controller" })
    cluster_autoscaler        = optional(object({ namespace = string, name = string }), { namespace = "kube-system", name = "cluster-autoscaler" })
    external_secrets_operator = optional(object({ namespace = string, name = string }), { namespace = "external-secrets", name = "external-secrets" })
  })
  default = {}

  validation {
    condition = alltrue([
      for sa in values(var.service_accounts) :
      can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", sa.namespace)) && can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", sa.name))
    ])
    error_message = "namespaces and service account names must be valid Kubernetes (DNS-1123) names."
  }
}

variable "queue_arns" {
  description = "ARNs of the Flask queues by Flask queue name (module queues, output queue_arns)."
  type        = map(string)

  validation {
    condition     = length(var.queue_arns) > 0 && alltrue([for a in values(var.queue_arns) : can(regex("^arn:aws[a-z-]*:sqs:", a))])
    error_message = "queue_arns must map at least one queue name to an SQS queue ARN."
  }
}

variable "dlq_arns" {
  description = "ARNs of the dead-letter queues by Flask queue name; workers may read their attributes (SQS redrive fills them)."
  type        = map(string)

  validation {
    condition     = alltrue([for a in values(var.dlq_arns) : can(regex("^arn:aws[a-z-]*:sqs:", a))])
    error_message = "dlq_arns must hold SQS queue ARNs."
  }
}

variable "sqs_kms_key_arn" {
  description = "ARN of the KMS key the queues are encrypted with."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.sqs_kms_key_arn))
    error_message = "sqs_kms_key_arn must be a KMS key ARN."
  }
}

variable "db_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the database credentials (module database, output master_user_secret_arn). Only the External Secrets Operator may read it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.db_secret_arn))
    error_message = "db_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "db_secret_kms_key_arn" {
  description = "ARN of the KMS key the database secret is encrypted with."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.db_secret_kms_key_arn))
    error_message = "db_secret_kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags added to every role and association (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
