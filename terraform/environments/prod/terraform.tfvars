# prod. Placeholders to replace for a real account: the repository, the state
# bucket, the alarm addresses. api_allowed_cidrs stays empty: the API endpoint
# is private and deploys run from inside the VPC.
region                = "ap-south-1"
name                  = "flask-auth-prod"
vpc_cidr              = "10.30.0.0/16"
github_repository     = "flask-auth/flask-auth"
api_allowed_cidrs     = []
state_bucket_name     = "flask-auth-terraform-state"
state_lock_table_name = "flask-auth-terraform-locks"
alarm_email_addresses = ["platform-alerts@example.com", "oncall@example.com"]

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-prod"
}
