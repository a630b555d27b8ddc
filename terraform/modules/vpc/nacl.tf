# Network ACLs are a coarse, stateless second layer under the security groups:
# they fence each tier, and because they are stateless every allowed flow needs
# its return traffic allowed explicitly (ephemeral ports 1024-65535, the range
# NAT gateways and ALBs use as well as Linux clients).

locals {
  any_ipv4 = "0.0.0.0/0"

  # Clients reach the internet-facing ALB on 80 (redirected) and 443.
  public_ingress_web = {
    https = { rule_number = 100, port = 443 }
    http  = { rule_number = 110, port = 80 }
  }

  # Replies from the internet: to connections the NAT gateways opened on behalf
  # of the private subnets (public tier), or reaching the private tier through
  # NAT, which keeps the remote address as the source.
  internet_return = {
    tcp = { rule_number = 200, protocol = "tcp" }
    udp = { rule_number = 210, protocol = "udp" }
  }

  # Anything from inside the VPC (nodes, pods, ALB, control-plane ENIs,
  # endpoints, NAT-bound traffic); the security groups decide what is accepted.
  vpc_ingress = {
    tcp = { rule_number = 300, protocol = "tcp" }
    udp = { rule_number = 310, protocol = "udp" }
  }

  # ICMP 3/4 ("fragmentation needed") keeps path-MTU discovery working between
  # the VPC's 9001-byte MTU and the 1500 of NAT gateways and the internet.
  pmtud_sources = {
    internet = { rule_number = 400, cidr_block = local.any_ipv4 }
    vpc      = { rule_number = 410, cidr_block = var.cidr }
  }

  # Public and private tiers may send anywhere (NAT, ALB to targets, AWS APIs),
  # but only TCP, UDP and ICMP, not every IP protocol.
  open_egress = {
    tcp  = { rule_number = 100, protocol = "tcp", from_port = 0, to_port = 65535, icmp_type = null, icmp_code = null }
    udp  = { rule_number = 110, protocol = "udp", from_port = 0, to_port = 65535, icmp_type = null, icmp_code = null }
    icmp = { rule_number = 120, protocol = "icmp", from_port = 0, to_port = 0, icmp_type = -1, icmp_code = -1 }
  }

  # Database tier: PostgreSQL and Redis from the private subnets only, replies back to them.
  database_ports = { postgres = 5432, redis = 6379 }
  database_ingress = merge([
    for p_idx, p in keys(local.database_ports) : {
      for i, cidr in local.private_subnet_cidrs : "${p}-${i}" => {
        rule_number = 100 + p_idx * 10 + i
        port        = local.database_ports[p]
        cidr_block  = cidr
      }
    }
  ]...)
}

################################################################################
# Default NACL: adopted with no rules, so it denies everything. Every subnet of
# the module is associated with a tier NACL below; a subnet created outside the
# module would land here and stay isolated until given a NACL of its own.
################################################################################

resource "aws_default_network_acl" "this" {
  default_network_acl_id = aws_vpc.this.default_network_acl_id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })

  lifecycle {
    # Subnets move on and off the default NACL as they are associated elsewhere.
    ignore_changes = [subnet_ids]
  }
}

################################################################################
# Public tier (ALB, NAT gateways)
################################################################################

resource "aws_network_acl" "public" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.public[*].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

# The internet-facing ALB must accept 80/443 from any client address.
resource "aws_network_acl_rule" "public_ingress_web" {
  for_each = local.public_ingress_web

  network_acl_id = aws_network_acl.public.id
  egress         = false
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = each.value.port
  to_port        = each.value.port
  cidr_block     = local.any_ipv4
}

################################################################################
# Private tier (EKS nodes and pods, control-plane ENIs, interface endpoints)
################################################################################

resource "aws_network_acl" "private" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.private[*].id

  tags = merge(var.tags, { Name = "${var.name}-private" })
}

################################################################################
# Rules the public and the private tier share (one resource per kind, for both)
################################################################################

