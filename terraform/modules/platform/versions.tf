terraform {
  required_version = ">= 1.10"

  required_providers {
    # aws.backup_copy: the region of the database backups' cross-region copies
    # (nothing is created with it unless backup.copy_enabled).
    aws = { source = "hashicorp/aws", version = ">= 5.100, < 7.0", configuration_aliases = [aws.backup_copy] }
  }
}
