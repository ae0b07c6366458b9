variable "name" {
  description = "Name prefix for every resource, e.g. \"flask-prod\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC, /16 to /19. Private (node and pod) subnets take 3/8 of it, public and isolated subnets 1/256 each per zone."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(try(split("/", var.cidr)[1], "0")) >= 16 && tonumber(try(split("/", var.cidr)[1], "0")) <= 19
    error_message = "cidr must be a valid IPv4 CIDR between /16 and /19 (a /19 still leaves the /27 public subnets an ALB needs)."
  }
}

variable "azs" {
  description = "The three availability zones to spread subnets over, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3 && length(distinct(var.azs)) == 3
    error_message = "azs must list exactly three distinct availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the whole VPC (dev: cheaper, but losing its zone cuts egress everywhere) instead of one per zone (prod)."
  type        = bool
  default     = false
}

variable "cluster_name" {
  description = "Name of the EKS cluster that uses the subnets; tagged as kubernetes.io/cluster/<name> = shared for the AWS load balancer controller."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be a valid EKS cluster name (letter first, then letters, digits, - or _, at most 100)."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints in the private subnets instead of through NAT. Each costs per hour per zone; sqs, ecr.api, ecr.dkr, sts and logs are what workers and nodes use constantly."
  type        = set(string)
  default     = ["sqs", "ecr.api", "ecr.dkr", "sts", "logs"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints must be service short names such as \"sqs\" or \"ecr.api\"."
  }
}

variable "flow_logs_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow log group; the key policy must admit CloudWatch Logs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.flow_logs_kms_key_arn))
    error_message = "flow_logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_logs_retention_days" {
  description = "Days to keep VPC flow logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "flow_logs_traffic_type" {
  description = "Which traffic the flow logs record: ALL (default; what an investigation wants), or ACCEPT / REJECT to cut log volume."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ACCEPT", "REJECT"], var.flow_logs_traffic_type)
    error_message = "flow_logs_traffic_type must be ALL, ACCEPT or REJECT."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
