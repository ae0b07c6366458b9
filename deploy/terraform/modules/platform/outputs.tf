# helm_values is the contract with the chart (deploy/helm/flask); the single
# outputs are the same values for scripts, and settings shows what an
# environment chose.

output "region" {
  description = "AWS region of the environment."
  value       = local.region
}

output "vpc_id" {
  description = "VPC of the environment (the AWS load balancer controller's vpcId)."
  value       = module.network.vpc_id
}

output "nat_public_ips" {
  description = "Addresses outbound traffic leaves from (for webhook targets' allow-lists)."
  value       = module.network.nat_public_ips
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
  description = "SQS queue URL by Flask queue name."
  value       = module.queues.queue_urls
}

output "dlq_urls" {
  description = "Dead-letter queue URL by Flask queue name."
  value       = module.queues.dlq_urls
}

output "role_arns" {
  description = "IAM role by pod identity: api, worker, keda, load_balancer_controller, cluster_autoscaler, external_secrets_operator (each bound by Pod Identity to its service account)."
  value       = module.identity.role_arns
}

output "database_endpoint" {
  description = "PostgreSQL host name."
  value       = module.database.address
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
  description = "ACM certificate of the Ingress."
  value       = module.edge.certificate_arn
}

output "certificate_validation_records" {
  description = "DNS records to create by hand when route53_zone_id is not set."
  value       = module.edge.certificate_validation_records
}

output "waf_web_acl_arn" {
  description = "WAF web ACL of the Ingress."
  value       = module.edge.web_acl_arn
}

output "settings" {
  description = "What this environment chose for availability, protection and size, as built (for review, and for the env tests)."
  value = {
    environment              = var.environment
    availability_zones       = module.network.azs
    nat_gateways             = length(module.network.nat_public_ips)
    cluster_endpoint_public  = length(var.cluster_endpoint_public_access_cidrs) > 0
    nodes                    = var.nodes
    database_instance_class  = var.database.instance_class
    database_multi_az        = module.database.multi_az
    database_protected       = module.database.deletion_protection
    database_final_snapshot  = !var.database.skip_final_snapshot
    database_backup_days     = var.database.backup_retention_days
    log_retention_days       = var.log_retention_days
    kms_deletion_window_days = var.kms_deletion_window_days
    ecr_force_delete         = var.ecr_force_delete
  }
}

output "helm_values" {
  description = "Values for deploy/helm/flask that come from the infrastructure; pass with -f after `terraform output -json helm_values`."
  value = {
    broker = {
      type = "sqs"
      sqs = {
        region = local.region
        # FLASK_SQS_QUEUE_PREFIX: queue q is "<queuePrefix>-q", as module.queues names it.
        queuePrefix         = local.name
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
        awsRegion           = local.region
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
