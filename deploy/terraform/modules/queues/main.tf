# One SQS queue per Flask queue, each with a dead-letter queue that only it
# may redrive into, SSE-KMS with our key, and a policy refusing plain HTTP.

locals {
  names = { for q in var.queues : q => "${var.name_prefix}-${q}" }

  # Every queue this module makes, main and dead-letter, for the TLS policy.
  all_queues = merge(
    { for q in var.queues : q => { url = aws_sqs_queue.main[q].url, arn = aws_sqs_queue.main[q].arn } },
    { for q in var.queues : "${q}-dlq" => { url = aws_sqs_queue.dlq[q].url, arn = aws_sqs_queue.dlq[q].arn } },
  )
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.names

  name                              = "${each.value}-dlq"
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds

  tags = merge(var.tags, { FlaskQueue = each.key, Role = "dead-letter" })
}

resource "aws_sqs_queue" "main" {
  for_each = local.names

  name                              = each.value
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge(var.tags, { FlaskQueue = each.key, Role = "main" })
}

# Only the queue's own source may dead-letter into it.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.names

  queue_url = aws_sqs_queue.dlq[each.key].url
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main[each.key].arn]
  })
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.all_queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = local.all_queues

  queue_url = each.value.url
  policy    = data.aws_iam_policy_document.tls_only[each.key].json
}
