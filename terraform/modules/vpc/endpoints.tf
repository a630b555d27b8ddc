locals {
  interface_endpoint_services = var.enable_interface_endpoints ? toset(["ecr.api", "ecr.dkr", "sts", "logs"]) : toset([])
}

# Gateway endpoint: free, and ECR image layers are served from S3, so pulls
# skip the NAT gateways. The database route table gets it too, a private path
# to S3 that needs no internet route; the database NACL allows no outbound
# connections today, so it is unused until that NACL is opened for it.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat(aws_route_table.private[*].id, [aws_route_table.database.id])

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_security_group" "vpc_endpoints" {
  count = var.enable_interface_endpoints ? 1 : 0

  name_prefix = "${var.name}-vpc-endpoints-"
  description = "Interface VPC endpoints of ${var.name}: HTTPS from inside the VPC only"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

# No egress rule: the endpoints only answer, and security groups are stateful.
resource "aws_vpc_security_group_ingress_rule" "vpc_endpoints_https" {
  count = var.enable_interface_endpoints ? 1 : 0

  security_group_id = aws_security_group.vpc_endpoints[0].id
  description       = "HTTPS from the VPC to the interface endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block

  tags = merge(var.tags, { Name = "${var.name}-vpc-endpoints-https" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoint_services

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.tier_subnets.private[*].id
  security_group_ids  = [aws_security_group.vpc_endpoints[0].id]

  tags = merge(var.tags, { Name = "${var.name}-${replace(each.key, ".", "-")}" })
}
