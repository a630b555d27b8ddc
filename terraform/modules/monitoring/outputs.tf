output "topic_arn" {
  description = "The environment's alerts SNS topic: every alarm, the budget and AWS Backup notify it."
  value       = aws_sns_topic.alerts.arn
}
