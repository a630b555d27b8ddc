output "topic_arn" {
  description = "The environment's alerts SNS topic: every alarm, the budget and AWS Backup notify it."
  value       = aws_sns_topic.alerts.arn
}

output "topic_name" {
  description = "Name of the alerts topic."
  value       = aws_sns_topic.alerts.name
}

output "kms_key_arn" {
  description = "KMS key of the alerts topic (CloudWatch, Budgets and AWS Backup may use it to publish)."
  value       = aws_kms_key.alerts.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix (app/<name>/<id>) of the ALB the alarms watch; null while alb_exists is false."
  value       = local.alb_arn_suffix
}

output "alarm_names" {
  description = "Names of the ALB and WAF alarms this module created."
  value = concat(
    aws_cloudwatch_metric_alarm.alb_target_5xx[*].alarm_name,
    aws_cloudwatch_metric_alarm.alb_p99_latency[*].alarm_name,
    aws_cloudwatch_metric_alarm.alb_unhealthy_hosts[*].alarm_name,
    aws_cloudwatch_metric_alarm.waf_blocked_requests[*].alarm_name,
  )
}
