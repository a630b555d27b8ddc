# Addresses this module's resources had before, and where they are now: a plan
# moves them and replaces nothing (tests/infra/test_terraform.py plans the old
# layout's applied state against this one). Keep them while any state may still
# have the old addresses.

# The cluster and node groups, and the rules between them, were a resource each.
moved {
  from = aws_security_group.cluster
  to   = aws_security_group.this["cluster"]
}

moved {
  from = aws_security_group.node
  to   = aws_security_group.this["node"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.cluster_from_nodes_https
  to   = aws_vpc_security_group_ingress_rule.this["cluster_from_nodes_https"]
}

moved {
  from = aws_vpc_security_group_egress_rule.cluster_to_nodes_https
  to   = aws_vpc_security_group_egress_rule.this["cluster_to_nodes_https"]
}

moved {
  from = aws_vpc_security_group_egress_rule.cluster_to_nodes_ephemeral
  to   = aws_vpc_security_group_egress_rule.this["cluster_to_nodes_ephemeral"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.node_self
  to   = aws_vpc_security_group_ingress_rule.this["node_self"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.node_from_cluster_https
  to   = aws_vpc_security_group_ingress_rule.this["node_from_cluster_https"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.node_from_cluster_ephemeral
  to   = aws_vpc_security_group_ingress_rule.this["node_from_cluster_ephemeral"]
}

# The two roles and their attachments were resources of their own.
moved {
  from = aws_iam_role.cluster
  to   = aws_iam_role.service["cluster"]
}

moved {
  from = aws_iam_role.node
  to   = aws_iam_role.service["node"]
}

moved {
  from = aws_iam_role_policy_attachment.cluster
  to   = aws_iam_role_policy_attachment.service["cluster/AmazonEKSClusterPolicy"]
}

moved {
  from = aws_iam_role_policy_attachment.node["AmazonEKSWorkerNodePolicy"]
  to   = aws_iam_role_policy_attachment.service["node/AmazonEKSWorkerNodePolicy"]
}

moved {
  from = aws_iam_role_policy_attachment.node["AmazonEC2ContainerRegistryReadOnly"]
  to   = aws_iam_role_policy_attachment.service["node/AmazonEC2ContainerRegistryReadOnly"]
}

moved {
  from = aws_iam_role_policy_attachment.node["AmazonEKS_CNI_Policy"]
  to   = aws_iam_role_policy_attachment.service["node/AmazonEKS_CNI_Policy"]
}

moved {
  from = aws_iam_role_policy_attachment.node["AmazonSSMManagedInstanceCore"]
  to   = aws_iam_role_policy_attachment.service["node/AmazonSSMManagedInstanceCore"]
}
