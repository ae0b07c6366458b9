mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/flask-test/flow-logs"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/flask-test-vpc-flow-logs"
    }
  }
}

variables {
  name                  = "flask-test"
  cidr                  = "10.20.0.0/16"
  azs                   = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  cluster_name          = "flask-test"
  flow_logs_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "prod_layout_nat_per_zone" {
  command = apply

  assert {
    condition     = length(aws_nat_gateway.this) == 3
    error_message = "one NAT gateway per zone by default."
  }

  assert {
    condition     = toset([for r in aws_route.private_nat : r.nat_gateway_id]) == toset([for n in aws_nat_gateway.this : n.id])
    error_message = "each zone must route through its own NAT gateway."
  }

  assert {
    condition     = [for az in var.azs : aws_subnet.private[az].cidr_block] == ["10.20.0.0/19", "10.20.32.0/19", "10.20.64.0/19"]
    error_message = "private subnets must be the /19s at the bottom of the VPC."
  }

  assert {
    condition     = [for az in var.azs : aws_subnet.public[az].cidr_block] == ["10.20.96.0/24", "10.20.97.0/24", "10.20.98.0/24"]
    error_message = "public subnets must follow the private ones."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false && s.tags["kubernetes.io/role/elb"] == "1"])
    error_message = "public subnets are for load balancers: elb role tag, no public IPs on launch."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.private : s.tags["kubernetes.io/role/internal-elb"] == "1" && s.tags["kubernetes.io/cluster/flask-test"] == "shared"])
    error_message = "private subnets need the internal-elb and cluster tags."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.isolated : !contains(keys(s.tags), "kubernetes.io/role/elb") && !contains(keys(s.tags), "kubernetes.io/role/internal-elb")])
    error_message = "no load balancer may land in the isolated subnets."
  }

  assert {
    condition     = length(aws_route_table.isolated.route) == 0
    error_message = "the isolated route table must have no route out of the VPC."
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["sqs", "ecr.api", "ecr.dkr", "sts", "logs"])
    error_message = "workers need SQS, ECR, STS and Logs endpoints."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["sqs"].service_name == "com.amazonaws.eu-west-1.sqs" && aws_vpc_endpoint.interface["sqs"].private_dns_enabled
    error_message = "endpoints must use the regional service name and private DNS."
  }

  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" && length(aws_vpc_endpoint.s3.route_table_ids) == 3
    error_message = "S3 must be a gateway endpoint on every private route table."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.endpoints_https.cidr_ipv4 == "10.20.0.0/16" && aws_vpc_security_group_ingress_rule.endpoints_https.from_port == 443 && aws_vpc_security_group_ingress_rule.endpoints_https.to_port == 443
    error_message = "endpoints admit 443 from the VPC CIDR only."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.kms_key_id == var.flow_logs_kms_key_arn && aws_flow_log.this.traffic_type == "ALL"
    error_message = "flow logs must capture all traffic into a KMS-encrypted log group."
  }

  assert {
    condition     = contains([for c in one(data.aws_iam_policy_document.flow_logs_trust.statement).condition : c.values[0] if c.variable == "aws:SourceArn"], "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*")
    error_message = "the flow log role must only serve this account's flow logs."
  }
}

run "dev_layout_single_nat" {
  command = apply

  variables {
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1
    error_message = "single_nat_gateway must create one NAT gateway."
  }

  assert {
    condition     = length(distinct([for r in aws_route.private_nat : r.nat_gateway_id])) == 1 && length(aws_route.private_nat) == 3
    error_message = "all three private route tables must use the single NAT gateway."
  }
}

run "rejects_two_zones" {
  command = plan

  variables {
    azs = ["eu-west-1a", "eu-west-1b"]
  }

  expect_failures = [var.azs]
}

run "rejects_too_small_vpc" {
  command = plan

  variables {
    cidr = "10.0.0.0/24"
  }

  expect_failures = [var.cidr]
}
