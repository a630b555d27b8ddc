output "repository_url" {
  description = "URL to push to and pull from: <account>.dkr.ecr.<region>.amazonaws.com/<name>."
  value       = aws_ecr_repository.this.repository_url
}
