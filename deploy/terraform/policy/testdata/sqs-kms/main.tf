resource "aws_sqs_queue" "plain" {
  name = "plain"
}

resource "aws_sqs_queue" "sqs_owned" {
  name                    = "sqs-owned"
  kms_master_key_id       = "alias/k"
  sqs_managed_sse_enabled = true
}

resource "aws_sqs_queue" "null_key" {
  name              = "null-key"
  kms_master_key_id = null
}
