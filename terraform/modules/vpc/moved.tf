# Resources that were one of a kind per tier are one for_each each now; these
# move the old addresses onto the new ones, so a plan keeps every object (it
# replaces nothing). Indexes 0-2 cover every az_count (2 or 3). Keep them while
# any state may still have the old addresses.

# The tier NACLs and their rules (a resource per tier and per kind of rule):
# one for_each over the tiers and one over local.nacl_rules (nacl.tf).

moved {
  from = aws_network_acl.public
  to   = aws_network_acl.this["public"]
}

moved {
  from = aws_network_acl.private
  to   = aws_network_acl.this["private"]
}

moved {
  from = aws_network_acl.database
  to   = aws_network_acl.this["database"]
}

moved {
  from = aws_network_acl_rule.public_ingress_web["https"]
  to   = aws_network_acl_rule.this["public-ingress-https"]
}

moved {
  from = aws_network_acl_rule.public_ingress_web["http"]
  to   = aws_network_acl_rule.this["public-ingress-http"]
}

moved {
  from = aws_network_acl_rule.ingress_return["public-tcp"]
  to   = aws_network_acl_rule.this["public-ingress-return-tcp"]
}

moved {
  from = aws_network_acl_rule.ingress_return["public-udp"]
  to   = aws_network_acl_rule.this["public-ingress-return-udp"]
}

moved {
  from = aws_network_acl_rule.ingress_return["private-tcp"]
  to   = aws_network_acl_rule.this["private-ingress-return-tcp"]
}

moved {
  from = aws_network_acl_rule.ingress_return["private-udp"]
  to   = aws_network_acl_rule.this["private-ingress-return-udp"]
}

moved {
  from = aws_network_acl_rule.ingress_vpc["public-tcp"]
  to   = aws_network_acl_rule.this["public-ingress-vpc-tcp"]
}

moved {
  from = aws_network_acl_rule.ingress_vpc["public-udp"]
  to   = aws_network_acl_rule.this["public-ingress-vpc-udp"]
}

moved {
  from = aws_network_acl_rule.ingress_vpc["private-tcp"]
  to   = aws_network_acl_rule.this["private-ingress-vpc-tcp"]
}

moved {
  from = aws_network_acl_rule.ingress_vpc["private-udp"]
  to   = aws_network_acl_rule.this["private-ingress-vpc-udp"]
}

moved {
  from = aws_network_acl_rule.ingress_pmtud["public-internet"]
  to   = aws_network_acl_rule.this["public-ingress-pmtud-internet"]
}

moved {
  from = aws_network_acl_rule.ingress_pmtud["public-vpc"]
  to   = aws_network_acl_rule.this["public-ingress-pmtud-vpc"]
}

moved {
  from = aws_network_acl_rule.ingress_pmtud["private-internet"]
  to   = aws_network_acl_rule.this["private-ingress-pmtud-internet"]
}

moved {
  from = aws_network_acl_rule.ingress_pmtud["private-vpc"]
  to   = aws_network_acl_rule.this["private-ingress-pmtud-vpc"]
}

moved {
  from = aws_network_acl_rule.egress["public-tcp"]
  to   = aws_network_acl_rule.this["public-egress-tcp"]
}

moved {
  from = aws_network_acl_rule.egress["public-udp"]
  to   = aws_network_acl_rule.this["public-egress-udp"]
}

moved {
  from = aws_network_acl_rule.egress["public-icmp"]
  to   = aws_network_acl_rule.this["public-egress-icmp"]
}

moved {
  from = aws_network_acl_rule.egress["private-tcp"]
  to   = aws_network_acl_rule.this["private-egress-tcp"]
}

moved {
  from = aws_network_acl_rule.egress["private-udp"]
  to   = aws_network_acl_rule.this["private-egress-udp"]
}

moved {
  from = aws_network_acl_rule.egress["private-icmp"]
  to   = aws_network_acl_rule.this["private-egress-icmp"]
}

moved {
  from = aws_network_acl_rule.database_ingress["postgres-0"]
  to   = aws_network_acl_rule.this["database-ingress-postgres-0"]
}

moved {
  from = aws_network_acl_rule.database_ingress["postgres-1"]
  to   = aws_network_acl_rule.this["database-ingress-postgres-1"]
}

