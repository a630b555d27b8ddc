output "url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the rediss:// URL (RATELIMIT_STORAGE_URI)."
  value       = aws_secretsmanager_secret.url.arn
}
