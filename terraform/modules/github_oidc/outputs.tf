output "github_oidc_provider_arn" {
  description = "ARN of the account's GitHub Actions OIDC provider (created here or looked up)."
  value       = local.github_oidc_provider_arn
}

output "deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.deploy.arn
}

output "deploy_role_name" {
  description = "Name of the GitHub Actions deploy role."
  value       = aws_iam_role.deploy.name
}

output "plan_role_arn" {
  description = "ARN of the read-only role pull-request jobs assume to plan this environment."
  value       = aws_iam_role.plan.arn
}
