locals {
  identifier = "${var.name}-redis"
  engine     = "Redis"
  port       = 6379
  multi_az   = var.num_cache_clusters > 1

  log_types        = ["slow-log", "engine-log"]
  log_group_prefix = "/aws/elasticache/${local.identifier}"

  engine_version = "7.1" # Redis OSS 7, major.minor

  # ap-south-1 is UTC+05:30: 18:30-19:30 UTC is 00:00-01:00 IST; maintenance
  # after it, never overlapping: Sunday 20:00-21:00 UTC is Monday 01:30-02:30 IST.
  snapshot_window    = "18:30-19:30"
  maintenance_window = "sun:20:00-sun:21:00"
}

resource "aws_elasticache_subnet_group" "this" {
  name        = local.identifier
  description = "Cache subnets for ${local.identifier}"
  subnet_ids  = var.subnet_ids

  tags = merge(var.tags, { Name = local.identifier })
}

# Alphanumeric only: the token goes into a rediss:// URL unescaped, and AUTH
# tokens may not contain @, " or /. Secrets Manager generates it (no
# hashicorp/random provider); the data source draws a new one on every read, so
# terraform_data keeps the first draw: the token changes only when that resource
# is replaced (terraform apply -replace=module.elasticache.terraform_data.auth_token).
data "aws_secretsmanager_random_password" "auth_token" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "terraform_data" "auth_token" {
  input = data.aws_secretsmanager_random_password.auth_token.random_password

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV2_AWS_50:failover is on whenever num_cache_clusters > 1 (prod); a single-node group (staging) cannot fail over, and AWS rejects the flag there
  replication_group_id = local.identifier
  description          = "Flask-Limiter rate-limit counters for ${var.name} (${var.environment})"

  engine         = "redis"
  engine_version = local.engine_version
  node_type      = var.node_type
  port           = local.port
  # The default redis7 group fits a rate-limit store: every Flask-Limiter key
  # has a TTL, so the default volatile-lru eviction only drops expiring
  # counters under memory pressure. No custom parameter group is needed.
  parameter_group_name = "default.redis7"

  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = local.multi_az
  multi_az_enabled           = local.multi_az

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = terraform_data.auth_token.output
  # ROTATE keeps the old token valid next to a new one, so pods still holding
  # the old URL keep working until they pick up the new secret.
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = local.snapshot_window
  maintenance_window         = local.maintenance_window
  auto_minor_version_upgrade = true
  apply_immediately          = false

  dynamic "log_delivery_configuration" {
    for_each = local.log_types

    content {
      destination      = aws_cloudwatch_log_group.this[log_delivery_configuration.value].name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.value
    }
  }

  tags = merge(var.tags, { Name = local.identifier })
}

resource "aws_secretsmanager_secret" "url" {
  #checkov:skip=CKV2_AWS_57:the URL embeds the ElastiCache AUTH token; rotating it needs a coordinated AUTH update (ROTATE then SET) on the replication group, done by Terraform (replace terraform_data.auth_token), not a Secrets Manager Lambda
  name                    = "${var.name}/redis/ratelimit-storage-uri"
  description             = "RATELIMIT_STORAGE_URI (rediss:// URL with the AUTH token) for ${local.identifier}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7

  tags = merge(var.tags, { Name = "${var.name}/redis/ratelimit-storage-uri" })
}

resource "aws_secretsmanager_secret_version" "url" {
  secret_id     = aws_secretsmanager_secret.url.id
  secret_string = "rediss://:${terraform_data.auth_token.output}@${aws_elasticache_replication_group.this.primary_endpoint_address}:${local.port}/0"
}

# The security group and its rules are data_store_network.tf's.
moved {
  from = aws_vpc_security_group_ingress_rule.redis
  to   = aws_vpc_security_group_ingress_rule.this
}
