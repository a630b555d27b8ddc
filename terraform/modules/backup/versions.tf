terraform {
  required_version = ">= 1.10"

  required_providers {
    # aws.copy: the region of the cross-region copy (pass the default provider
    # when copy_enabled is false; nothing is created with it then).
    aws = { source = "hashicorp/aws", version = ">= 5.100, < 7.0", configuration_aliases = [aws.copy] }
  }
}
