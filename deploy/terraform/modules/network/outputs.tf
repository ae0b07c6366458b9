output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "The availability zones used, in order."
  value       = var.azs
}

output "public_subnet_ids" {
  description = "Public subnets (load balancers only), one per zone in the order of azs."
  value       = [for az in var.azs : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes and pods), one per zone in the order of azs."
  value       = [for az in var.azs : aws_subnet.private[az].id]
}

output "isolated_subnet_ids" {
  description = "Isolated subnets (database), one per zone in the order of azs."
  value       = [for az in var.azs : aws_subnet.isolated[az].id]
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways: the addresses Flask's outbound traffic comes from (for allow-lists of webhook targets)."
  value       = [for z in local.nat_zones : aws_eip.nat[z].public_ip]
}

output "vpc_endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group holding the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
