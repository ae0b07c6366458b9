variable "open" {
  type    = string
  default = "0.0.0.0/0"
}

variable "ports" {
  type    = list(number)
  default = [5432]
}

resource "aws_security_group" "ssh" {
  ingress {
    protocol    = "tcp"
    from_port   = 22
    to_port     = 22
    cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"]
  }
}

resource "aws_security_group" "dynamic_v6" {
  dynamic "ingress" {
    for_each = var.ports
    content {
      protocol         = "tcp"
      from_port        = ingress.value
      to_port          = ingress.value
      ipv6_cidr_blocks = ["::/0"]
    }
  }
}

resource "aws_security_group_rule" "all_traffic" {
  type        = "ingress"
  protocol    = "-1"
  from_port   = 0
  to_port     = 0
  cidr_blocks = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "mixed_tuple" {
  type        = "ingress"
  protocol    = "tcp"
  from_port   = 22
  to_port     = 22
  cidr_blocks = [aws_vpc.main.cidr_block, "0.0.0.0/0"]
}

resource "aws_vpc_security_group_ingress_rule" "via_variable" {
  ip_protocol = "tcp"
  from_port   = 8080
  to_port     = 8080
  cidr_ipv4   = var.open
}

resource "aws_vpc_security_group_ingress_rule" "web_range" {
  ip_protocol = "tcp"
  from_port   = 80
  to_port     = 443
  cidr_ipv4   = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "udp_443" {
  ip_protocol = "udp"
  from_port   = 443
  to_port     = 443
  cidr_ipv4   = "0.0.0.0/0"
}

resource "aws_security_group_rule" "egress_is_fine" {
  type        = "egress"
  protocol    = "-1"
  from_port   = 0
  to_port     = 0
  cidr_blocks = ["0.0.0.0/0"]
}
