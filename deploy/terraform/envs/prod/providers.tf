provider "aws" {
  region = var.region

  # A prod plan can never run against another account (dev's credentials
  # in the wrong shell).
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = merge(var.extra_tags, {
      Project       = "flask"
      Environment   = "prod"
      ManagedBy     = "terraform"
      Repository    = "github.com/flaskhq/flask"
      TerraformRoot = "deploy/terraform/envs/prod"
    })
  }
}
