# Plans the whole platform against a mocked provider: the modules fit
# together, the defaults are the safe (prod-like) choice, and the outputs have
# the shape the chart needs. The env tests check each env's own choices.

mock_provider "aws" {
  # Mock values for computed attributes at plan time: plan-only runs, no
  # apply and teardown of a whole environment.
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  environment                  = "staging"
  kubernetes_version           = "1.34"
  cluster_admin_principal_arns = ["arn:aws:iam::123456789012:role/platform-admin"]
  domain_name                  = "flask.example.com"
  queues                       = ["default", "critical"]
}

run "composition_with_safe_defaults" {
  command = plan

  assert {
    condition     = output.settings.nat_gateways == 3 && output.settings.database_multi_az && output.settings.database_protected && output.settings.database_final_snapshot
    error_message = "by default a NAT gateway per zone and a Multi-AZ, deletion-protected database with a final snapshot."
  }

  assert {
    condition     = output.settings.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"]) && output.region == "eu-west-1"
    error_message = "without availability_zones, the first three zones of the provider's region (sorted)."
  }

  assert {
    condition     = length(module.kms) == 6 && module.kms["logs"].alias_name == "alias/flask-staging-logs"
    error_message = "one customer-managed key per kind of data, named after the environment."
  }

  assert {
    condition     = module.cluster.cluster_name == "flask-staging"
    error_message = "resources are named flask-<environment>."
  }

  assert {
    condition     = toset(keys(output.helm_values.broker.sqs.queueURLs)) == toset(["default", "critical"]) && toset(keys(output.helm_values.broker.sqs.deadLetterQueueURLs)) == toset(["default", "critical"])
    error_message = "the chart gets a queue URL and a DLQ URL per Flask queue."
  }

  assert {
    condition     = output.helm_values.broker.sqs.region == "eu-west-1" && output.helm_values.worker.keda.awsRegion == "eu-west-1" && output.helm_values.broker.sqs.queuePrefix == "flask-staging"
    error_message = "the chart is pointed at SQS in the provider's region, with the queues' name prefix."
  }

  assert {
    condition     = output.helm_values.serviceAccount.api.name == module.identity.service_accounts.api.name && output.helm_values.serviceAccount.worker.name == module.identity.service_accounts.worker.name && module.identity.service_accounts.api.namespace == "flask"
    error_message = "the chart's service accounts must be the ones the roles are bound to, in the flask namespace."
  }

  assert {
    condition     = output.helm_values.ingress.host == "flask.example.com" && output.helm_values.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"] == output.certificate_arn && output.helm_values.ingress.annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] == output.waf_web_acl_arn
    error_message = "the Ingress gets the host, the certificate and the WAF ACL."
  }

  assert {
    condition     = output.helm_values.database.existingSecret == "flask-database" && output.helm_values.database.externalSecret.secretARN == output.database_secret_arn && output.helm_values.database.sslMode == "verify-full"
    error_message = "the chart reads the database from the secret the operator syncs, verifying the server certificate."
  }

  assert {
    condition     = toset(keys(output.ecr_repository_urls)) == toset(["flask-api", "flask-worker"])
    error_message = "both images get a repository."
  }
}

run "rejects_zones_of_another_region" {
  command = plan

  variables {
    availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }

  expect_failures = [data.aws_region.current]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    environment                  = "Prod-1"
    cluster_admin_principal_arns = []
    nodes                        = { min_size = 4, max_size = 2 }
    database                     = { deletion_protection = true, skip_final_snapshot = true }
  }

  expect_failures = [var.environment, var.cluster_admin_principal_arns, var.nodes, var.database]
}
