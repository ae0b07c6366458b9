output "state_bucket" {
  description = "Name of the state bucket: the bucket of each env's backend.hcl."
  value       = aws_s3_bucket.state.bucket
}

output "state_kms_key_arn" {
  description = "KMS key encrypting the state: the kms_key_id of each env's backend.hcl."
  value       = module.state_key.key_arn
}

output "backend_config" {
  description = "Contents for envs/<env>/backend.hcl."
  value       = <<-EOT
    bucket     = "${aws_s3_bucket.state.bucket}"
    region     = "${var.region}"
    kms_key_id = "${module.state_key.key_arn}"
  EOT
}
