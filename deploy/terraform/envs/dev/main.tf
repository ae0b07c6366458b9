# dev: the platform sized down and disposable. One NAT gateway, spot nodes,
# a single-zone database without deletion protection or final snapshot, short
# log retention, a 7-day key deletion window: `terraform destroy` removes it
# all. The module's defaults are prod's; everything turned down is listed here.

module "platform" {
  source = "../../modules/platform"

  environment = "dev"

  vpc_cidr           = "10.10.0.0/16"
  single_nat_gateway = true

  # Upgrade dev first, one minor version at a time, then prod.
  kubernetes_version                   = "1.34"
  cluster_admin_principal_arns         = var.cluster_admin_principal_arns
  cluster_endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs

  # Several instance types spread the risk of spot reclaims.
  nodes = {
    instance_types = ["m7i.large", "m6i.large", "m5.large"]
    capacity_type  = "SPOT"
    min_size       = 2
    max_size       = 6
  }

  database = {
    instance_class        = "db.t4g.medium"
    allocated_storage_gib = 20
    multi_az              = false
    backup_retention_days = 1
    deletion_protection   = false
    skip_final_snapshot   = true
    monitoring_interval   = 0
    apply_immediately     = true
  }

  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id

  log_retention_days       = 14
  kms_deletion_window_days = 7
  ecr_repository_prefix    = var.ecr_repository_prefix
  ecr_force_delete         = true
}
