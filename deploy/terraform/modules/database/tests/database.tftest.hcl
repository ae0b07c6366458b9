mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_security_group" {
    defaults = {
      id = "sg-0123456789abcdef0"
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-mock", kms_key_id = "k", secret_status = "active" }]
    }
  }
}

variables {
  identifier                 = "flask-test"
  instance_class             = "db.t4g.medium"
  multi_az                   = true
  deletion_protection        = true
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0a", "subnet-0b", "subnet-0c"]
  allowed_security_group_ids = { eks-cluster = "sg-0eks" }
  kms_key_arn                = "arn:aws:kms:eu-west-1:123456789012:key/rds"
  logs_kms_key_arn           = "arn:aws:kms:eu-west-1:123456789012:key/logs"
}

run "prod_database" {
  command = apply

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "the database must not be publicly accessible."
  }

  assert {
    condition     = aws_db_instance.this.multi_az == true
    error_message = "multi_az must follow the variable."
  }

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn && aws_db_instance.this.performance_insights_kms_key_id == var.kms_key_arn
    error_message = "storage and Performance Insights must be encrypted with our key."
  }

  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.master_user_secret_kms_key_id == var.kms_key_arn && aws_db_instance.this.password == null
    error_message = "RDS must generate the master password into Secrets Manager with our key."
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.final_snapshot_identifier == "flask-test-final"
    error_message = "prod must be deletion-protected and snapshot on delete."
  }

  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1" && aws_db_parameter_group.this.family == "postgres16"
    error_message = "the parameter group must force TLS and match the engine major."
  }

  assert {
    condition     = aws_db_instance.this.db_subnet_group_name == aws_db_subnet_group.this.name && aws_db_subnet_group.this.subnet_ids == toset(var.subnet_ids)
    error_message = "the database must live in the given (isolated) subnets."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.postgres["eks-cluster"].referenced_security_group_id == "sg-0eks" && aws_vpc_security_group_ingress_rule.postgres["eks-cluster"].from_port == 5432 && aws_vpc_security_group_ingress_rule.postgres["eks-cluster"].cidr_ipv4 == null
    error_message = "5432 must be admitted from the cluster security group only, never from a CIDR."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.kms_key_id == var.logs_kms_key_arn]) && length(aws_cloudwatch_log_group.this) == 2
    error_message = "PostgreSQL log groups must be pre-created and encrypted."
  }

  assert {
    condition     = length(aws_iam_role.monitoring) == 0 && aws_db_instance.this.monitoring_interval == 0
    error_message = "enhanced monitoring is off by default."
  }
}

run "dev_database" {
  command = apply

  variables {
    multi_az              = false
    deletion_protection   = false
    skip_final_snapshot   = true
    backup_retention_days = 1
    engine_version        = "15"
    monitoring_interval   = 60
  }

  assert {
    condition     = aws_db_instance.this.multi_az == false && !aws_db_instance.this.deletion_protection
    error_message = "dev follows the variables: single zone, no deletion protection."
  }

  assert {
    condition     = aws_db_instance.this.final_snapshot_identifier == null
    error_message = "no final snapshot name when skipping it."
  }

  assert {
    condition     = aws_db_parameter_group.this.family == "postgres15"
    error_message = "the family must follow the engine major."
  }

  assert {
    condition     = length(aws_iam_role.monitoring) == 1 && aws_db_instance.this.monitoring_role_arn == aws_iam_role.monitoring[0].arn
    error_message = "enhanced monitoring needs its role."
  }
}

run "rejects_postgres_14" {
  command = plan

  variables {
    engine_version = "14.12"
  }

  expect_failures = [var.engine_version]
}

run "rejects_protected_without_backups" {
  command = plan

  variables {
    backup_retention_days = 0
  }

  expect_failures = [var.deletion_protection]
}
