# Shaped for the Helm chart (deploy/helm/flask). helm_values is the contract:
#   terraform output -json helm_values > /tmp/flask-infra.json
#   helm upgrade --install flask deploy/helm/flask -f /tmp/flask-infra.json -f values-<env>.yaml
# The single outputs below are the same values for scripts and humans.

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API URL (private unless an allow-list is set)."
  value       = module.cluster.cluster_endpoint
}

output "queue_urls" {
  description = "SQS queue URL by Flask queue name (broker.sqs.queueURLs)."
  value       = module.queues.queue_urls
}

output "dlq_urls" {
  description = "Dead-letter queue URL by Flask queue name (broker.sqs.deadLetterQueueURLs)."
  value       = module.queues.dlq_urls
}

output "api_role_arn" {
  description = "IAM role of the API pods (bound by Pod Identity to the flask-api service account)."
  value       = module.identity.api_role_arn
}

output "worker_role_arn" {
  description = "IAM role of the worker pods (bound by Pod Identity to the flask-worker service account)."
  value       = module.identity.worker_role_arn
}

output "keda_role_arn" {
  description = "IAM role of the KEDA operator."
  value       = module.identity.keda_role_arn
}

output "platform_role_arns" {
  description = "IAM roles of the platform controllers (load balancer controller, cluster autoscaler, external secrets operator) by name."
  value = {
    load_balancer_controller  = module.identity.load_balancer_controller_role_arn
    cluster_autoscaler        = module.identity.cluster_autoscaler_role_arn
    external_secrets_operator = module.identity.external_secrets_operator_role_arn
  }
}

output "database_endpoint" {
  description = "PostgreSQL host name."
  value       = module.database.address
}

output "database_port" {
  description = "PostgreSQL port."
  value       = module.database.port
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database credentials (read only by the External Secrets Operator)."
  value       = module.database.master_user_secret_arn
}

output "ecr_repository_urls" {
  description = "ECR repository URL by image name (flask-api, flask-worker)."
  value       = module.registry.repository_urls
}

output "certificate_arn" {
  description = "ACM certificate of the Ingress (alb.ingress.kubernetes.io/certificate-arn)."
  value       = module.edge.certificate_arn
}

output "certificate_validation_records" {
  description = "DNS records to create by hand when route53_zone_id is not set."
  value       = module.edge.certificate_validation_records
}

output "waf_web_acl_arn" {
  description = "WAF web ACL of the Ingress (alb.ingress.kubernetes.io/wafv2-acl-arn)."
  value       = module.edge.web_acl_arn
}

output "nat_public_ips" {
  description = "Addresses outbound traffic leaves from (for webhook targets' allow-lists)."
  value       = module.network.nat_public_ips
}

output "helm_values" {
  description = "Values for deploy/helm/flask that come from the infrastructure; pass with -f after `terraform output -json helm_values`."
  value = {
    broker = {
      type = "sqs"
      sqs = {
        region              = var.region
        queueURLs           = module.queues.queue_urls
        deadLetterQueueURLs = module.queues.dlq_urls
      }
    }

    # Pod Identity binds the roles by namespace and service-account name, so
    # the chart must use exactly these names; no role annotation is needed.
    serviceAccount = {
      api    = { create = true, name = local.service_accounts.api.name, annotations = {} }
      worker = { create = true, name = local.service_accounts.worker.name, annotations = {} }
    }

    database = {
      existingSecret = local.database_secret_name
      host           = module.database.address
      port           = module.database.port
      name           = module.database.db_name
      sslMode        = "verify-full"
      externalSecret = {
        enabled   = true
        secretARN = module.database.master_user_secret_arn
      }
    }

    api = {
      image = { repository = module.registry.repository_urls["flask-api"] }
    }

    worker = {
      image = { repository = module.registry.repository_urls["flask-worker"] }
      keda = {
        enabled             = true
        podIdentityProvider = "aws"
        awsRegion           = var.region
      }
    }

    ingress = {
      enabled   = true
      className = "alb"
      host      = var.domain_name
      annotations = {
        "alb.ingress.kubernetes.io/scheme"          = "internet-facing"
        "alb.ingress.kubernetes.io/target-type"     = "ip"
        "alb.ingress.kubernetes.io/listen-ports"    = "[{\"HTTP\": 80}, {\"HTTPS\": 443}]"
        "alb.ingress.kubernetes.io/ssl-redirect"    = "443"
        "alb.ingress.kubernetes.io/ssl-policy"      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
        "alb.ingress.kubernetes.io/certificate-arn" = module.edge.certificate_arn
        "alb.ingress.kubernetes.io/wafv2-acl-arn"   = module.edge.web_acl_arn
      }
    }
  }
}
