provider "aws" {
  region = var.region

  # A dev plan can only ever touch the dev account.
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = merge(var.extra_tags, {
      Project       = "flask"
      Environment   = "dev"
      ManagedBy     = "terraform"
      Repository    = "github.com/flaskhq/flask"
      TerraformRoot = "deploy/terraform/envs/dev"
    })
  }
}
