################################################################################
# Security groups
#
# The control-plane ENIs carry this additional cluster SG plus the EKS-managed
# primary SG; the nodes carry the node SG plus the primary SG (see the launch
# template). Only the primary SG is tagged kubernetes.io/cluster/<name>, so the
# AWS Load Balancer Controller finds exactly one SG per node ENI to open for the
# ALB; the node SG must therefore NOT carry that tag.
################################################################################

resource "aws_security_group" "cluster" {
  name_prefix = "${var.name}-cluster-"
  description = "EKS ${var.name} (${var.environment}) control plane: API from the nodes, kubelet/webhooks to the nodes"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-cluster" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "cluster_from_nodes_https" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Kubernetes API from the nodes"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443

  tags = merge(var.tags, { Name = "${var.name}-cluster-from-nodes-443" })
}

resource "aws_vpc_security_group_egress_rule" "cluster_to_nodes_https" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Control plane to admission webhooks on the nodes (443)"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443

  tags = merge(var.tags, { Name = "${var.name}-cluster-to-nodes-443" })
}

resource "aws_vpc_security_group_egress_rule" "cluster_to_nodes_ephemeral" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Control plane to kubelet (10250) and webhook/metrics ports on the nodes"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "tcp"
  from_port                    = 1025
  to_port                      = 65535

  tags = merge(var.tags, { Name = "${var.name}-cluster-to-nodes-1025-65535" })
}

resource "aws_security_group" "node" {
  name_prefix = "${var.name}-node-"
  description = "EKS ${var.name} (${var.environment}) worker nodes"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-node" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "node_self" {
  security_group_id            = aws_security_group.node.id
  description                  = "Node to node, all protocols (pod networking, CoreDNS, kubelet)"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "-1"

  tags = merge(var.tags, { Name = "${var.name}-node-self" })
}

resource "aws_vpc_security_group_ingress_rule" "node_from_cluster_https" {
  security_group_id            = aws_security_group.node.id
  description                  = "Control plane to admission webhooks (443)"
  referenced_security_group_id = aws_security_group.cluster.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443

  tags = merge(var.tags, { Name = "${var.name}-node-from-cluster-443" })
}

resource "aws_vpc_security_group_ingress_rule" "node_from_cluster_ephemeral" {
  #checkov:skip=CKV_AWS_25:False positive: the source is the cluster security group, not 0.0.0.0/0; the range carries kubelet 10250 and webhook ports
  security_group_id            = aws_security_group.node.id
  description                  = "Control plane to kubelet (10250) and webhook/metrics ports"
  referenced_security_group_id = aws_security_group.cluster.id
  ip_protocol                  = "tcp"
  from_port                    = 1025
  to_port                      = 65535

  tags = merge(var.tags, { Name = "${var.name}-node-from-cluster-1025-65535" })
}

# Nodes pull images from ECR, call STS/EC2/ELB/Secrets Manager APIs, join the
# cluster and reach RDS/Redis; pods share the node SG. Egress through the NAT
# gateway / VPC endpoints is the standard EKS node posture; what the pods may
# reach is narrowed in-cluster by the chart's NetworkPolicy.
# trivy AVD-AWS-0104 accepted for the reason above.
#trivy:ignore:AVD-AWS-0104
resource "aws_vpc_security_group_egress_rule" "node_all" {
  security_group_id = aws_security_group.node.id
  description       = "Nodes to anywhere (AWS APIs, ECR, NAT, in-VPC data stores)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"

  tags = merge(var.tags, { Name = "${var.name}-node-egress-all" })
}
