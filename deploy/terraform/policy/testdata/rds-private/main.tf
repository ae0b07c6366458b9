variable "public" {
  type    = bool
  default = true
}

variable "unknown" {
  type = bool
}

resource "aws_db_instance" "implicit" {
  storage_encrypted = true
  kms_key_id        = "k"
}

resource "aws_db_instance" "public" {
  storage_encrypted   = true
  kms_key_id          = "k"
  publicly_accessible = true
}

resource "aws_db_instance" "from_var" {
  storage_encrypted   = true
  kms_key_id          = "k"
  publicly_accessible = var.public
}

resource "aws_rds_cluster_instance" "unresolved" {
  publicly_accessible = var.unknown
}
