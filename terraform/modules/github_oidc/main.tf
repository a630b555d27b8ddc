locals {
  # Built from strings rather than taken from the ECR/EKS modules: those modules
  # consume the KMS keys, so referencing them would order everything after them.
  ecr_repository_arn = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.ecr_repository_name}"
  eks_cluster_arn    = "arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/${var.eks_cluster_name}"
}

################################################################################
# GitHub Actions OIDC provider, deploy role and pull-request plan role
################################################################################

locals {
  github_oidc_provider_arn = (
    var.create_github_oidc_provider
    ? aws_iam_openid_connect_provider.github[0].arn
    : data.aws_iam_openid_connect_provider.github[0].arn
  )

  state_bucket_arn = "arn:${local.partition}:s3:::${var.state_bucket_name}"
}

# IAM allows one provider per URL per account: exactly one environment of an
# account creates it (create_github_oidc_provider = true, dev here), the others
# look it up, so applying staging after dev does not fail with EntityAlreadyExists.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]

  # Thumbprints published by GitHub. AWS validates this provider against its own
  # trusted CA store and ignores them, but the API still stores a list.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]

  tags = merge(var.tags, { Name = "github-actions" })
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 0 : 1

  url = "https://token.actions.githubusercontent.com"
}

# Who may assume each role: only jobs of this repository, and for the deploy role
# only those running in this GitHub environment (which can carry required
# reviewers and branch rules); for the plan role, pull-request jobs.
locals {
  github_subjects = {
    deploy = "repo:${var.github_repository}:environment:${var.github_environment}"
    plan   = "repo:${var.github_repository}:pull_request"
  }
}

data "aws_iam_policy_document" "github_assume" {
  for_each = local.github_subjects

  statement {
    sid     = "GitHubActions"
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
      values   = [each.value]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-github-deploy"
  description          = "Assumed by GitHub Actions (${var.github_repository}, environment ${var.github_environment}) to push images and deploy to EKS"
  assume_role_policy   = data.aws_iam_policy_document.github_assume["deploy"].json
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

  # Read-only access to this environment's state: the pipeline runs `terraform output`.
  source_policy_documents = [data.aws_iam_policy_document.state_read.json]
}

# Reading this environment's state, and only its own: the objects under
# state_key_prefix (another environment's state holds its Redis AUTH token).
data "aws_iam_policy_document" "state_read" {
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

  # The S3 backend checks the state's MD5 digest item in the lock table on read
  # (with state_lock_table_name), and the state is encrypted with
  # state_kms_key_arn (when given).
  dynamic "statement" {
    for_each = [
      for s in [
        { sid = "TerraformLockDigestRead", action = "dynamodb:GetItem", given = var.state_lock_table_name, resource = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.state_lock_table_name}" },
        { sid = "TerraformStateDecrypt", action = "kms:Decrypt", given = var.state_kms_key_arn, resource = var.state_kms_key_arn },
      ] : s if s.given != ""
    ]

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = [statement.value.action]
      resources = [statement.value.resource]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "github-deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

################################################################################
# Pull-request plan role: ReadOnlyAccess plus what a refresh of this
# environment reads that ReadOnlyAccess lacks (its state, the Redis URL secret
# value, Secrets Manager's password generator). The workflow assumes it for
# `terraform plan -lock=false` on pull requests (output plan_role_arn).
################################################################################

resource "aws_iam_role" "plan" {
  name                 = "${var.name}-github-plan"
  description          = "Assumed by pull-request jobs of ${var.github_repository} to plan ${var.environment} (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.github_assume["plan"].json
  max_session_duration = 3600

  tags = merge(var.tags, { Name = "${var.name}-github-plan" })
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan" {
  source_policy_documents = [data.aws_iam_policy_document.state_read.json]

  # Refreshing aws_secretsmanager_secret_version reads the value.
  dynamic "statement" {
    for_each = length(var.plan_readable_secret_names) > 0 ? [1] : []

    content {
      sid       = "RefreshOwnSecretValues"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for name in var.plan_readable_secret_names : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${name}-??????"]
    }
  }

  # Those secrets are encrypted with this environment's ElastiCache key.
  dynamic "statement" {
    for_each = length(var.plan_readable_secret_names) > 0 ? [1] : []

    content {
      sid       = "DecryptOwnSecretValues"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  # data.aws_secretsmanager_random_password (the Redis AUTH token) is read on every
  # plan. The action has no resource: AWS only accepts "*"; it returns random bytes.
  statement {
    sid       = "GenerateRandomPassword"
    effect    = "Allow"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "github-plan"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}
