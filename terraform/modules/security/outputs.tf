output "alb_security_group_id" {
  description = "ID of the ALB security group (Ingress annotation alb.ingress.kubernetes.io/security-groups)."
  value       = aws_security_group.alb.id
}

output "app_log_group_name" {
  description = "Name of the application's container log group."
  value       = aws_cloudwatch_log_group.app.name
}
