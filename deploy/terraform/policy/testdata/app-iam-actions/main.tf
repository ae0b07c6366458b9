variable "actions" {
  type = list(string)
}

data "aws_iam_policy_document" "api" {
  statement {
    actions   = ["sqs:*"]
    resources = ["arn:aws:sqs:eu-west-1:123456789012:q"]
  }
}

data "aws_iam_policy_document" "worker" {
  statement {
    actions   = ["sqs:ReceiveMessage"]
    resources = ["arn:aws:sqs:eu-west-1:123456789012:q"]
  }
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "keda" {
  statement {
    not_actions = ["iam:*"]
    resources   = ["*"]
  }
}

data "aws_iam_policy_document" "worker_extra" {
  statement {
    actions   = ["sqs:Send*"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "api_dynamic" {
  dynamic "statement" {
    for_each = [1]
    content {
      actions   = ["s3:*"]
      resources = ["*"]
    }
  }
}

data "aws_iam_policy_document" "keda_var" {
  statement {
    actions   = var.actions
    resources = ["*"]
  }
}

# Not an app role: the rule does not look at it.
data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}
