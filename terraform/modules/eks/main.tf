locals {
  node_subnet_ids = length(var.node_subnet_ids) > 0 ? var.node_subnet_ids : var.subnet_ids

  log_group_name = "/aws/eks/${var.name}/cluster"

  # The OIDC issuer without scheme: the prefix of the IRSA condition keys.
  oidc_issuer_host = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")

  cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
}

################################################################################
# Control-plane logs. Created before the cluster so EKS writes into this
# encrypted, retention-limited group instead of creating its own.
################################################################################

resource "aws_cloudwatch_log_group" "cluster" {
  #checkov:skip=CKV_AWS_338:Retention is the environment's log_retention_days: prod keeps a year, staging 90 and dev 30 days (terraform.tfvars), a cost choice for the environments without real users.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = local.log_group_name })
}

################################################################################
# Cluster
################################################################################

# The public endpoint is off unless endpoint_public_access is set, and then only
# for public_access_cidrs, which the variable refuses to be 0.0.0.0/0 (prod
# leaves it off; dev and staging open it to the operators' and CI's CIDRs).
#trivy:ignore:AVD-AWS-0040
resource "aws_eks_cluster" "this" {
  #checkov:skip=CKV_AWS_39:The public endpoint is on only where api_allowed_cidrs names the operators' and CI's CIDRs (dev, staging), never 0.0.0.0/0 (validated); prod keeps it private.
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.service["cluster"].arn

  enabled_cluster_log_types = local.cluster_log_types

  access_config {
    # Access entries only (no aws-auth ConfigMap); nobody gets admin implicitly,
    # not even the identity that runs Terraform: admins come from admin_principal_arns.
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    security_group_ids      = [aws_security_group.this["cluster"].id]
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    # An empty list is not sent to the API; with the public endpoint off AWS reports
    # its 0.0.0.0/0 default, which applies to nothing.
    public_access_cidrs = var.endpoint_public_access ? var.public_access_cidrs : []
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = var.kms_key_arn
    }
  }

  # Stay on standard support: an unnoticed extended-support version costs 6x.
  upgrade_policy {
    support_type = var.support_type
  }

  tags = merge(var.tags, { Name = var.name })

  depends_on = [
    aws_cloudwatch_log_group.cluster,
    aws_iam_role_policy_attachment.service,
    aws_iam_role_policy.cluster_kms,
    # The control plane must reach the nodes/webhooks as soon as it is up.
    aws_vpc_security_group_ingress_rule.this,
    aws_vpc_security_group_egress_rule.this,
  ]
}

################################################################################
# IRSA: the cluster's OIDC issuer as an IAM identity provider
################################################################################

# No thumbprint: IAM trusts EKS's OIDC issuers through its own CA store, so the
# list is optional (and the hashicorp/tls provider that fetched it is gone).
resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.${local.dns_suffix}"]

  tags = merge(var.tags, { Name = "${var.name}-irsa" })
}

################################################################################
# Access entries. Keyed by list index, not by ARN: the deploy role's ARN is
# usually unknown until it is created in the same apply, and for_each keys must
# be known at plan time. Keep the lists append-only to avoid re-creating entries.
################################################################################

resource "aws_eks_access_entry" "admin" {
  for_each = { for i, arn in var.admin_principal_arns : tostring(i) => arn }

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"

  tags = merge(var.tags, { Name = "${var.name}-admin-${each.key}" })
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = aws_eks_access_entry.admin

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

resource "aws_eks_access_entry" "deployer" {
  for_each = { for i, arn in var.deployer_principal_arns : tostring(i) => arn }

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"

  tags = merge(var.tags, { Name = "${var.name}-deployer-${each.key}" })
}

# Helm from GitHub Actions manages only the app's namespace. The namespace itself
# (cluster-scoped) must already exist: `helm --create-namespace` is forbidden here.
resource "aws_eks_access_policy_association" "deployer" {
  for_each = aws_eks_access_entry.deployer

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"

  access_scope {
    type       = "namespace"
    namespaces = [var.app_namespace]
  }
}
