variable "rotate" {
  type    = bool
  default = false
}

resource "aws_kms_key" "unset" {
  description = "unset"
}

resource "aws_kms_key" "off" {
  enable_key_rotation = false
}

resource "aws_kms_key" "from_var" {
  enable_key_rotation = var.rotate
}
