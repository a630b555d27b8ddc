################################################################################
# Security groups
#
# The control-plane ENIs carry this additional cluster SG plus the EKS-managed
# primary SG; the nodes carry the node SG plus the primary SG (see the launch
# template). Only the primary SG is tagged kubernetes.io/cluster/<name>, so the
# AWS Load Balancer Controller finds exactly one SG per node ENI to open for the
# ALB; the node SG must therefore NOT carry that tag.
################################################################################

# <group> => what it is for (its description).
locals {
  security_groups = {
    cluster = "control plane: API from the nodes, kubelet/webhooks to the nodes"
    node    = "worker nodes"
  }
}

resource "aws_security_group" "this" {
  for_each = local.security_groups

  name_prefix = "${var.name}-${each.key}-"
  description = "EKS ${var.name} (${var.environment}) ${each.value}"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

# The rules between the two groups: <group>_<from|to>_<peer>_<ports> = the
# rule on `group` (ingress from, egress to `peer`).
locals {
  security_group_rules = {
    cluster_from_nodes_https    = { egress = false, group = "cluster", peer = "node", ports = [443, 443], name = "cluster-from-nodes-443", description = "Kubernetes API from the nodes" }
    cluster_to_nodes_https      = { egress = true, group = "cluster", peer = "node", ports = [443, 443], name = "cluster-to-nodes-443", description = "Control plane to admission webhooks on the nodes (443)" }
    cluster_to_nodes_ephemeral  = { egress = true, group = "cluster", peer = "node", ports = [1025, 65535], name = "cluster-to-nodes-1025-65535", description = "Control plane to kubelet (10250) and webhook/metrics ports on the nodes" }
    node_self                   = { egress = false, group = "node", peer = "node", ports = null, name = "node-self", description = "Node to node, all protocols (pod networking, CoreDNS, kubelet)" }
    node_from_cluster_https     = { egress = false, group = "node", peer = "cluster", ports = [443, 443], name = "node-from-cluster-443", description = "Control plane to admission webhooks (443)" }
    node_from_cluster_ephemeral = { egress = false, group = "node", peer = "cluster", ports = [1025, 65535], name = "node-from-cluster-1025-65535", description = "Control plane to kubelet (10250) and webhook/metrics ports" }
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  #checkov:skip=CKV_AWS_25:False positive: every source is the cluster or the node security group, not 0.0.0.0/0; the 1025-65535 range carries kubelet 10250 and webhook ports
  for_each = { for key, rule in local.security_group_rules : key => rule if !rule.egress }

  security_group_id            = aws_security_group.this[each.value.group].id
  description                  = each.value.description
  referenced_security_group_id = aws_security_group.this[each.value.peer].id
  ip_protocol                  = each.value.ports == null ? "-1" : "tcp"
  from_port                    = try(each.value.ports[0], null)
  to_port                      = try(each.value.ports[1], null)

  tags = merge(var.tags, { Name = "${var.name}-${each.value.name}" })
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = { for key, rule in local.security_group_rules : key => rule if rule.egress }

  security_group_id            = aws_security_group.this[each.value.group].id
  description                  = each.value.description
  referenced_security_group_id = aws_security_group.this[each.value.peer].id
  ip_protocol                  = "tcp"
  from_port                    = each.value.ports[0]
  to_port                      = each.value.ports[1]

  tags = merge(var.tags, { Name = "${var.name}-${each.value.name}" })
}

# Nodes pull images from ECR, call STS/EC2/ELB/Secrets Manager APIs, join the
# cluster and reach RDS/Redis; pods share the node SG. Egress through the NAT
# gateway / VPC endpoints is the standard EKS node posture; what the pods may
# reach is narrowed in-cluster by the chart's NetworkPolicy.
# trivy AVD-AWS-0104 accepted for the reason above.
#trivy:ignore:AVD-AWS-0104
resource "aws_vpc_security_group_egress_rule" "node_all" {
  security_group_id = aws_security_group.this["node"].id
  description       = "Nodes to anywhere (AWS APIs, ECR, NAT, in-VPC data stores)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"

  tags = merge(var.tags, { Name = "${var.name}-node-egress-all" })
}
