mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
    }
  }
}

variables {
  name_prefix       = "flask-prod"
  queues            = ["default", "critical"]
  kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/sqs"
  max_receive_count = 7
}

run "queue_with_dlq_and_redrive" {
  command = apply

  assert {
    condition     = aws_sqs_queue.main["default"].name == "flask-prod-default" && aws_sqs_queue.dlq["default"].name == "flask-prod-default-dlq"
    error_message = "queues must be named <prefix>-<queue> and <prefix>-<queue>-dlq."
  }

  assert {
    condition     = alltrue([for q in aws_sqs_queue.main : jsondecode(q.redrive_policy).maxReceiveCount == 7])
    error_message = "every queue must redrive after max_receive_count receives."
  }

  assert {
    condition     = alltrue([for k, q in aws_sqs_queue.main : jsondecode(q.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq[k].arn])
    error_message = "every queue must redrive into its own DLQ."
  }

  assert {
    condition     = alltrue([for k, p in aws_sqs_queue_redrive_allow_policy.dlq : jsondecode(p.redrive_allow_policy).redrivePermission == "byQueue" && jsondecode(p.redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.main[k].arn]])
    error_message = "a DLQ must accept dead letters only from its source queue."
  }

  assert {
    condition     = alltrue([for q in concat(values(aws_sqs_queue.main), values(aws_sqs_queue.dlq)) : q.kms_master_key_id == var.kms_key_arn])
    error_message = "every queue, DLQs included, must be SSE-KMS with our key."
  }

  assert {
    condition     = aws_sqs_queue.main["critical"].visibility_timeout_seconds == 300 && aws_sqs_queue.main["critical"].receive_wait_time_seconds == 20
    error_message = "visibility timeout and long polling must follow the variables."
  }

  assert {
    condition     = length(aws_sqs_queue_policy.tls_only) == 4
    error_message = "every queue and DLQ must have the TLS-only policy."
  }

  assert {
    condition = alltrue([
      for d in data.aws_iam_policy_document.tls_only : one(d.statement).effect == "Deny" && one(one(d.statement).condition).variable == "aws:SecureTransport" && one(one(d.statement).condition).values == tolist(["false"])
    ])
    error_message = "the queue policy must deny requests without TLS."
  }

  assert {
    condition     = output.queue_urls["default"] == aws_sqs_queue.main["default"].url && length(output.dlq_urls) == 2
    error_message = "outputs must map Flask queue names to URLs."
  }
}

run "rejects_zero_max_receive" {
  command = plan

  variables {
    max_receive_count = 0
  }

  expect_failures = [var.max_receive_count]
}

run "rejects_dlq_shorter_than_queue" {
  command = plan

  variables {
    message_retention_seconds     = 1209600
    dlq_message_retention_seconds = 86400
  }

  expect_failures = [var.dlq_message_retention_seconds]
}

run "rejects_bad_queue_name" {
  command = plan

  variables {
    queues = ["Default Queue"]
  }

  expect_failures = [var.queues]
}
