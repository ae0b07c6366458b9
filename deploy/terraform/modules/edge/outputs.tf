output "certificate_arn" {
  description = "ARN of the ACM certificate (validated when route53_zone_id is set): the chart's ingress annotation alb.ingress.kubernetes.io/certificate-arn."
  value       = var.route53_zone_id == null ? aws_acm_certificate.this.arn : aws_acm_certificate_validation.this[0].certificate_arn
}

output "certificate_validation_records" {
  description = "DNS records that prove control of each name on the certificate; create them by hand when DNS is not in Route 53."
  value       = local.validation_records
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL: the chart's ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn."
  value       = aws_wafv2_web_acl.this.arn
}

output "waf_log_group_name" {
  description = "CloudWatch log group of the web ACL's logs."
  value       = aws_cloudwatch_log_group.waf.name
}
