# The Flask platform of one environment, composed from ../../modules.
#
# envs/dev and envs/prod share this file and outputs.tf byte for byte
# (scripts/tf-check.sh diffs them); the environments differ only in
# variables.tf defaults, terraform.tfvars and the backend key.

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = local.tags
  }
}

locals {
  name = "flask-${var.environment}"

  tags = merge({
    Project       = "flask"
    Environment   = var.environment
    ManagedBy     = "terraform"
    Repository    = "github.com/flaskhq/flask"
    TerraformRoot = "deploy/terraform/envs/${var.environment}"
  }, var.extra_tags)

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
  source   = "../../modules/kms"
  for_each = local.kms_keys

  alias                          = "${local.name}-${each.key}"
  description                    = each.value.description
  deletion_window_in_days        = var.kms_deletion_window_days
  allow_cloudwatch_logs          = each.value.logs
  allow_autoscaling_service_role = each.value.autoscaling
  administrator_arns             = var.kms_administrator_arns
  tags                           = { Component = "kms" }
}

module "network" {
  source = "../../modules/network"

  name                     = local.name
  cidr                     = var.vpc_cidr
  azs                      = var.availability_zones
  single_nat_gateway       = var.single_nat_gateway
  interface_endpoints      = var.vpc_interface_endpoints
  cluster_name             = local.name
  flow_logs_kms_key_arn    = module.kms["logs"].key_arn
  flow_logs_retention_days = var.log_retention_days
  tags                     = { Component = "network" }
}

module "cluster" {
  source = "../../modules/cluster"

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
    instance_types = var.node_instance_types
    capacity_type  = var.node_capacity_type
    min_size       = var.node_min_size
    desired_size   = var.node_min_size
    max_size       = var.node_max_size
  }

  # Full tags here: instances and volumes launched by the node group's Auto
  # Scaling group do not get the provider's default_tags.
  tags = merge(local.tags, { Component = "cluster" })
}

module "queues" {
  source = "../../modules/queues"

  name_prefix                = local.name
  queues                     = var.queues
  kms_key_arn                = module.kms["sqs"].key_arn
  visibility_timeout_seconds = var.sqs_visibility_timeout_seconds
  message_retention_seconds  = var.sqs_message_retention_seconds
  max_receive_count          = var.sqs_max_receive_count
  tags                       = { Component = "queues" }
}

module "database" {
  source = "../../modules/database"

  identifier            = local.name
  engine_version        = var.db_engine_version
  instance_class        = var.db_instance_class
  allocated_storage_gib = var.db_allocated_storage_gib
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.db_deletion_protection
  skip_final_snapshot   = var.db_skip_final_snapshot
  monitoring_interval   = var.db_monitoring_interval
  apply_immediately     = var.db_apply_immediately
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.isolated_subnet_ids
  kms_key_arn           = module.kms["rds"].key_arn
  logs_kms_key_arn      = module.kms["logs"].key_arn
  log_retention_days    = var.log_retention_days
  tags                  = { Component = "database" }

  allowed_security_group_ids = {
    eks-cluster = module.cluster.cluster_security_group_id
  }
}

module "registry" {
  source = "../../modules/registry"

  name_prefix  = var.ecr_repository_prefix
  kms_key_arn  = module.kms["ecr"].key_arn
  force_delete = var.ecr_force_delete
  tags         = { Component = "registry" }
}

module "edge" {
  source = "../../modules/edge"

  name                     = local.name
  domain_name              = var.domain_name
  route53_zone_id          = var.route53_zone_id
  rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes
  logs_kms_key_arn         = module.kms["logs"].key_arn
  log_retention_days       = var.log_retention_days
  tags                     = { Component = "edge" }
}

module "identity" {
  source = "../../modules/identity"

  name_prefix           = local.name
  cluster_name          = module.cluster.cluster_name
  queue_arns            = module.queues.queue_arns
  dlq_arns              = module.queues.dlq_arns
  sqs_kms_key_arn       = module.kms["sqs"].key_arn
  db_secret_arn         = module.database.master_user_secret_arn
  db_secret_kms_key_arn = module.kms["rds"].key_arn
  tags                  = { Component = "identity" }

  service_accounts = {
    api    = local.service_accounts.api
    worker = local.service_accounts.worker
  }
}
