################################################################################
# Service roles: the control plane's (assumed by EKS) and the nodes' (by EC2),
# each with its AWS managed policies
################################################################################

locals {
  service_roles = {
    cluster = {
      sid         = "EKSAssumeRole"
      service     = "eks"
      actions     = ["sts:AssumeRole", "sts:TagSession"]
      description = "EKS control plane of ${var.name}"
      policies    = ["AmazonEKSClusterPolicy"]
    }
    node = {
      sid         = "EC2AssumeRole"
      service     = "ec2"
      actions     = ["sts:AssumeRole"]
      description = "EKS worker nodes of ${var.name}"
      policies = [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKS_CNI_Policy",
        # Session Manager instead of SSH: the nodes have no key pair and no port 22.
        "AmazonSSMManagedInstanceCore",
      ]
    }
  }

  # <role>/<policy> => { role, policy }
  service_role_policies = merge([
    for role, settings in local.service_roles : {
      for policy in settings.policies : "${role}/${policy}" => { role = role, policy = policy }
    }
  ]...)
}

data "aws_iam_policy_document" "service_assume" {
  for_each = local.service_roles

  statement {
    sid     = each.value.sid
    actions = each.value.actions

    principals {
      type        = "Service"
      identifiers = ["${each.value.service}.${local.dns_suffix}"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.service_roles

  name                 = "${var.name}-${each.key}"
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.service_assume[each.key].json
  permissions_boundary = var.iam_permissions_boundary_arn

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_iam_role_policy_attachment" "service" {
  for_each = local.service_role_policies

  role       = aws_iam_role.service[each.value.role].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value.policy}"
}

# Envelope encryption of Kubernetes secrets with the customer key.
data "aws_iam_policy_document" "cluster_kms" {
  statement {
    sid       = "SecretsEnvelopeEncryption"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "cluster_kms" {
  name   = "secrets-encryption"
  role   = aws_iam_role.service["cluster"].id
  policy = data.aws_iam_policy_document.cluster_kms.json
}

################################################################################
# IRSA roles: each trusts exactly one service account of this cluster
################################################################################

locals {
  # ExternalDNS gets a role only when there is a hosted zone for it to write.
  irsa = merge(local.irsa_always, var.route53_zone_id == "" ? {} : {
    external_dns = {
      role            = "external-dns"
      namespace       = "kube-system"
      service_account = "external-dns"
    }
  })

  irsa_always = {
    cluster_autoscaler = {
      role            = "cluster-autoscaler"
      namespace       = "kube-system"
      service_account = "cluster-autoscaler"
    }
    lb_controller = {
      role            = "lb-controller"
      namespace       = "kube-system"
      service_account = "aws-load-balancer-controller"
    }
    ebs_csi = {
      role            = "ebs-csi"
      namespace       = "kube-system"
      service_account = "ebs-csi-controller-sa"
    }
    app = {
      role            = "app"
      namespace       = var.app_namespace
      service_account = var.app_service_account
    }
  }
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa

  statement {
    sid     = "IRSA"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:aud"
      values   = ["sts.${local.dns_suffix}"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa

  name                 = "${var.name}-${each.value.role}"
  description          = "IRSA for ${each.value.namespace}/${each.value.service_account} in EKS ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.irsa_assume[each.key].json
  permissions_boundary = var.iam_permissions_boundary_arn

  tags = merge(var.tags, { Name = "${var.name}-${each.value.role}" })
}

################################################################################
# EBS CSI driver
################################################################################

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.irsa["ebs_csi"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

# Volumes are encrypted with the customer key: the driver creates them, and EC2
# attaches them through grants the driver creates for it.
data "aws_iam_policy_document" "ebs_csi_kms" {
  statement {
    sid       = "GrantsForEBS"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = [var.kms_key_arn]

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "UseKeyForEBS"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "ebs_csi_kms" {
  name   = "ebs-kms"
  role   = aws_iam_role.irsa["ebs_csi"].id
  policy = data.aws_iam_policy_document.ebs_csi_kms.json
}

################################################################################
# Cluster autoscaler
# https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
################################################################################

data "aws_iam_policy_document" "cluster_autoscaler" {
  statement {
    sid = "Discovery"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }

  # Scale-from-zero: labels and taints of a managed node group with no nodes.
  statement {
    sid       = "DescribeOwnNodegroups"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:${local.partition}:eks:${local.region}:${local.account_id}:nodegroup/${var.name}/*/*"]
  }

  # Only the Auto Scaling groups tagged as belonging to this cluster.
  statement {
    sid = "ScaleOwnNodegroups"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.name}"
      values   = ["owned"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  name   = "cluster-autoscaler"
  role   = aws_iam_role.irsa["cluster_autoscaler"].id
  policy = data.aws_iam_policy_document.cluster_autoscaler.json
}

################################################################################
# ExternalDNS: creates the Ingress host's record (pointing at the ALB the
# controller made) in one hosted zone, and may change no other zone.
# https://kubernetes-sigs.github.io/external-dns/latest/docs/tutorials/aws/
################################################################################

data "aws_iam_policy_document" "external_dns" {
  count = var.route53_zone_id == "" ? 0 : 1

  statement {
    sid       = "ChangeOwnZone"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/${var.route53_zone_id}"]
  }

  statement {
    sid       = "ReadOwnZone"
    actions   = ["route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:ListTagsForResources"]
    resources = ["arn:${local.partition}:route53:::hostedzone/${var.route53_zone_id}"]
  }

  # Zone discovery has no resource-level permissions: AWS only accepts "*".
  statement {
    sid       = "ListZones"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "external_dns" {
  count = var.route53_zone_id == "" ? 0 : 1

  name   = "external-dns"
  role   = aws_iam_role.irsa["external_dns"].id
  policy = data.aws_iam_policy_document.external_dns[0].json
}

################################################################################
# App (External Secrets reads SECRET_KEY / DATABASE_URL with this role)
################################################################################

data "aws_iam_policy_document" "app" {
  count = length(var.app_secret_arns) > 0 ? 1 : 0

  statement {
    sid       = "ReadAppSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.app_secret_arns
  }

  # Secrets under a customer key (e.g. the RDS-managed master secret) also need
  # kms:Decrypt. Limited to Secrets Manager decrypting exactly these secrets
  # (its encryption context always names the secret), so no key ARNs are needed.
  statement {
    sid       = "DecryptAppSecretsViaSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = var.app_secret_arns
    }
  }
}

resource "aws_iam_role_policy" "app" {
  count = length(var.app_secret_arns) > 0 ? 1 : 0

  name   = "read-app-secrets"
  role   = aws_iam_role.irsa["app"].id
  policy = data.aws_iam_policy_document.app[0].json
}
