# prod: highly available and protected. A NAT gateway per zone, on-demand
# nodes with at least one per zone, a Multi-AZ database with deletion
# protection, 14 days of backups and a final snapshot, Enhanced Monitoring,
# 90-day logs, the full 30-day key deletion window, and a private Kubernetes
# API. Most of these are also the module's defaults; they are spelled out so
# that a change of default never changes prod unseen.

module "platform" {
  source = "../../modules/platform"

  environment = "prod"

  vpc_cidr           = "10.20.0.0/16"
  single_nat_gateway = false

  # Follows dev: bump here only after dev has run the new version.
  kubernetes_version           = "1.34"
  cluster_admin_principal_arns = var.cluster_admin_principal_arns

  # The API stays private: helm runs from CI runners inside the VPC or an SSM
  # session.
  cluster_endpoint_public_access_cidrs = []

  nodes = {
    instance_types = ["m7i.large"]
    capacity_type  = "ON_DEMAND"
    min_size       = 3
    max_size       = 15
  }

  database = {
    instance_class        = "db.m7g.large"
    allocated_storage_gib = 100
    multi_az              = true
    backup_retention_days = 14
    deletion_protection   = true # teardown: docs/infrastructure.md, "Tearing down"
    skip_final_snapshot   = false
    monitoring_interval   = 60
    apply_immediately     = false
  }

  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id

  log_retention_days       = 90
  kms_deletion_window_days = 30
  kms_administrator_arns   = var.kms_administrator_arns
  ecr_force_delete         = false
}
