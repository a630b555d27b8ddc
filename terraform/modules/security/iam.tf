################################################################################
# GitHub Actions OIDC provider and deploy role
################################################################################

locals {
  github_oidc_provider_arn = (
    var.github_oidc_provider_arn != ""
    ? var.github_oidc_provider_arn
    : aws_iam_openid_connect_provider.github[0].arn
  )

  state_bucket_arn = "arn:${local.partition}:s3:::${var.state_bucket_name}"
}

# One provider per URL per account: pass github_oidc_provider_arn when another
# stack (or environment) already created it.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.github_oidc_provider_arn == "" ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]

  # Thumbprints published by GitHub. AWS validates this provider against its own
  # trusted CA store and ignores them, but the API still stores a list.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]

  tags = merge(var.tags, { Name = "${var.name}-github-actions" })
}

# Only jobs of this repository running in this GitHub environment (which can
# carry required reviewers and branch rules) get a token for the role.
data "aws_iam_policy_document" "deploy_assume" {
  statement {
    sid     = "GitHubActionsEnvironment"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-github-deploy"
  description          = "Assumed by GitHub Actions (${var.github_repository}, environment ${var.github_environment}) to push images and deploy to EKS"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = 3600

  tags = merge(var.tags, { Name = "${var.name}-github-deploy" })
}

data "aws_iam_policy_document" "deploy" {
  # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
  # The token alone grants nothing; the repository statement below does.
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid    = "EcrPushPullAppRepository"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
    ]
    resources = [local.ecr_repository_arn]
  }

  # Enough for `aws eks update-kubeconfig`; what the role may do inside the
  # cluster is decided by its EKS access entry, not by IAM.
  statement {
    sid       = "EksDescribeAppCluster"
    effect    = "Allow"
    actions   = ["eks:DescribeCluster"]
    resources = [local.eks_cluster_arn]
  }

  # Read-only state access: the pipeline runs `terraform output`, never plan/apply.
  statement {
    sid       = "TerraformStateList"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "TerraformStateRead"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket_arn}/${var.state_key_prefix}*"]
  }

  # The S3 backend checks the state's MD5 digest item in the lock table on read.
  dynamic "statement" {
    for_each = var.state_lock_table_name == "" ? [] : [var.state_lock_table_name]

    content {
      sid       = "TerraformLockDigestRead"
      effect    = "Allow"
      actions   = ["dynamodb:GetItem"]
      resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${statement.value}"]
    }
  }

  dynamic "statement" {
    for_each = var.state_kms_key_arn == "" ? [] : [var.state_kms_key_arn]

    content {
      sid       = "TerraformStateDecrypt"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "github-deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
