resource "aws_cloudwatch_log_group" "plain" {
  name = "plain"
}

resource "aws_cloudwatch_log_group" "null_key" {
  name       = "null-key"
  kms_key_id = null
}
