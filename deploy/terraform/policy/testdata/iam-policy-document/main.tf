resource "aws_iam_role_policy" "inline_json" {
  role = "api"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]
  })
}

resource "aws_iam_policy" "heredoc" {
  policy = <<-JSON
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
  JSON
}

resource "aws_iam_role" "with_inline" {
  assume_role_policy = "{}"
  inline_policy {
    name   = "x"
    policy = jsonencode({ Version = "2012-10-17", Statement = [] })
  }
}

data "aws_iam_policy_document" "ok" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "from_document" {
  role   = "api"
  policy = data.aws_iam_policy_document.ok.json
}
