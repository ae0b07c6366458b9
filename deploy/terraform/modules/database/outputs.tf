output "address" {
  description = "DNS name of the database (the standby takes it over on failover)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Name of the Flask database."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name (the password is only in the Secrets Manager secret)."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master credentials in (JSON with username and password), rotated by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}

output "instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}

output "ca_cert_identifier" {
  description = "The RDS CA the server certificate chains to; clients verify against the matching bundle (sslmode=verify-full)."
  value       = aws_db_instance.this.ca_cert_identifier
}

output "multi_az" {
  description = "Whether the database runs a standby in another zone."
  value       = aws_db_instance.this.multi_az
}

output "deletion_protection" {
  description = "Whether the database refuses deletion."
  value       = aws_db_instance.this.deletion_protection
}
