# Network ACLs are a coarse, stateless second layer under the security groups:
# they fence each tier, and because they are stateless every allowed flow needs
# its return traffic allowed explicitly (ephemeral ports 1024-65535, the range
# NAT gateways and ALBs use as well as Linux clients).
#
# Every rule of every tier is a row of local.nacl_rules (tier => direction =>
# rule name => rule) and one instance of aws_network_acl_rule.this, keyed
# "<tier>-<direction>-<rule name>". A rule leaves out what it does not need:
# protocol defaults to tcp, ports and ICMP type/code to unset.

locals {
  any_ipv4 = "0.0.0.0/0"

  # Rules the public and the private tier share.
  open_tier_rules = {
    ingress = {
      # Replies from the internet: to connections the NAT gateways opened on behalf
      # of the private subnets (public tier), or reaching the private tier through
      # NAT, which keeps the remote address as the source. NAT picks the port
      # (1024-65535, per AWS docs).
      return-tcp = { rule_number = 200, from_port = 1024, to_port = 65535, cidr_block = local.any_ipv4 }
      return-udp = { rule_number = 210, protocol = "udp", from_port = 1024, to_port = 65535, cidr_block = local.any_ipv4 }

      # Anything from inside the VPC (nodes, pods, ALB, control-plane ENIs,
      # endpoints, NAT-bound traffic); the security groups decide what is accepted.
      vpc-tcp = { rule_number = 300, from_port = 0, to_port = 65535, cidr_block = var.cidr }
      vpc-udp = { rule_number = 310, protocol = "udp", from_port = 0, to_port = 65535, cidr_block = var.cidr }

      # ICMP 3/4 ("fragmentation needed") keeps path-MTU discovery working between
      # the VPC's 9001-byte MTU and the 1500 of NAT gateways and the internet.
      pmtud-internet = { rule_number = 400, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr_block = local.any_ipv4 }
      pmtud-vpc      = { rule_number = 410, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr_block = var.cidr }
    }

    # Public and private tiers may send anywhere (NAT, ALB to targets, AWS APIs),
    # but only TCP, UDP and ICMP, not every IP protocol.
    egress = {
      tcp  = { rule_number = 100, from_port = 0, to_port = 65535, cidr_block = local.any_ipv4 }
      udp  = { rule_number = 110, protocol = "udp", from_port = 0, to_port = 65535, cidr_block = local.any_ipv4 }
      icmp = { rule_number = 120, protocol = "icmp", from_port = 0, to_port = 0, icmp_type = -1, icmp_code = -1, cidr_block = local.any_ipv4 }
    }
  }

  # Database tier: PostgreSQL and Redis from the private subnets only, replies back to them.
  database_ports = { postgres = 5432, redis = 6379 }

  nacl_rules = {
    # Public tier (ALB, NAT gateways): the internet-facing ALB must accept 80
    # (redirected) and 443 from any client address.
    public = {
      ingress = merge(local.open_tier_rules.ingress, {
        https = { rule_number = 100, from_port = 443, to_port = 443, cidr_block = local.any_ipv4 }
        http  = { rule_number = 110, from_port = 80, to_port = 80, cidr_block = local.any_ipv4 }
      })
      egress = local.open_tier_rules.egress
    }

    # Private tier (EKS nodes and pods, control-plane ENIs, interface endpoints).
    private = local.open_tier_rules

    # Database tier (RDS PostgreSQL, ElastiCache Redis). Inside the tier: a Redis
    # replica in another zone syncs from its primary on 6379, and RDS Multi-AZ
    # pairs sit in different database subnets. Both ends are ports above 1024,
    # so one TCP range per database subnet each way ("intra") covers the service
    # ports and the replies.
    database = {
      ingress = merge(
        merge([
          for p_idx, p in keys(local.database_ports) : {
            for i, cidr in local.private_subnet_cidrs : "${p}-${i}" => {
              rule_number = 100 + p_idx * 10 + i
              from_port   = local.database_ports[p]
              to_port     = local.database_ports[p]
              cidr_block  = cidr
            }
          }
        ]...),
        local.database_intra,
      )
      # Replies to the clients in the private subnets. The databases open no
      # connections of their own, so nothing else leaves this tier.
      egress = merge(
        {
          for i, cidr in local.private_subnet_cidrs : "return-${i}" => {
            rule_number = 100 + i, from_port = 1024, to_port = 65535, cidr_block = cidr
          }
        },
        local.database_intra,
      )
    }
  }

  # The same rule each way, one per database subnet.
  database_intra = {
    for i, cidr in local.database_subnet_cidrs : "intra-${i}" => {
      rule_number = 300 + i, from_port = 1024, to_port = 65535, cidr_block = cidr
    }
  }

  nacl_rule_defaults = { protocol = "tcp", from_port = null, to_port = null, icmp_type = null, icmp_code = null }

  # "<tier>-<direction>-<rule name>" => the rule, its defaults filled in, with its tier and direction.
  nacl_rule_instances = merge(flatten([
    for tier, directions in local.nacl_rules : [
      for direction, rules in directions : {
        for name, rule in rules : "${tier}-${direction}-${name}" => merge(
          local.nacl_rule_defaults, rule, { tier = tier, egress = direction == "egress" }
        )
      }
    ]
  ])...)
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
# One NACL per tier, with the rules of local.nacl_rules
################################################################################

resource "aws_network_acl" "this" {
  for_each = local.subnet_tiers

  vpc_id = aws_vpc.this.id

  # The tier's subnets, taken from aws_subnet.this itself (not local.tier_subnets):
  # Checkov's CKV2_AWS_1 (every NACL attached to subnets) follows only a direct reference.
  subnet_ids = [for key, subnet in aws_subnet.this : subnet.id if local.subnets[key].tier == each.key]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_network_acl_rule" "this" {
  #checkov:skip=CKV_AWS_231:the only rules from 0.0.0.0/0 over 3389 are the public and private tiers' ephemeral return range of replies through NAT (AWS NAT uses 1024-65535); the public tier holds only the ALB (80/443) and NAT gateways and the private route tables have no inbound path, so nothing can open 3389 from outside
  #checkov:skip=CKV_AWS_352:the all-port ingress rules are the VPC CIDR's to the public and private tiers (NAT forwards the private tier's traffic to any port, ALB targets reply on any port, and EKS needs many VPC-internal ports: kubelet, webhooks, pod ports on target-type ip, DNS; SGs filter per workload) and the ICMP path-MTU rules, which have no ports and are narrowed to type 3 code 4 (fragmentation needed) instead
  for_each = local.nacl_rule_instances

  network_acl_id = aws_network_acl.this[each.value.tier].id
  egress         = each.value.egress
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = each.value.protocol
  from_port      = each.value.from_port
  to_port        = each.value.to_port
  icmp_type      = each.value.icmp_type
  icmp_code      = each.value.icmp_code
  cidr_block     = each.value.cidr_block
}
