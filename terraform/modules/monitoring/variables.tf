variable "topic_name" {
  type        = string
  description = "Name of the alerts SNS topic; null gives \"<name>-alerts\". An environment whose topic already exists under another name keeps that name (a rename replaces the topic and its confirmed subscriptions)."
  default     = null
}

variable "alert_email_addresses" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alerts topic and named on the budget notifications (each must confirm the SNS subscription)."
}

# --- Budget ----------------------------------------------------------------------------

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly cost budget of the environment in USD."
}

variable "budget_forecast_threshold_percent" {
  type        = number
  description = "Notify when the month's FORECASTED cost passes this percentage of the budget."
  default     = 80
}

variable "budget_actual_threshold_percent" {
  type        = number
  description = "Notify when the month's ACTUAL cost passes this percentage of the budget."
  default     = 100
}

variable "budget_filter_by_environment_tag" {
  type        = bool
  description = "Count only costs tagged Environment = <environment> (needs the Environment cost allocation tag activated). false budgets the whole account (an environment alone in its account)."
  default     = true
}

# --- ALB alarms --------------------------------------------------------------------------

variable "alb_exists" {
  type        = bool
  description = "The Ingress's ALB exists (after the first deploy): look it up and alarm on it. false creates no ALB alarm (the lookup would fail)."
  default     = false
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster whose AWS Load Balancer Controller created the ALB (its elbv2.k8s.aws/cluster tag)."
}

variable "alb_ingress_group" {
  type        = string
  description = "IngressGroup of the chart's Ingress (Helm ingress.groupName): the ALB's ingress.k8s.aws/stack tag."
}

variable "alb_5xx_threshold_percent" {
  type        = number
  description = "Alarm when more than this percentage of the ALB's requests get a 5xx from the pods (3 of 5 one-minute periods)."
}

variable "alb_5xx_min_requests" {
  type        = number
  description = "Below this many requests a minute the 5xx ratio counts as 0 (one failed request at night is not an outage)."
  default     = 20
}

variable "alb_p99_latency_threshold_seconds" {
  type        = number
  description = "Alarm when the p99 of TargetResponseTime stays above this many seconds (3 of 5 five-minute periods)."
}

variable "alb_unhealthy_hosts_threshold" {
  type        = number
  description = "Alarm when a target group has more than this many unhealthy targets for 3 minutes (0: any)."
  default     = 0
}

# --- WAF alarm ------------------------------------------------------------------------------

variable "waf_web_acl_metric_name" {
  type        = string
  description = "CloudWatch metric name of the WAF web ACL (modules/waf output web_acl_metric_name); null: no WAF, no alarm."
  default     = null
}

variable "waf_blocked_requests_threshold" {
  type        = number
  description = "Alarm when the WAF blocks more than this many requests in 5 minutes."
}

# --- Database alarms ------------------------------------------------------------------------

variable "db_instance_identifier" {
  type        = string
  description = "Identifier of the environment's RDS instance (modules/rds output db_instance_identifier), alarmed on for CPU, free storage and connections; null: no database, no alarm."
  default     = null
}

# --- The topic's encryption --------------------------------------------------------------

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the alerts topic (modules/kms key_arns[\"alerts\"]); its policy must let publishing_services use it."
}

variable "publishing_services" {
  type        = list(string)
  description = "Service principals of this account allowed to publish to the topic (CloudWatch alarms, Budgets, AWS Backup); the same list as the alerts key's policy."
}
