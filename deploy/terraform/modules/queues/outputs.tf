output "queue_urls" {
  description = "URL of each Flask queue by its Flask name: the chart's broker.sqs.queueURLs."
  value       = { for q, r in aws_sqs_queue.main : q => r.url }
}

output "queue_arns" {
  description = "ARN of each Flask queue by its Flask name (for IAM policies and KEDA)."
  value       = { for q, r in aws_sqs_queue.main : q => r.arn }
}

output "queue_names" {
  description = "SQS name of each Flask queue by its Flask name."
  value       = { for q, r in aws_sqs_queue.main : q => r.name }
}

output "dlq_urls" {
  description = "URL of each dead-letter queue by the Flask name of its source queue: the chart's broker.sqs.deadLetterQueueURLs."
  value       = { for q, r in aws_sqs_queue.dlq : q => r.url }
}

output "dlq_arns" {
  description = "ARN of each dead-letter queue by the Flask name of its source queue."
  value       = { for q, r in aws_sqs_queue.dlq : q => r.arn }
}
