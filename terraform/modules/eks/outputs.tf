output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name; clusterName of the LB controller and autoscaler Helm releases)."
  value       = aws_eks_cluster.this.name
}


output "node_security_group_id" {
  description = "Security group of the worker nodes (and so of the pods): allow it into RDS/Redis."
  value       = aws_security_group.this["node"].id
}


output "irsa_role_arns" {
  description = "IRSA roles by workload: app (<app_namespace>/<app_service_account>, Helm serviceAccount.roleArn), lb_controller, cluster_autoscaler, ebs_csi (set on the add-on) and, with route53_zone_id, external_dns."
  value       = { for k, role in aws_iam_role.irsa : k => role.arn }
}
