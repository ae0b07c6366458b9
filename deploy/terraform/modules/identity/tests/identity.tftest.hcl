mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
}

variables {
  name_prefix  = "flask-test"
  cluster_name = "flask-test"
  queue_arns = {
    default  = "arn:aws:sqs:eu-west-1:123456789012:flask-test-default"
    critical = "arn:aws:sqs:eu-west-1:123456789012:flask-test-critical"
  }
  dlq_arns = {
    default  = "arn:aws:sqs:eu-west-1:123456789012:flask-test-default-dlq"
    critical = "arn:aws:sqs:eu-west-1:123456789012:flask-test-critical-dlq"
  }
  sqs_kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/sqs"
  db_secret_arn         = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1"
  db_secret_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/rds"
}

run "least_privilege_app_roles" {
  command = apply

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.api.statement : tolist(s.actions)])) == toset(["sqs:SendMessage", "sqs:GetQueueUrl", "kms:GenerateDataKey", "kms:Decrypt"])
    error_message = "the API may only send to queues (and use the queue key)."
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.api.statement : s.resources if s.sid == "PublishJobs"])) == toset(values(var.queue_arns))
    error_message = "the API may send only to Flask's queues, not to the DLQs."
  }

  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.worker.statement : s.actions if s.sid == "ConsumeJobs"])) == toset([
      "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
    ])
    error_message = "workers consume and extend visibility; they never send (the API's relay re-publishes retries)."
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.worker.statement : s.resources if s.sid == "InspectDeadLetters"])) == toset(values(var.dlq_arns)) && toset(one([for s in data.aws_iam_policy_document.worker.statement : s.actions if s.sid == "InspectDeadLetters"])) == toset(["sqs:GetQueueAttributes", "sqs:GetQueueUrl"])
    error_message = "workers may only read the DLQs' attributes; SQS redrive moves messages there."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.worker.statement : one(s.condition).values if s.sid == "QueueEncryption"]) == tolist(["sqs.eu-west-1.amazonaws.com"])
    error_message = "the queue key may only be used through SQS."
  }

  assert {
    condition     = length(data.aws_iam_policy_document.keda.statement) == 1 && data.aws_iam_policy_document.keda.statement[0].actions == toset(["sqs:GetQueueAttributes"])
    error_message = "KEDA may only read queue attributes."
  }

  assert {
    condition     = data.aws_iam_policy_document.external_secrets_operator.statement[0].resources == toset([var.db_secret_arn])
    error_message = "the secrets operator may read the database secret and nothing else."
  }

  assert {
    condition     = alltrue([for d in data.aws_iam_policy_document.trust : one(one(d.statement).principals).identifiers == toset(["pods.eks.amazonaws.com"]) && one(d.statement).actions == toset(["sts:AssumeRole", "sts:TagSession"])])
    error_message = "every role must trust EKS Pod Identity with AssumeRole and TagSession."
  }

  assert {
    condition     = contains([for c in one(data.aws_iam_policy_document.trust["worker"].statement).condition : c.values[0] if c.variable == "aws:RequestTag/kubernetes-service-account"], "flask-worker")
    error_message = "the worker role must be bound to the flask-worker service account."
  }

  assert {
    condition     = contains([for c in one(data.aws_iam_policy_document.trust["api"].statement).condition : c.values[0] if c.variable == "aws:RequestTag/eks-cluster-arn"], "arn:aws:eks:eu-west-1:123456789012:cluster/flask-test")
    error_message = "roles must trust only sessions from this cluster."
  }

  assert {
    condition = (
      aws_eks_pod_identity_association.this["api"].namespace == "flask" && aws_eks_pod_identity_association.this["api"].service_account == "flask-api" &&
      aws_eks_pod_identity_association.this["keda"].namespace == "keda" && aws_eks_pod_identity_association.this["keda"].service_account == "keda-operator" &&
      aws_eks_pod_identity_association.this["load_balancer_controller"].service_account == "aws-load-balancer-controller"
    )
    error_message = "associations must use the default namespaces and service accounts."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.load_balancer_controller.statement :
      anytrue([for c in s.condition : endswith(c.variable, "elbv2.k8s.aws/cluster")])
      if contains(["ManageOwnSecurityGroups", "CreateTaggedLoadBalancers", "ModifyOwnLoadBalancers", "RetagOwnLoadBalancers"], s.sid)
    ])
    error_message = "the load balancer controller may only change resources tagged elbv2.k8s.aws/cluster."
  }

  assert {
    condition     = contains([for c in one([for s in data.aws_iam_policy_document.cluster_autoscaler.statement : s if s.sid == "ResizeOwnNodeGroups"]).condition : c.variable], "aws:ResourceTag/k8s.io/cluster-autoscaler/flask-test")
    error_message = "the autoscaler may only resize this cluster's node groups."
  }
}

run "custom_service_accounts" {
  command = apply

  variables {
    service_accounts = {
      api = { namespace = "jobs", name = "api" }
    }
  }

  assert {
    condition     = aws_eks_pod_identity_association.this["api"].namespace == "jobs" && aws_eks_pod_identity_association.this["worker"].namespace == "flask"
    error_message = "one service account can be overridden, the others keep their defaults."
  }
}

run "rejects_invalid_service_account" {
  command = plan

  variables {
    service_accounts = {
      worker = { namespace = "Flask", name = "flask_worker" }
    }
  }

  expect_failures = [var.service_accounts]
}
