# The Flask platform of one environment, composed from the other modules:
# KMS keys, network, EKS cluster, SQS queues, PostgreSQL, ECR, edge (ACM +
# WAF) and the Pod Identity roles. envs/<env> call it once with the sizing and
# protection of that environment; the provider (region, account guard,
# default_tags) and the state backend belong to the env.

data "aws_region" "current" {
  lifecycle {
    postcondition {
      condition     = alltrue([for az in local.azs : startswith(az, self.name)])
      error_message = "availability_zones must be zones of the provider's region."
    }
  }
}

# The provider's default_tags: instances and volumes launched by the node
# group's Auto Scaling group do not get them, so the cluster passes them on.
data "aws_default_tags" "current" {}

data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0

  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) >= 3
      error_message = "the region has fewer than three availability zones without opt-in; set availability_zones."
    }
  }
}

locals {
  name   = "flask-${var.environment}"
  region = data.aws_region.current.name
  azs    = var.availability_zones != null ? var.availability_zones : slice(sort(data.aws_availability_zones.available[0].names), 0, 3)

  # One key per kind of data: a key policy can then be narrow, and disabling
  # one key (incident response) does not take the others down.
  kms_keys = {
    eks  = { description = "Kubernetes Secrets of ${local.name}", logs = false, autoscaling = false }
    logs = { description = "CloudWatch log groups of ${local.name}", logs = true, autoscaling = false }
    sqs  = { description = "SQS job queues of ${local.name}", logs = false, autoscaling = false }
    rds  = { description = "PostgreSQL storage, snapshots, Performance Insights and credentials of ${local.name}", logs = false, autoscaling = false }
    ecr  = { description = "Container images of ${local.name}", logs = false, autoscaling = false }
    ebs  = { description = "Node and persistent volumes of ${local.name}", logs = false, autoscaling = true }
  }

  # Service accounts the chart creates; Pod Identity binds roles to them by name.
  service_accounts = {
    api    = { namespace = var.kubernetes_namespace, name = "flask-api" }
    worker = { namespace = var.kubernetes_namespace, name = "flask-worker" }
  }

  # Name of the Kubernetes Secret the External Secrets Operator writes the
  # database credentials into (database.existingSecret in the chart).
  database_secret_name = "flask-database"
}

module "kms" {
  source   = "../kms"
  for_each = local.kms_keys

  alias                          = "${local.name}-${each.key}"
  description                    = each.value.description
  deletion_window_in_days        = var.kms_deletion_window_days
  allow_cloudwatch_logs          = each.value.logs
  allow_autoscaling_service_role = each.value.autoscaling
  administrator_arns             = var.kms_administrator_arns
  tags                           = merge(var.tags, { Component = "kms" })
}

module "network" {
  source = "../network"

  name                     = local.name
  cidr                     = var.vpc_cidr
  azs                      = local.azs
  single_nat_gateway       = var.single_nat_gateway
  interface_endpoints      = var.vpc_interface_endpoints
  cluster_name             = local.name
  flow_logs_kms_key_arn    = module.kms["logs"].key_arn
  flow_logs_retention_days = var.log_retention_days
  tags                     = merge(var.tags, { Component = "network" })
}

module "cluster" {
  source = "../cluster"

  name                         = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs
  admin_principal_arns         = var.cluster_admin_principal_arns
  secrets_kms_key_arn          = module.kms["eks"].key_arn
  logs_kms_key_arn             = module.kms["logs"].key_arn
  ebs_kms_key_arn              = module.kms["ebs"].key_arn
  log_retention_days           = var.log_retention_days

  node_group = {
    instance_types = var.nodes.instance_types
    capacity_type  = var.nodes.capacity_type
    min_size       = var.nodes.min_size
    desired_size   = var.nodes.min_size
    max_size       = var.nodes.max_size
  }

  # Full tags here: instances and volumes launched by the node group's Auto
  # Scaling group do not get the provider's default_tags.
  tags = merge(data.aws_default_tags.current.tags, var.tags, { Component = "cluster" })
}

module "queues" {
  source = "../queues"

  name_prefix                = local.name
  queues                     = var.queues
  kms_key_arn                = module.kms["sqs"].key_arn
  visibility_timeout_seconds = var.sqs.visibility_timeout_seconds
  message_retention_seconds  = var.sqs.message_retention_seconds
  max_receive_count          = var.sqs.max_receive_count
  tags                       = merge(var.tags, { Component = "queues" })
}

module "database" {
  source = "../database"

  identifier            = local.name
  engine_version        = var.database.engine_version
  instance_class        = var.database.instance_class
  allocated_storage_gib = var.database.allocated_storage_gib
  multi_az              = var.database.multi_az
  backup_retention_days = var.database.backup_retention_days
  deletion_protection   = var.database.deletion_protection
  skip_final_snapshot   = var.database.skip_final_snapshot
  monitoring_interval   = var.database.monitoring_interval
  apply_immediately     = var.database.apply_immediately
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.isolated_subnet_ids
  kms_key_arn           = module.kms["rds"].key_arn
  logs_kms_key_arn      = module.kms["logs"].key_arn
  log_retention_days    = var.log_retention_days
  tags                  = merge(var.tags, { Component = "database" })

  allowed_security_group_ids = {
    eks-cluster = module.cluster.cluster_security_group_id
  }
}

module "registry" {
  source = "../registry"

  name_prefix  = var.ecr_repository_prefix
  kms_key_arn  = module.kms["ecr"].key_arn
  force_delete = var.ecr_force_delete
  tags         = merge(var.tags, { Component = "registry" })
}

module "edge" {
  source = "../edge"

  name                     = local.name
  domain_name              = var.domain_name
  route53_zone_id          = var.route53_zone_id
  rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes
  logs_kms_key_arn         = module.kms["logs"].key_arn
  log_retention_days       = var.log_retention_days
  tags                     = merge(var.tags, { Component = "edge" })
}

module "identity" {
  source = "../identity"

  name_prefix           = local.name
  cluster_name          = module.cluster.cluster_name
  queue_arns            = module.queues.queue_arns
  dlq_arns              = module.queues.dlq_arns
  sqs_kms_key_arn       = module.kms["sqs"].key_arn
  db_secret_arn         = module.database.master_user_secret_arn
  db_secret_kms_key_arn = module.kms["rds"].key_arn
  tags                  = merge(var.tags, { Component = "identity" })

  service_accounts = {
    api    = local.service_accounts.api
    worker = local.service_accounts.worker
  }
}
