mock_provider "aws" {
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
}

variables {
  alias       = "flask-test-logs"
  description = "test key"
}

run "rotation_is_always_on" {
  command = apply

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "the key must rotate."
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/flask-test-logs"
    error_message = "alias must carry the alias/ prefix."
  }

  assert {
    condition     = length(data.aws_iam_policy_document.key.statement) == 1
    error_message = "without opt-ins the key policy has only the account statement."
  }
}

run "logs_and_autoscaling_opt_in" {
  command = apply

  variables {
    allow_cloudwatch_logs          = true
    allow_autoscaling_service_role = true
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.key.statement : s.sid], "CloudWatchLogsInThisAccount")
    error_message = "CloudWatch Logs must be allowed when asked."
  }

  assert {
    condition = contains(flatten([
      for s in data.aws_iam_policy_document.key.statement : [for c in s.condition : c.values]
      if s.sid == "CloudWatchLogsInThisAccount"
    ]), "arn:aws:logs:eu-west-1:123456789012:log-group:*")
    error_message = "CloudWatch Logs use must be scoped to this account's log groups."
  }

  assert {
    condition     = length(data.aws_iam_policy_document.key.statement) == 4
    error_message = "logs + autoscaling opt-ins add three statements."
  }
}

run "rejects_short_deletion_window" {
  command = plan

  variables {
    deletion_window_in_days = 3
  }

  expect_failures = [var.deletion_window_in_days]
}

run "rejects_reserved_alias" {
  command = plan

  variables {
    alias = "aws/sqs"
  }

  expect_failures = [var.alias]
}
