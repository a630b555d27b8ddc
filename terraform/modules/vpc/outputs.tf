output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (EKS nodes and pods, interface endpoints), one per AZ in the order of azs."
  value       = local.tier_subnets.private[*].id
}

output "database_subnet_ids" {
  description = "IDs of the database subnets (RDS, ElastiCache), one per AZ in the order of azs."
  value       = local.tier_subnets.database[*].id
}

output "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets: the Helm chart's networkPolicy.loadBalancerCidrs."
  value       = local.tier_subnets.public[*].cidr_block
}

output "database_subnet_cidrs" {
  description = "CIDR blocks of the database subnets: the Helm chart's networkPolicy.databaseCidrs and redisCidrs."
  value       = local.tier_subnets.database[*].cidr_block
}
