output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name; clusterName of the LB controller and autoscaler Helm releases)."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "EKS cluster ARN."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API server endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded CA certificate of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "cluster_security_group_id" {
  description = "Additional security group of the control plane created by this module."
  value       = aws_security_group.cluster.id
}

output "cluster_primary_security_group_id" {
  description = "EKS-managed primary cluster security group (on the control plane and on every node)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "node_security_group_id" {
  description = "Security group of the worker nodes (and so of the pods): allow it into RDS/Redis."
  value       = aws_security_group.node.id
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for IRSA."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster (https://...)."
  value       = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

output "node_role_arn" {
  description = "IAM role of the managed node groups."
  value       = aws_iam_role.node.arn
}

output "app_irsa_role_arn" {
  description = "IRSA role of <app_namespace>/<app_service_account> (Helm serviceAccount.roleArn)."
  value       = aws_iam_role.irsa["app"].arn
}

output "lb_controller_role_arn" {
  description = "IRSA role of kube-system/aws-load-balancer-controller."
  value       = aws_iam_role.irsa["lb_controller"].arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of kube-system/cluster-autoscaler."
  value       = aws_iam_role.irsa["cluster_autoscaler"].arn
}

output "external_dns_role_arn" {
  description = "IRSA role of kube-system/external-dns (null without route53_zone_id)."
  value       = try(aws_iam_role.irsa["external_dns"].arn, null)
}

output "ebs_csi_role_arn" {
  description = "IRSA role of the EBS CSI controller (kube-system/ebs-csi-controller-sa), set on the add-on."
  value       = aws_iam_role.irsa["ebs_csi"].arn
}

output "node_group_names" {
  description = "Managed node group names by kind (on-demand, spot)."
  value       = { for k, ng in aws_eks_node_group.this : k => ng.node_group_name }
}
