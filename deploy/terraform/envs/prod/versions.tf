terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket, region and kms_key_id come from
  # backend.hcl (see backend.hcl.example and the bootstrap's backend_config
  # output): terraform init -backend-config=backend.hcl
  backend "s3" {
    key          = "flask/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
