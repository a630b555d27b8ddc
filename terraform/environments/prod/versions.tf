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

provider "aws" {
  region = var.region

  # Every resource the provider creates carries these, on top of each module's tags input.
  default_tags {
    tags = local.tags
  }
}

# The region of the cross-region copies of the database backups (modules/backup).
provider "aws" {
  alias  = "backup_copy"
  region = var.backup_copy_region

  default_tags {
    tags = local.tags
  }
}
