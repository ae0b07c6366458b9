resource "aws_db_instance" "not_encrypted" {
  kms_key_id          = "arn:aws:kms:eu-west-1:123456789012:key/x"
  publicly_accessible = false
}

resource "aws_db_instance" "aws_managed_key" {
  storage_encrypted   = true
  publicly_accessible = false
}

resource "aws_ebs_volume" "off" {
  encrypted  = false
  kms_key_id = "k"
}

resource "aws_launch_template" "no_key" {
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted = "true"
    }
  }
}

resource "aws_eks_node_group" "default_volumes" {
  disk_size = 50
  launch_template {
    id      = "lt-1"
    version = "1"
  }
}

resource "aws_eks_node_group" "no_template" {
  node_group_name = "no-template"
}

resource "aws_instance" "bare" {
  root_block_device {
    volume_size = 20
  }
}
