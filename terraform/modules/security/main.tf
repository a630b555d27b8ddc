locals {
  # One rule per (port, CIDR) pair; the key stays stable when CIDRs are added or removed.
  alb_ingress_rules = {
    for pair in setproduct([80, 443], var.alb_ingress_cidrs) :
    "${pair[0]}-${pair[1]}" => { port = pair[0], cidr = pair[1] }
  }
}

################################################################################
# ALB security group
################################################################################

# The ALB itself is created by the AWS Load Balancer Controller from the
# Ingress (annotation alb.ingress.kubernetes.io/security-groups), so nothing in
# Terraform attaches this group.
resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached outside Terraform: the AWS Load Balancer Controller puts it on the Ingress-managed ALB via annotation.
  name_prefix = "${var.name}-alb-"
  description = "Public ALB for ${var.name}: HTTP/HTTPS in, app port to pods in the VPC out"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  # The ALB keeps referencing the group, so a replacement must exist before the old one goes.
  lifecycle {
    create_before_destroy = true
  }
}

# Public website: 0.0.0.0/0 on 80/443 is the intended default (80 only redirects to 443 at the listener).
resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260:Public website ALB; port 80 must be reachable from the internet to redirect clients to HTTPS.
  for_each = local.alb_ingress_rules

  security_group_id = aws_security_group.alb.id
  description       = each.value.port == 443 ? "HTTPS from allowed clients" : "HTTP from allowed clients (redirected to HTTPS)"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr

  tags = merge(var.tags, { Name = "${var.name}-alb-in-${each.value.port}" })
}

# Targets are pod IPs (target-type ip), so the only egress the ALB needs is the app port inside the VPC.
resource "aws_vpc_security_group_egress_rule" "alb_to_pods" {
  security_group_id = aws_security_group.alb.id
  description       = "Forward to app pods and health-check them on the app port"
  ip_protocol       = "tcp"
  from_port         = var.app_port
  to_port           = var.app_port
  cidr_ipv4         = var.vpc_cidr_block

  tags = merge(var.tags, { Name = "${var.name}-alb-out-app" })
}

################################################################################
# Application log group
################################################################################

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_338:Retention is the environment's log_retention_days: prod keeps a year, staging 90 and dev 30 days (terraform.tfvars), a cost choice for the environments without real users.
  name              = "/flask-auth/${var.environment}/app"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = "/flask-auth/${var.environment}/app" })
}
