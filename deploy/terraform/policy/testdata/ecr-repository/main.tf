variable "mutability" {
  type    = string
  default = "MUTABLE"
}

resource "aws_ecr_repository" "mutable" {
  name                 = "mutable"
  image_tag_mutability = "MUTABLE"
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = "k"
  }
}

resource "aws_ecr_repository" "unencrypted" {
  name                 = "unencrypted"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "aes" {
  name                 = "aes"
  image_tag_mutability = "IMMUTABLE"
  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_repository" "from_var" {
  name                 = "from-var"
  image_tag_mutability = var.mutability
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = "k"
  }
}
