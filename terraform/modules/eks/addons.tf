################################################################################
# EKS managed add-ons
#
# DaemonSet add-ons (CNI, kube-proxy, pod identity agent) go in before the node
# groups so nodes come up with them; CoreDNS and the EBS CSI controller are
# Deployments that only become healthy once nodes exist.
################################################################################

locals {
  addons_before_nodes = {
    vpc-cni = {
      # The chart ships a NetworkPolicy; the VPC CNI enforces it only with this on.
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
      role_arn             = null
    }
    kube-proxy = {
      configuration_values = null
      role_arn             = null
    }
    eks-pod-identity-agent = {
      configuration_values = null
      role_arn             = null
    }
  }

  addons_after_nodes = {
    coredns = {
      configuration_values = null
      role_arn             = null
    }
    aws-ebs-csi-driver = {
      configuration_values = null
      role_arn             = aws_iam_role.irsa["ebs_csi"].arn
    }
    # The resource metrics API the HorizontalPodAutoscaler reads (EKS community add-on).
    metrics-server = {
      configuration_values = null
      role_arn             = null
    }
  }

  addon_names = concat(keys(local.addons_before_nodes), keys(local.addons_after_nodes))
}

# EKS's default version for the cluster's Kubernetes version, so a version bump
# of the cluster also moves the add-ons (unless pinned in addon_versions).
data "aws_eks_addon_version" "this" {
  for_each = toset(local.addon_names)

  addon_name         = each.key
  kubernetes_version = aws_eks_cluster.this.version
  most_recent        = false
}

resource "aws_eks_addon" "before_nodes" {
  for_each = local.addons_before_nodes

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = lookup(var.addon_versions, each.key, data.aws_eks_addon_version.this[each.key].version)
  configuration_values        = lookup(var.addon_configuration_values, each.key, each.value.configuration_values)
  service_account_role_arn    = each.value.role_arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_eks_addon" "after_nodes" {
  for_each = local.addons_after_nodes

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = lookup(var.addon_versions, each.key, data.aws_eks_addon_version.this[each.key].version)
  configuration_values        = lookup(var.addon_configuration_values, each.key, each.value.configuration_values)
  service_account_role_arn    = each.value.role_arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  depends_on = [aws_eks_node_group.this]
}
