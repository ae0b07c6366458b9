mock_provider "aws" {
  mock_resource "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
      domain_validation_options = [{
        domain_name           = "flask.example.com"
        resource_record_name  = "_x.flask.example.com."
        resource_record_type  = "CNAME"
        resource_record_value = "_y.acm-validations.aws."
      }]
    }
  }
  mock_resource "aws_acm_certificate_validation" {
    defaults = {
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/mock"
    }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = {
      arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/flask-test-ingress/mock"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-flask-test"
    }
  }
}

variables {
  name             = "flask-test"
  domain_name      = "flask.example.com"
  logs_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/logs"
}

run "certificate_and_web_acl" {
  command = apply

  assert {
    condition     = aws_acm_certificate.this.validation_method == "DNS" && aws_acm_certificate.this.domain_name == "flask.example.com"
    error_message = "the certificate must be DNS-validated for the domain."
  }

  assert {
    condition     = aws_wafv2_web_acl.this.scope == "REGIONAL"
    error_message = "an ALB needs a REGIONAL web ACL."
  }

  assert {
    condition = toset([
      for r in aws_wafv2_web_acl.this.rule : r.statement[0].managed_rule_group_statement[0].name
      if length(r.statement[0].managed_rule_group_statement) > 0
    ]) == toset(["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"])
    error_message = "the three AWS managed rule groups must be on."
  }

  assert {
    condition = one([
      for r in aws_wafv2_web_acl.this.rule : r.statement[0].rate_based_statement[0].limit
      if length(r.statement[0].rate_based_statement) > 0
    ]) == 2000
    error_message = "a per-IP rate limit must be on."
  }

  assert {
    condition = one([
      for r in aws_wafv2_web_acl.this.rule : [for o in r.statement[0].managed_rule_group_statement[0].rule_action_override : o.name]
      if r.name == "AWSManagedRulesCommonRuleSet"
    ]) == ["SizeRestrictions_BODY"]
    error_message = "only the body-size rule is relaxed to count."
  }

  assert {
    condition     = length(aws_route53_record.validation) == 0 && output.certificate_arn == aws_acm_certificate.this.arn
    error_message = "without a zone, no records are written and the raw certificate ARN is output."
  }

  assert {
    condition     = output.certificate_validation_records["flask.example.com"].type == "CNAME"
    error_message = "validation records must be output for manual DNS."
  }

  assert {
    condition     = startswith(aws_cloudwatch_log_group.waf.name, "aws-waf-logs-") && aws_cloudwatch_log_group.waf.kms_key_id == var.logs_kms_key_arn
    error_message = "WAF logs need an aws-waf-logs- group encrypted with our key."
  }
}

run "route53_validation" {
  command = apply

  variables {
    route53_zone_id = "Z0123456789ABCDEFGHIJ"
  }

  assert {
    condition     = length(aws_route53_record.validation) == 1 && length(aws_acm_certificate_validation.this) == 1
    error_message = "with a zone, validation records are written and issuance awaited."
  }
}

run "rejects_bad_domain" {
  command = plan

  variables {
    domain_name = "https://Flask.Example.com/"
  }

  expect_failures = [var.domain_name]
}
