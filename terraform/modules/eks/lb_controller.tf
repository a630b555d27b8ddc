################################################################################
# AWS Load Balancer Controller
#
# Follows the controller's published policy
# (kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json)
# as of controller v2.13 (v2.13.0 added ec2:DescribeRouteTables; v2.12 the IPAM
# pool actions ec2:DescribeIpamPools and elasticloadbalancing:ModifyIpPools;
# v2.11 the capacity reservation actions): install a v2.13.x controller, and
# compare this file with that file of the new release before upgrading,
# tightened: resources are limited to this account and region, security groups
# to this VPC, and everything the controller creates or changes must carry the
# tag elbv2.k8s.aws/cluster = <this cluster> (the controller sets it from its
# clusterName value, which must therefore be var.name).
################################################################################

locals {
  elb_arn = "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}"
  ec2_arn = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
  vpc_arn = "${local.ec2_arn}:vpc/${var.vpc_id}"
  sg_arn  = "${local.ec2_arn}:security-group/*"
  lbc_tag = "elbv2.k8s.aws/cluster"
  # One pattern per ELB resource type keeps the inline policy well under IAM's
  # 10,240-character limit per role.
  lbc_lb_arn       = ["${local.elb_arn}:loadbalancer/*"]
  lbc_tg_arn       = "${local.elb_arn}:targetgroup/*"
  lbc_listener_arn = ["${local.elb_arn}:listener/*", "${local.elb_arn}:listener-rule/*"]
}

