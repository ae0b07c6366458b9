# Plan only: the bucket has prevent_destroy, so an applied test could not tear
# down. override_during = plan gives computed attributes their mock values at
# plan time.
mock_provider "aws" {
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
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::flaskhq-terraform-state-123456789012"
    }
  }
}

variables {
  aws_account_id    = "123456789012"
  region            = "eu-west-1"
  state_bucket_name = "flaskhq-terraform-state-123456789012"
}

run "state_bucket_is_private_encrypted_versioned" {
  command = plan

  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "state must be versioned (every apply can be undone)."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_server_side_encryption_configuration.state.rule : one(r.apply_server_side_encryption_by_default).kms_master_key_id
    ]) == module.state_key.key_arn
    error_message = "state must be encrypted with our rotating key."
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.state.block_public_acls && aws_s3_bucket_public_access_block.state.block_public_policy &&
      aws_s3_bucket_public_access_block.state.ignore_public_acls && aws_s3_bucket_public_access_block.state.restrict_public_buckets
    )
    error_message = "the state bucket must block every kind of public access."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.state_bucket.statement).effect == "Deny" && one(one(data.aws_iam_policy_document.state_bucket.statement).condition).variable == "aws:SecureTransport"
    error_message = "the bucket policy must refuse plain HTTP."
  }

  assert {
    condition     = length(aws_iam_service_linked_role.autoscaling) == 0
    error_message = "the Auto Scaling service-linked role is created only on request."
  }
}

run "rejects_dotted_bucket_name" {
  command = plan

  variables {
    state_bucket_name = "flask.state"
  }

  expect_failures = [var.state_bucket_name]
}
