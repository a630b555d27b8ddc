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

# The two roles GitHub Actions assumes, alike but for who may assume them and
# what they may do. Who: only jobs of this repository, and for the deploy role
# only those running in this GitHub environment (which can carry required
# reviewers and branch rules); for the plan role, pull-request jobs. What: the
# statements of local.github_policies.
locals {
  github_roles = {
    deploy = {
      subject     = "repo:${var.github_repository}:environment:${var.github_environment}"
      description = "Assumed by GitHub Actions (${var.github_repository}, environment ${var.github_environment}) to push images and deploy to EKS"
    }
    plan = {
      subject     = "repo:${var.github_repository}:pull_request"
      description = "Assumed by pull-request jobs of ${var.github_repository} to plan ${var.environment} (read-only)"
    }
  }
}

data "aws_iam_policy_document" "github_assume" {
  for_each = local.github_roles

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
      values   = [each.value.subject]
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = local.github_roles

  name                 = "${var.name}-github-${each.key}"
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.github_assume[each.key].json
  max_session_duration = 3600

  tags = merge(var.tags, { Name = "${var.name}-github-${each.key}" })
}

# --- What each role may do ------------------------------------------------------
#
# Each statement allows `actions` on `resources`; `when = false` leaves it out
# (an optional input not given) and `via_service` allows it only through that
# service (kms:ViaService).
locals {
  # Reading this environment's state, and only its own: the objects under
  # state_key_prefix (another environment's state holds its Redis AUTH token).
  # The S3 backend checks the state's MD5 digest item in the lock table on read
  # (with state_lock_table_name), and the state is encrypted with
  # state_kms_key_arn (when given).
  state_read_statements = [
    { sid = "TerraformStateList", actions = ["s3:ListBucket"], resources = [local.state_bucket_arn] },
    { sid = "TerraformStateRead", actions = ["s3:GetObject"], resources = ["${local.state_bucket_arn}/${var.state_key_prefix}*"] },
    { sid = "TerraformLockDigestRead", actions = ["dynamodb:GetItem"], resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.state_lock_table_name}"], when = var.state_lock_table_name != "" },
    { sid = "TerraformStateDecrypt", actions = ["kms:Decrypt"], resources = [var.state_kms_key_arn], when = var.state_kms_key_arn != "" },
  ]

  github_policies = {
    # Read-only access to this environment's state (the pipeline runs
    # `terraform output`), then ECR and EKS.
    deploy = concat(local.state_read_statements, [
      # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
      # The token alone grants nothing; the repository statement below does.
      { sid = "EcrLogin", actions = ["ecr:GetAuthorizationToken"], resources = ["*"] },
      {
        sid = "EcrPushPullAppRepository"
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
      },
      # Enough for `aws eks update-kubeconfig`; what the role may do inside the
      # cluster is decided by its EKS access entry, not by IAM.
      { sid = "EksDescribeAppCluster", actions = ["eks:DescribeCluster"], resources = [local.eks_cluster_arn] },
    ])

    # Pull-request plan role: ReadOnlyAccess (attached below) plus what a refresh
    # of this environment reads that ReadOnlyAccess lacks: its state, the Redis
    # URL secret value, Secrets Manager's password generator. The workflow
    # assumes it for `terraform plan -lock=false` on pull requests (output
    # plan_role_arn).
    plan = concat(local.state_read_statements, [
      # Refreshing aws_secretsmanager_secret_version reads the value; those
      # secrets are encrypted with this environment's ElastiCache key.
      {
        sid       = "RefreshOwnSecretValues"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [for name in var.plan_readable_secret_names : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${name}-??????"]
        when      = length(var.plan_readable_secret_names) > 0
      },
      {
        sid         = "DecryptOwnSecretValues"
        actions     = ["kms:Decrypt"]
        resources   = [var.secrets_kms_key_arn]
        via_service = "secretsmanager.${local.region}.${local.dns_suffix}"
        when        = length(var.plan_readable_secret_names) > 0
      },
      # data.aws_secretsmanager_random_password (the Redis AUTH token) is read on every
      # plan. The action has no resource: AWS only accepts "*"; it returns random bytes.
      { sid = "GenerateRandomPassword", actions = ["secretsmanager:GetRandomPassword"], resources = ["*"] },
    ])
  }
}

data "aws_iam_policy_document" "github" {
  for_each = local.github_policies

  dynamic "statement" {
    for_each = [for s in each.value : s if lookup(s, "when", true)]

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = lookup(statement.value, "via_service", null) == null ? [] : [statement.value.via_service]

        content {
          test     = "StringEquals"
          variable = "kms:ViaService"
          values   = [condition.value]
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "github" {
  for_each = local.github_roles

  name   = "github-${each.key}"
  role   = aws_iam_role.github[each.key].id
  policy = data.aws_iam_policy_document.github[each.key].json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.github["plan"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

# The roles and their inline policies were one resource each before they were
# built from local.github_roles.
moved {
  from = aws_iam_role.deploy
  to   = aws_iam_role.github["deploy"]
}

moved {
  from = aws_iam_role.plan
  to   = aws_iam_role.github["plan"]
}

moved {
  from = aws_iam_role_policy.deploy
  to   = aws_iam_role_policy.github["deploy"]
}

moved {
  from = aws_iam_role_policy.plan
  to   = aws_iam_role_policy.github["plan"]
}
