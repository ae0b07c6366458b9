# Composes every module with the dev defaults against a mocked provider:
# the modules fit together, dev is sized down, and the outputs have the
# shape the chart needs.

mock_provider "aws" {
  # Plan-only runs with mock values for computed attributes: no apply and no
  # teardown of a whole environment, which halves the test time.
  override_during = plan

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_vpc" {
    defaults = {
      id = "vpc-0123456789abcdef0"
    }
  }
  mock_resource "aws_subnet" {
    defaults = {
      id = "subnet-0123456789abcdef0"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
    }
  }
  mock_resource "aws_security_group" {
    defaults = {
      id = "sg-0123456789abcdef0"
    }
  }
  mock_resource "aws_launch_template" {
    defaults = {
      id             = "lt-0123456789abcdef0"
      latest_version = 1
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-west-1:123456789012:cluster/flask"
      endpoint              = "https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com"
      certificate_authority = [{ data = "bW9jaw==" }]
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      address            = "flask.abcdefghijkl.eu-west-1.rds.amazonaws.com"
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-mock", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
      domain_validation_options = [{
        domain_name           = "flask.example.com"
        resource_record_name  = "_x.flask.example.com."
        resource_record_type  = "CNAME"
        resource_record_value = "_y.acm-validations.aws."
      }]
    }
  }
  mock_resource "aws_acm_certificate_validation" {
    defaults = {
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
    }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = {
      arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/flask-ingress/mock"
    }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mock"
    }
  }
}

variables {
  aws_account_id               = "123456789012"
  region                       = "eu-west-1"
  availability_zones           = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  kubernetes_version           = "1.34"
  cluster_admin_principal_arns = ["arn:aws:iam::123456789012:role/platform-admin"]
  domain_name                  = "flask.example.com"
  queues                       = ["default", "critical"]
}

run "dev_composition" {
  command = plan

  assert {
    condition     = length(module.network.nat_public_ips) == 1
    error_message = "dev runs a single NAT gateway."
  }

  assert {
    condition     = !module.database.multi_az && !module.database.deletion_protection
    error_message = "the dev database is single-zone and can be torn down."
  }

  assert {
    condition     = length(module.kms) == 6
    error_message = "one customer-managed key per kind of data."
  }

  assert {
    condition     = toset(keys(output.helm_values.broker.sqs.queueURLs)) == toset(["default", "critical"]) && toset(keys(output.helm_values.broker.sqs.deadLetterQueueURLs)) == toset(["default", "critical"])
    error_message = "the chart gets a queue URL and a DLQ URL per Flask queue."
  }

  assert {
    condition     = output.helm_values.serviceAccount.api.name == module.identity.service_accounts.api.name && output.helm_values.serviceAccount.worker.name == module.identity.service_accounts.worker.name
    error_message = "the chart's service accounts must be the ones the roles are bound to."
  }

  assert {
    condition     = module.identity.service_accounts.api.namespace == "flask" && module.identity.service_accounts.worker.name == "flask-worker"
    error_message = "the app roles are bound in the flask namespace."
  }

  assert {
    condition     = output.helm_values.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"] == output.certificate_arn && output.helm_values.ingress.annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] == output.waf_web_acl_arn
    error_message = "the Ingress annotations must carry the certificate and WAF ARNs."
  }

  assert {
    condition     = output.helm_values.database.existingSecret == "flask-database" && output.helm_values.database.externalSecret.secretARN == output.database_secret_arn
    error_message = "the chart reads the database from the secret the operator syncs."
  }

  assert {
    condition     = toset(keys(output.ecr_repository_urls)) == toset(["flask-api", "flask-worker"])
    error_message = "both images get a repository."
  }
}

run "rejects_no_cluster_admin" {
  command = plan

  variables {
    cluster_admin_principal_arns = []
  }

  expect_failures = [var.cluster_admin_principal_arns]
}
