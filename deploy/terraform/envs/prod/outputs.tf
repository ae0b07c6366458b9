# helm_values is the contract with the chart:
#   terraform output -json helm_values > /tmp/flask-infra.json
#   helm upgrade --install flask deploy/helm/flask -f /tmp/flask-infra.json -f values-prod.yaml
# The rest is what the cluster add-ons and the first apply need. Every other
# value is an output of module.platform (modules/platform/outputs.tf).

output "helm_values" {
  description = "Values for deploy/helm/flask that come from the infrastructure."
  value       = module.platform.helm_values
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>; the add-ons' clusterName)."
  value       = module.platform.cluster_name
}

output "region" {
  description = "AWS region of prod."
  value       = module.platform.region
}

output "vpc_id" {
  description = "VPC of prod (the load balancer controller's vpcId)."
  value       = module.platform.vpc_id
}

output "certificate_validation_records" {
  description = "DNS records to create by hand when route53_zone_id is not set."
  value       = module.platform.certificate_validation_records
}

output "nat_public_ips" {
  description = "Addresses prod's outbound traffic leaves from (for webhook targets' allow-lists)."
  value       = module.platform.nat_public_ips
}
