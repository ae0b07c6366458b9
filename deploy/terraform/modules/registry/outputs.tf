output "repository_urls" {
  description = "Repository URL by repository name (without prefix), e.g. { flask-api = \"<account>.dkr.ecr.<region>.amazonaws.com/flask-api\" }: the chart's api.image.repository and worker.image.repository."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by repository name (without prefix), for CI push policies."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}
