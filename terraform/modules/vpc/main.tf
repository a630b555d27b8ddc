data "aws_availability_zones" "available" {
  state = "available"

  # Pinned to named zones: the set cannot grow when AWS adds a zone, and a zone
  # dropping out fails the plan (precondition on aws_vpc.this) instead of
  # shifting every subnet to another AZ.
  filter {
    name   = "zone-name"
    values = [for s in var.az_name_suffixes : "${local.region}${s}"]
  }

  # Only the region's standard AZs: Local Zones and Wavelength Zones are opt-in
  # and lack most of the services (EKS, RDS, ElastiCache) this VPC is for.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  # min() keeps slice() from failing with an opaque error; the precondition on
  # aws_vpc.this reports a region with too few AZs instead.
  azs = slice(
    data.aws_availability_zones.available.names,
    0,
    min(var.az_count, length(data.aws_availability_zones.available.names)),
  )

  # The Helm chart's NetworkPolicy values are written against this layout: do not change it.
  public_subnet_cidrs   = [for i in range(var.az_count) : cidrsubnet(var.cidr, 8, i)]
  database_subnet_cidrs = [for i in range(var.az_count) : cidrsubnet(var.cidr, 8, 10 + i)]
  private_subnet_cidrs  = [for i in range(var.az_count) : cidrsubnet(var.cidr, 4, i + 1)]

  nat_gateway_count = var.single_nat_gateway ? 1 : var.az_count

  cluster_tag = { "kubernetes.io/cluster/${var.cluster_name}" = "shared" }

  # One subnet per tier and AZ: its CIDRs (one per AZ) and the tags of its own.
  # The public and private tiers are the cluster's (the AWS Load Balancer
  # Controller finds them by these tags); no karpenter.sh/discovery tag, the
  # cluster does not run Karpenter.
  subnet_tiers = {
    public = {
      cidrs = local.public_subnet_cidrs
      tags  = merge(local.cluster_tag, { "kubernetes.io/role/elb" = "1" })
    }
    private = {
      cidrs = local.private_subnet_cidrs
      tags  = merge(local.cluster_tag, { "kubernetes.io/role/internal-elb" = "1" })
    }
    database = {
      cidrs = local.database_subnet_cidrs
      tags  = {}
    }
  }

  # "<tier>-<AZ index>" => where the subnet goes
  subnets = merge([
    for tier, spec in local.subnet_tiers : {
      for i, cidr in spec.cidrs : "${tier}-${i}" => { tier = tier, az_index = i, az = local.azs[i], cidr = cidr }
    }
  ]...)

  # tier => its subnets, in the order of local.azs
  tier_subnets = {
    for tier, spec in local.subnet_tiers : tier => [for i, _ in spec.cidrs : aws_subnet.this["${tier}-${i}"]]
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # required for the interface endpoints' private DNS and for EKS

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(data.aws_availability_zones.available.names) >= var.az_count
      error_message = "Fewer than az_count of the AZs named by az_name_suffixes are available in this region."
    }
  }
}

# Adopt the VPC's defaults and strip them: anything placed in the VPC without
# an explicit security group, route table or subnet association gets nothing.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_default_route_table" "this" {
  default_route_table_id = aws_vpc.this.default_route_table_id
  route                  = [] # removes any route added by hand; only the implicit local route remains

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "this" {
  for_each = local.subnets

  vpc_id            = aws_vpc.this.id
  availability_zone = each.value.az
  cidr_block        = each.value.cidr

  # Nothing here needs a public IP of its own: the ALB and the NAT gateways get theirs explicitly.
  map_public_ip_on_launch = false

  tags = merge(var.tags, local.subnet_tiers[each.value.tier].tags, {
    Name = "${var.name}-${each.value.tier}-${each.value.az}"
    Tier = each.value.tier
  })
}

################################################################################
# Internet and NAT gateways
################################################################################

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = local.tier_subnets.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Route tables
################################################################################

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

# One private route table per AZ even with a single NAT gateway: switching
# single_nat_gateway then only changes routes, never subnet associations.
resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route" "private_nat" {
  count = var.az_count

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

# Database subnets: only the local route (and the S3 gateway endpoint's prefix
# list, see endpoints.tf); no route to the internet in either direction.
resource "aws_route_table" "database" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-database" })
}

# Each subnet uses its tier's route table (a private subnet, its AZ's).
resource "aws_route_table_association" "this" {
  for_each = local.subnets

  subnet_id = aws_subnet.this[each.key].id
  route_table_id = {
    public   = aws_route_table.public.id
    private  = aws_route_table.private[each.value.az_index].id
    database = aws_route_table.database.id
  }[each.value.tier]
}

################################################################################
# Warnings (check blocks never block an apply)
################################################################################

check "prod_nat_per_az" {
  assert {
    condition     = var.environment != "prod" || !var.single_nat_gateway
    error_message = "single_nat_gateway = true in prod: losing the NAT gateway's AZ cuts internet egress for every AZ."
  }
}