data "aws_iam_policy_document" "lb_controller" {
  statement {
    sid       = "ELBServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/elasticloadbalancing.${local.dns_suffix}/AWSServiceRoleForElasticLoadBalancing"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.${local.dns_suffix}"]
    }
  }

  # Calls that accept no resource ARN.
  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcPeeringConnections",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeRouteTables",
      "ec2:DescribeIpamPools",
      "ec2:DescribeCoipPools",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "elasticloadbalancing:DescribeCapacityReservation",
      "acm:ListCertificates",
      "iam:ListServerCertificates",
      "shield:GetSubscriptionState",
    ]
    resources = ["*"]
  }

  # Security groups of this VPC; customer-owned IP pools (Outposts) of this account.
  statement {
    sid       = "DescribeScoped"
    actions   = ["ec2:GetSecurityGroupsForVpc", "ec2:GetCoipPoolUsage"]
    resources = [local.vpc_arn, local.sg_arn, "${local.ec2_arn}:coip-pool/*"]
  }

  # TLS certificates (ACM, or IAM server certificates) and Cognito user pools of
  # this account, for HTTPS listeners and ALB authentication.
  statement {
    sid = "ReadCertificatesAndUserPools"
    actions = [
      "acm:DescribeCertificate",
      "iam:GetServerCertificate",
      "cognito-idp:DescribeUserPoolClient",
    ]
    resources = [
      "arn:${local.partition}:acm:${local.region}:${local.account_id}:certificate/*",
      "arn:${local.partition}:iam::${local.account_id}:server-certificate/*",
      "arn:${local.partition}:cognito-idp:${local.region}:${local.account_id}:userpool/*",
    ]
  }

  # WAF web ACL (prod) on the ALBs: authorised against both the web ACL and the ALB.
  statement {
    sid = "WafOnLoadBalancers"
    actions = [
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:AssociateWebACL",
      "wafv2:DisassociateWebACL",
      "waf-regional:GetWebACL",
      "waf-regional:GetWebACLForResource",
      "waf-regional:AssociateWebACL",
      "waf-regional:DisassociateWebACL",
    ]
    resources = concat(local.lbc_lb_arn, [
      "arn:${local.partition}:wafv2:${local.region}:${local.account_id}:regional/webacl/*/*",
      "arn:${local.partition}:waf-regional:${local.region}:${local.account_id}:webacl/*",
    ])
  }

  # Shield Advanced protection of the ALBs (only with a Shield subscription).
  statement {
    sid = "ShieldOnLoadBalancers"
    actions = [
      "shield:DescribeProtection",
      "shield:CreateProtection",
      "shield:DeleteProtection",
    ]
    resources = concat(local.lbc_lb_arn, ["arn:${local.partition}:shield::${local.account_id}:protection/*"])
  }

  # What the controller creates and changes, each statement limited by the
  # conditions of local.lbc_conditions it names (all must hold).
  dynamic "statement" {
    for_each = local.lbc_statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = local.lbc_conditions[condition.value].test
          variable = local.lbc_conditions[condition.value].variable
          values   = local.lbc_conditions[condition.value].values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "lb_controller" {
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.irsa["lb_controller"].id
  policy = data.aws_iam_policy_document.lb_controller.json
}

# The controller's security groups and load balancers: it may only create them
# tagged with this cluster (tagged_request) and only change what carries the
# tag (owned); a tag may be changed only when the request sets none
# (untagged_request), so nothing can be re-tagged into or out of the cluster.
locals {
  lbc_conditions = {
    in_vpc           = { test = "ArnEquals", variable = "ec2:Vpc", values = [local.vpc_arn] }
    owned            = { test = "StringEquals", variable = "aws:ResourceTag/${local.lbc_tag}", values = [var.name] }
    tagged_request   = { test = "StringEquals", variable = "aws:RequestTag/${local.lbc_tag}", values = [var.name] }
    untagged_request = { test = "Null", variable = "aws:RequestTag/${local.lbc_tag}", values = ["true"] }
    creating_sg      = { test = "StringEquals", variable = "ec2:CreateAction", values = ["CreateSecurityGroup"] }
    creating_lb      = { test = "StringEquals", variable = "elasticloadbalancing:CreateAction", values = ["CreateTargetGroup", "CreateLoadBalancer"] }
  }

  lbc_statements = [
    # Node/pod security groups (not created by the controller) get the ALB
    # ingress rules; only in this VPC.
    {
      sid        = "SecurityGroupRulesInVpc"
      actions    = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
      resources  = [local.sg_arn]
      conditions = ["in_vpc"]
    },
    {
      sid        = "CreateSecurityGroupInVpc"
      actions    = ["ec2:CreateSecurityGroup"]
      resources  = [local.vpc_arn, local.sg_arn]
      conditions = []
    },
    {
      sid        = "TagSecurityGroupOnCreate"
      actions    = ["ec2:CreateTags"]
      resources  = [local.sg_arn]
      conditions = ["creating_sg", "tagged_request"]
    },
    {
      sid        = "RetagOwnSecurityGroups"
      actions    = ["ec2:CreateTags", "ec2:DeleteTags"]
      resources  = [local.sg_arn]
      conditions = ["untagged_request", "owned"]
    },
    {
      sid        = "ManageOwnSecurityGroups"
      actions    = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"]
      resources  = [local.sg_arn]
      conditions = ["owned"]
    },
    {
      sid        = "CreateTaggedLoadBalancers"
      actions    = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
      resources  = concat(local.lbc_lb_arn, [local.lbc_tg_arn])
      conditions = ["tagged_request"]
    },
    {
      sid = "ListenersAndRules"
      actions = [
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:DeleteRule",
      ]
      resources  = concat(local.lbc_lb_arn, local.lbc_listener_arn, [local.lbc_tg_arn])
      conditions = []
    },
    {
      sid        = "RetagOwnLoadBalancers"
      actions    = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
      resources  = concat(local.lbc_lb_arn, [local.lbc_tg_arn])
      conditions = ["untagged_request", "owned"]
    },
    {
      sid        = "TagListenersAndRules"
      actions    = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
      resources  = local.lbc_listener_arn
      conditions = []
    },
    {
      sid        = "TagOnCreate"
      actions    = ["elasticloadbalancing:AddTags"]
      resources  = concat(local.lbc_lb_arn, [local.lbc_tg_arn])
      conditions = ["creating_lb", "tagged_request"]
    },
    {
      sid = "ModifyOwnLoadBalancers"
      actions = [
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetIpAddressType",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:ModifyCapacityReservation",
        "elasticloadbalancing:ModifyIpPools",
      ]
      # Listeners too: the controller tags them and changes their attributes.
      resources  = concat(local.lbc_lb_arn, local.lbc_listener_arn, [local.lbc_tg_arn])
      conditions = ["owned"]
    },
    {
      sid        = "Targets"
      actions    = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
      resources  = [local.lbc_tg_arn]
      conditions = []
    },
    {
      sid = "ListenerSettings"
      actions = [
        "elasticloadbalancing:SetWebAcl",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:AddListenerCertificates",
        "elasticloadbalancing:RemoveListenerCertificates",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:SetRulePriorities",
      ]
      resources  = concat(local.lbc_lb_arn, local.lbc_listener_arn)
      conditions = []
    },
  ]
}
