output "deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.github["deploy"].arn
}


output "plan_role_arn" {
  description = "ARN of the read-only role pull-request jobs assume to plan this environment."
  value       = aws_iam_role.github["plan"].arn
}
