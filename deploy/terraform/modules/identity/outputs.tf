output "role_arns" {
  description = "ARN of every role by its key (api, worker, keda, load_balancer_controller, cluster_autoscaler, external_secrets_operator)."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "api_role_arn" {
  description = "Role of the Flask API pods."
  value       = aws_iam_role.this["api"].arn
}

output "worker_role_arn" {
  description = "Role of the Flask worker pods."
  value       = aws_iam_role.this["worker"].arn
}

output "keda_role_arn" {
  description = "Role of the KEDA operator (TriggerAuthentication podIdentity provider aws, identityOwner keda)."
  value       = aws_iam_role.this["keda"].arn
}

output "load_balancer_controller_role_arn" {
  description = "Role of the AWS load balancer controller."
  value       = aws_iam_role.this["load_balancer_controller"].arn
}

output "cluster_autoscaler_role_arn" {
  description = "Role of the Cluster Autoscaler."
  value       = aws_iam_role.this["cluster_autoscaler"].arn
}

output "external_secrets_operator_role_arn" {
  description = "Role of the External Secrets Operator."
  value       = aws_iam_role.this["external_secrets_operator"].arn
}

output "service_accounts" {
  description = "Namespace and name of the service account bound to each role: the chart must use these names."
  value       = local.service_accounts
}