moved {
  from = aws_network_acl_rule.database_ingress["postgres-2"]
  to   = aws_network_acl_rule.this["database-ingress-postgres-2"]
}

moved {
  from = aws_network_acl_rule.database_ingress["redis-0"]
  to   = aws_network_acl_rule.this["database-ingress-redis-0"]
}

moved {
  from = aws_network_acl_rule.database_ingress["redis-1"]
  to   = aws_network_acl_rule.this["database-ingress-redis-1"]
}

moved {
  from = aws_network_acl_rule.database_ingress["redis-2"]
  to   = aws_network_acl_rule.this["database-ingress-redis-2"]
}

moved {
  from = aws_network_acl_rule.database_egress[0]
  to   = aws_network_acl_rule.this["database-egress-return-0"]
}

moved {
  from = aws_network_acl_rule.database_egress[1]
  to   = aws_network_acl_rule.this["database-egress-return-1"]
}

moved {
  from = aws_network_acl_rule.database_egress[2]
  to   = aws_network_acl_rule.this["database-egress-return-2"]
}

moved {
  from = aws_network_acl_rule.database_ingress_intra[0]
  to   = aws_network_acl_rule.this["database-ingress-intra-0"]
}

moved {
  from = aws_network_acl_rule.database_ingress_intra[1]
  to   = aws_network_acl_rule.this["database-ingress-intra-1"]
}

moved {
  from = aws_network_acl_rule.database_ingress_intra[2]
  to   = aws_network_acl_rule.this["database-ingress-intra-2"]
}

moved {
  from = aws_network_acl_rule.database_egress_intra[0]
  to   = aws_network_acl_rule.this["database-egress-intra-0"]
}

moved {
  from = aws_network_acl_rule.database_egress_intra[1]
  to   = aws_network_acl_rule.this["database-egress-intra-1"]
}

moved {
  from = aws_network_acl_rule.database_egress_intra[2]
  to   = aws_network_acl_rule.this["database-egress-intra-2"]
}

# The subnets and their route-table associations (a count resource per tier):
# one for_each each over local.subnets, "<tier>-<AZ index>" (main.tf).

moved {
  from = aws_subnet.public[0]
  to   = aws_subnet.this["public-0"]
}

moved {
  from = aws_subnet.public[1]
  to   = aws_subnet.this["public-1"]
}

moved {
  from = aws_subnet.public[2]
  to   = aws_subnet.this["public-2"]
}

moved {
  from = aws_subnet.private[0]
  to   = aws_subnet.this["private-0"]
}

moved {
  from = aws_subnet.private[1]
  to   = aws_subnet.this["private-1"]
}

moved {
  from = aws_subnet.private[2]
  to   = aws_subnet.this["private-2"]
}

moved {
  from = aws_subnet.database[0]
  to   = aws_subnet.this["database-0"]
}

moved {
  from = aws_subnet.database[1]
  to   = aws_subnet.this["database-1"]
}

moved {
  from = aws_subnet.database[2]
  to   = aws_subnet.this["database-2"]
}

moved {
  from = aws_route_table_association.public[0]
  to   = aws_route_table_association.this["public-0"]
}

moved {
  from = aws_route_table_association.public[1]
  to   = aws_route_table_association.this["public-1"]
}

moved {
  from = aws_route_table_association.public[2]
  to   = aws_route_table_association.this["public-2"]
}

moved {
  from = aws_route_table_association.private[0]
  to   = aws_route_table_association.this["private-0"]
}

moved {
  from = aws_route_table_association.private[1]
  to   = aws_route_table_association.this["private-1"]
}

moved {
  from = aws_route_table_association.private[2]
  to   = aws_route_table_association.this["private-2"]
}

moved {
  from = aws_route_table_association.database[0]
  to   = aws_route_table_association.this["database-0"]
}

moved {
  from = aws_route_table_association.database[1]
  to   = aws_route_table_association.this["database-1"]
}

moved {
  from = aws_route_table_association.database[2]
  to   = aws_route_table_association.this["database-2"]
}

# The flow logs' role: declared once for the service roles of all modules
# (service_role_trust.tf).
moved {
  from = aws_iam_role.flow_logs
  to   = aws_iam_role.service[0]
}
