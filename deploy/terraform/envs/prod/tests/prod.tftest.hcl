# Composes every module with the prod defaults against a mocked provider:
# prod is highly available and protected.

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

run "prod_composition" {
  command = plan

  assert {
    condition     = length(module.network.nat_public_ips) == 3
    error_message = "prod runs a NAT gateway per zone."
  }

  assert {
    condition     = module.database.multi_az && module.database.deletion_protection
    error_message = "the prod database is Multi-AZ and deletion-protected."
  }

  assert {
    condition     = output.helm_values.broker.type == "sqs" && output.helm_values.broker.sqs.region == "eu-west-1"
    error_message = "the chart is pointed at SQS in the environment's region."
  }

  assert {
    condition     = output.helm_values.database.sslMode == "verify-full"
    error_message = "the app must verify the database certificate."
  }
}

run "rejects_zones_of_another_region" {
  command = plan

  variables {
    availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }

  expect_failures = [var.availability_zones]
}
