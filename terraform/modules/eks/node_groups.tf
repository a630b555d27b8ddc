################################################################################
# Managed node groups: always on-demand, plus Spot when node_groups.spot.max_size > 0
################################################################################

locals {
  node_groups = {
    for key, group in {
      on-demand = merge(var.node_groups["on_demand"], { capacity_type = "ON_DEMAND", short = "od" })
      spot      = merge(var.node_groups["spot"], { capacity_type = "SPOT", short = "spot" })
    } : key => group if key == "on-demand" || group.max_size > 0
  }

  # Managed node groups already tag their Auto Scaling groups for auto-discovery;
  # the same tags on the node group keep the intent visible and queryable.
  cluster_autoscaler_tags = {
    "k8s.io/cluster-autoscaler/enabled"     = "true"
    "k8s.io/cluster-autoscaler/${var.name}" = "owned"
  }
}

resource "aws_launch_template" "node" {
  for_each = local.node_groups

  name_prefix            = "${var.name}-${each.key}-"
  description            = "EKS ${var.name} ${each.key} nodes"
  update_default_version = true

  # No image_id, instance type or instance profile: EKS supplies the AMI for
  # node_ami_type, the node group carries the instance types and the role.

  # Security groups given here replace EKS's default, so the primary cluster SG
  # (control plane <-> nodes, ALB target rules) is listed explicitly.
  vpc_security_group_ids = [
    aws_security_group.this["node"].id,
    aws_eks_cluster.this.vpc_config[0].cluster_security_group_id,
  ]

  block_device_mappings {
    # Root device of the AL2023 EKS AMIs.
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.node_disk_size_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  # IMDSv2 only, and a hop limit of 1 so pods (one hop further) cannot take the
  # node role's credentials: pods use IRSA. Controllers that read the region/VPC
  # from IMDS (AWS Load Balancer Controller) need them set in their Helm values.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  monitoring {
    enabled = true
  }

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])

    content {
      resource_type = tag_specifications.value
      tags          = merge(var.tags, { Name = "${var.name}-${each.key}" })
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name = aws_eks_cluster.this.name
  # A prefix (<= 37 chars) plus create_before_destroy lets changes that force a
  # new group (instance types, subnets) bring up the replacement before the old
  # one is drained.
  node_group_name_prefix = "${substr(var.name, 0, 30)}-${each.value.short}-"
  node_role_arn          = aws_iam_role.service["node"].arn
  subnet_ids             = local.node_subnet_ids
  version                = aws_eks_cluster.this.version

  ami_type       = var.node_ami_type
  capacity_type  = each.value.capacity_type
  instance_types = each.value.instance_types

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  scaling_config {
    min_size     = each.value.min_size
    desired_size = each.value.desired_size
    max_size     = each.value.max_size
  }

  update_config {
    max_unavailable_percentage = 33
  }

  labels = {
    "node.kubernetes.io/capacity" = each.key
  }

  tags = merge(var.tags, local.cluster_autoscaler_tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
    # The cluster autoscaler owns the current size.
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [
    aws_iam_role_policy_attachment.service,
    # Networking add-ons first, so nodes join with the managed CNI configuration.
    aws_eks_addon.before_nodes,
  ]
}
