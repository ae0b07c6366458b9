# dev's own choices, planned against a mocked provider: cheap and disposable.
# How the modules fit together is tested in modules/platform.

mock_provider "aws" {
  override_during = plan
  source          = "../../modules/platform/tests/mocks"
}

variables {
  aws_account_id                       = "123456789012"
  region                               = "eu-west-1"
  domain_name                          = "flask.dev.example.com"
  cluster_admin_principal_arns         = ["arn:aws:iam::123456789012:role/platform-admin"]
  cluster_endpoint_public_access_cidrs = ["203.0.113.0/24"]
}

run "dev_is_cheap_and_disposable" {
  command = plan

  assert {
    condition     = module.platform.settings.nat_gateways == 1
    error_message = "dev runs a single NAT gateway."
  }

  assert {
    condition     = module.platform.settings.nodes.capacity_type == "SPOT" && module.platform.settings.nodes.max_size <= 6
    error_message = "dev runs a small group of spot nodes."
  }

  assert {
    condition     = !module.platform.settings.database_multi_az && !module.platform.settings.database_protected && !module.platform.settings.database_final_snapshot
    error_message = "the dev database is single-zone and can be destroyed without a final snapshot."
  }

  assert {
    condition     = module.platform.settings.ecr_force_delete && module.platform.settings.kms_deletion_window_days == 7 && module.platform.settings.log_retention_days == 14
    error_message = "a dev teardown removes images, keys go after 7 days, logs after 14."
  }

  assert {
    condition     = module.platform.settings.cluster_endpoint_public
    error_message = "dev's Kubernetes API is reachable from the allow-listed CIDRs."
  }

  assert {
    condition     = output.cluster_name == "flask-dev" && output.helm_values.ingress.host == "flask.dev.example.com"
    error_message = "dev is named flask-dev and served on its own host."
  }
}
