locals {
  identifier = "${var.name}-postgres"
  engine     = "PostgreSQL"
  port       = 5432

  # Exported to CloudWatch; the log groups are created first (data_store.tf) so they
  # get our retention and KMS key instead of RDS creating them unencrypted
  # with retention "never expire".
  log_types        = ["postgresql", "upgrade"]
  log_group_prefix = "/aws/rds/instance/${local.identifier}" # the exact names RDS writes to

  database_name   = "flask_auth"
  master_username = "flask_auth_admin" # its password is generated and kept in Secrets Manager by RDS

  # ap-south-1 is UTC+05:30: 19:30-20:30 UTC is 01:00-02:00 IST, the quietest
  # hour; maintenance after it, never overlapping: Sunday 21:00-22:00 UTC is
  # Monday 02:30-03:30 IST.
  backup_window      = "19:30-20:30"
  maintenance_window = "sun:21:00-sun:22:00"

  # Enhanced Monitoring every 60 s (0 would turn it off and create no IAM role).
  monitoring_interval = 60
}

resource "aws_db_subnet_group" "this" {
  name        = local.identifier
  description = "Database subnets for ${local.identifier}"
  subnet_ids  = var.subnet_ids

  tags = merge(var.tags, { Name = local.identifier })
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${local.identifier}-pg16-"
  family      = "postgres16"
  description = "PostgreSQL 16 settings for ${local.identifier}"

  # Reject any non-TLS connection (the app connects with sslmode=require or stricter).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Slow queries: statements over 500 ms go to the postgresql log.
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  tags = merge(var.tags, { Name = "${local.identifier}-pg16" })

  # A family change needs a new group; the instance must switch to it before
  # the old one can be deleted.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_157:Multi-AZ is the environment's database.multi_az: prod runs a standby, staging a single instance (a cost choice for an environment without real users).
  #checkov:skip=CKV_AWS_293:Deletion protection is the environment's database.deletion_protection: on in prod; off in staging so the environment can be torn down.
  identifier = local.identifier

  engine                      = "postgres"
  engine_version              = var.engine_version
  instance_class              = var.instance_class
  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  parameter_group_name        = aws_db_parameter_group.this.name
  ca_cert_identifier          = "rds-ca-rsa2048-g1"

  db_name  = local.database_name
  username = local.master_username
  port     = local.port

  # RDS generates the password and keeps it (and rotates it) in Secrets
  # Manager; External Secrets builds DATABASE_URL from that secret.
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  multi_az               = var.multi_az

  backup_retention_period = var.backup_retention_days
  # Kept after the instance is deleted (until they age out): the usual
  # teardown turns deletion_protection off, which also skips the final
  # snapshot, so these are the remaining way back.
  delete_automated_backups = false # kept (point-in-time restore) until backup_retention_days runs out
  backup_window            = local.backup_window
  maintenance_window       = local.maintenance_window
  copy_tags_to_snapshot    = true

  # A protected (prod) database leaves "<identifier>-final" if it is ever
  # destroyed while the config still says protected (protection lifted by
  # hand); an unprotected (dev/staging) one is disposable.
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = var.deletion_protection ? "${local.identifier}-final" : null

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days

  monitoring_interval = local.monitoring_interval
  monitoring_role_arn = one(aws_iam_role.service[*].arn)

  enabled_cloudwatch_logs_exports = local.log_types

  # Changes wait for the maintenance window instead of restarting prod mid-day.
  apply_immediately = false

  tags = merge(var.tags, { Name = local.identifier })

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy_attachment.service,
  ]
}

# The security group and its rules are data_store_network.tf's.
moved {
  from = aws_vpc_security_group_ingress_rule.postgres
  to   = aws_vpc_security_group_ingress_rule.this
}
