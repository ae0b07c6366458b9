terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # The bootstrap makes the bucket every other state lives in, so its own
  # (small) state starts local. After the first apply, move it into the bucket
  # it created: add a backend "s3" block with key "flask/bootstrap.tfstate"
  # and run `terraform init -migrate-state` (see docs/infrastructure.md).
}
