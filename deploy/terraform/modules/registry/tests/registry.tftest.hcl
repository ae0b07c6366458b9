mock_provider "aws" {}

variables {
  kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/ecr"
  keep_tagged_images = 30
}

run "immutable_scanned_encrypted" {
  command = apply

  assert {
    condition     = toset(keys(aws_ecr_repository.this)) == toset(["flask-api", "flask-worker"])
    error_message = "the API and worker repositories must exist by default."
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.image_tag_mutability == "IMMUTABLE" && r.image_scanning_configuration[0].scan_on_push])
    error_message = "tags must be immutable and images scanned on push."
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.encryption_configuration[0].encryption_type == "KMS" && r.encryption_configuration[0].kms_key == var.kms_key_arn])
    error_message = "images must be encrypted with our key."
  }

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this["flask-api"].policy).rules[1].selection.countNumber == 30 && jsondecode(aws_ecr_lifecycle_policy.this["flask-api"].policy).rules[0].selection.tagStatus == "untagged"
    error_message = "the lifecycle must expire untagged images and keep the last N tagged."
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.force_delete == false])
    error_message = "repositories with images must not be force-deleted by default."
  }
}

run "prefix_for_shared_account" {
  command = apply

  variables {
    name_prefix = "dev/"
  }

  assert {
    condition     = aws_ecr_repository.this["flask-worker"].name == "dev/flask-worker"
    error_message = "the prefix must namespace the repository."
  }
}

run "rejects_uppercase_repository" {
  command = plan

  variables {
    repositories = ["Flask-API"]
  }

  expect_failures = [var.repositories]
}
