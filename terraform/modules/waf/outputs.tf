output "web_acl_arn" {
  description = "ARN of the WAFv2 web ACL for the ALB (Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn); null when enable_waf is false."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}

output "web_acl_metric_name" {
  description = "CloudWatch metric name of the web ACL (the WebACL dimension of AWS/WAFV2 metrics); null when enable_waf is false."
  value       = one(aws_wafv2_web_acl.this[*].visibility_config[0].metric_name)
}

output "log_group_name" {
  description = "Name of the WAF log group; null when enable_waf is false."
  value       = one(aws_cloudwatch_log_group.waf[*].name)
}
