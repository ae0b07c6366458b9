# prod's own choices, planned against a mocked provider: highly available and
# protected. How the modules fit together is tested in modules/platform.

mock_provider "aws" {
  override_during = plan
  source          = "../../modules/platform/tests/mocks"
}

variables {
  aws_account_id               = "123456789012"
  region                       = "eu-west-1"
  domain_name                  = "flask.example.com"
  cluster_admin_principal_arns = ["arn:aws:iam::123456789012:role/platform-admin"]
}

run "prod_is_highly_available_and_protected" {
  command = plan

  assert {
    condition     = module.platform.settings.nat_gateways == 3
    error_message = "prod runs a NAT gateway per zone."
  }

  assert {
    condition     = module.platform.settings.nodes.capacity_type == "ON_DEMAND" && module.platform.settings.nodes.min_size >= 3
    error_message = "prod runs on-demand nodes, at least one per zone."
  }

  assert {
    condition     = module.platform.settings.database_multi_az && module.platform.settings.database_protected && module.platform.settings.database_final_snapshot && module.platform.settings.database_backup_days >= 14
    error_message = "the prod database is Multi-AZ, deletion-protected, keeps 14 days of backups and takes a final snapshot."
  }

  assert {
    condition     = !module.platform.settings.ecr_force_delete && module.platform.settings.kms_deletion_window_days == 30 && module.platform.settings.log_retention_days >= 90
    error_message = "prod keeps images on teardown, the full key deletion window and 90 days of logs."
  }

  assert {
    condition     = !module.platform.settings.cluster_endpoint_public
    error_message = "prod's Kubernetes API is private."
  }

  assert {
    condition     = output.cluster_name == "flask-prod" && output.helm_values.ingress.host == "flask.example.com"
    error_message = "prod is named flask-prod and served on the main host."
  }
}