locals {
  open_tier_acls = {
    public  = aws_network_acl.public.id
    private = aws_network_acl.private.id
  }
  # kind => { "<tier>-<rule>" => rule + its tier's ACL }
  open_tier_rules = {
    for kind, rules in {
      return = local.internet_return
      vpc    = local.vpc_ingress
      pmtud  = local.pmtud_sources
      egress = local.open_egress
      } : kind => merge([
        for tier, acl in local.open_tier_acls : {
          for key, rule in rules : "${tier}-${key}" => merge(rule, { acl = acl })
        }
    ]...)
  }
}

# Stateless NACL: replies to connections opened through NAT come from any
# internet address to whichever port NAT picked (1024-65535, per AWS docs).
resource "aws_network_acl_rule" "ingress_return" {
  #checkov:skip=CKV_AWS_231:ephemeral return range of replies through NAT (AWS NAT uses 1024-65535); the public tier holds only the ALB (80/443) and NAT gateways and the private route tables have no inbound path, so nothing can open 3389 from outside
  for_each = local.open_tier_rules["return"]

  network_acl_id = each.value.acl
  egress         = false
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = each.value.protocol
  from_port      = 1024
  to_port        = 65535
  cidr_block     = local.any_ipv4
}

resource "aws_network_acl_rule" "ingress_vpc" {
  #checkov:skip=CKV_AWS_352:NAT forwards the private tier's traffic to any port, ALB targets reply on any port, and EKS needs many VPC-internal ports (kubelet, webhooks, pod ports on target-type ip, DNS); only the VPC CIDR is allowed and SGs filter per workload
  for_each = local.open_tier_rules["vpc"]

  network_acl_id = each.value.acl
  egress         = false
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = each.value.protocol
  from_port      = 0
  to_port        = 65535
  cidr_block     = var.cidr
}

resource "aws_network_acl_rule" "ingress_pmtud" {
  #checkov:skip=CKV_AWS_352:ICMP has no ports; the rule is narrowed to type 3 code 4 (fragmentation needed) instead
  for_each = local.open_tier_rules["pmtud"]

  network_acl_id = each.value.acl
  egress         = false
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "icmp"
  icmp_type      = 3
  icmp_code      = 4
  cidr_block     = each.value.cidr_block
}

resource "aws_network_acl_rule" "egress" {
  for_each = local.open_tier_rules["egress"]

  network_acl_id = each.value.acl
  egress         = true
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = each.value.protocol
  from_port      = each.value.from_port
  to_port        = each.value.to_port
  icmp_type      = each.value.icmp_type
  icmp_code      = each.value.icmp_code
  cidr_block     = local.any_ipv4
}

################################################################################
# Database tier (RDS PostgreSQL, ElastiCache Redis)
################################################################################

resource "aws_network_acl" "database" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.database[*].id

  tags = merge(var.tags, { Name = "${var.name}-database" })
}

resource "aws_network_acl_rule" "database_ingress" {
  for_each = local.database_ingress

  network_acl_id = aws_network_acl.database.id
  egress         = false
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = each.value.port
  to_port        = each.value.port
  cidr_block     = each.value.cidr_block
}

# Replies to the clients in the private subnets. The databases open no
# connections of their own, so nothing else leaves this tier.
resource "aws_network_acl_rule" "database_egress" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  egress         = true
  rule_number    = 100 + count.index
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = 1024
  to_port        = 65535
  cidr_block     = local.private_subnet_cidrs[count.index]
}

# Inside the tier: a Redis replica in another zone syncs from its primary on
# 6379, and RDS Multi-AZ pairs sit in different database subnets. Both ends are
# ports above 1024, so one TCP range per database subnet covers the service
# ports and the replies.
resource "aws_network_acl_rule" "database_ingress_intra" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  egress         = false
  rule_number    = 300 + count.index
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = 1024
  to_port        = 65535
  cidr_block     = local.database_subnet_cidrs[count.index]
}

resource "aws_network_acl_rule" "database_egress_intra" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  egress         = true
  rule_number    = 300 + count.index
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = 1024
  to_port        = 65535
  cidr_block     = local.database_subnet_cidrs[count.index]
}
