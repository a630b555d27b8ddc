terraform {
  # 1.10: the S3 backend's native lock file (use_lockfile).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

# Tags: each module tags every taggable resource with its tags input (local.tags
# plus a Name), so the providers set no default_tags: one mechanism, and a
# resource's tags in the code are all the tags it gets.
provider "aws" {
  region = var.region
}

# The region of the cross-region copies of the database backups (modules/backup;
# nothing is created there unless backup.copy_enabled).
provider "aws" {
  alias  = "backup_copy"
  region = var.backup_copy_region
}
