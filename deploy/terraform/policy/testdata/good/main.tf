# Compliant variants of everything the rules look at: no findings expected.

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "rotate" {
  type    = bool
  default = true
}

locals {
  mutability = "IMMUTABLE"
}

resource "aws_kms_key" "k" {
  enable_key_rotation = var.rotate
}

resource "aws_sqs_queue" "q" {
  name              = "q"
  kms_master_key_id = aws_kms_key.k.arn
}

resource "aws_cloudwatch_log_group" "l" {
  name       = "l"
  kms_key_id = aws_kms_key.k.arn
}

resource "aws_ecr_repository" "r" {
  name                 = "r"
  image_tag_mutability = local.mutability

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.k.arn
  }
}

resource "aws_db_instance" "db" {
  storage_encrypted   = true
  kms_key_id          = aws_kms_key.k.arn
  publicly_accessible = false
}

resource "aws_launch_template" "lt" {
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted  = "true"
      kms_key_id = aws_kms_key.k.arn
    }
  }
}

resource "aws_eks_node_group" "ng" {
  launch_template {
    id      = aws_launch_template.lt.id
    version = aws_launch_template.lt.latest_version
  }
}

resource "aws_security_group" "alb" {
  ingress {
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_vpc_security_group_ingress_rule" "http6" {
  ip_protocol = "tcp"
  from_port   = 80
  to_port     = 80
  cidr_ipv6   = "::/0"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_vpc" {
  ip_protocol = "tcp"
  from_port   = 5432
  to_port     = 5432
  cidr_ipv4   = var.vpc_cidr
}

resource "aws_security_group_rule" "egress" {
  type        = "egress"
  protocol    = "-1"
  from_port   = 0
  to_port     = 0
  cidr_blocks = ["0.0.0.0/0"]
}

data "aws_iam_policy_document" "api" {
  statement {
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.q.arn]
  }
}

data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    actions   = ["ec2:Describe*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "api" {
  role   = "api"
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role_policy" "apps" {
  for_each = toset(["api"])
  role     = each.key
  policy   = data.aws_iam_policy_document.api.json
}
