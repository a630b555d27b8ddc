variable "name" {
  type        = string
  description = "Prefix for resource names, e.g. \"flask-auth-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]{1,38}$."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev, staging or prod."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}

variable "topic_name" {
  type        = string
  description = "Name of the alerts SNS topic; null gives \"<name>-alerts\". An environment whose topic already exists under another name keeps that name (a rename replaces the topic and its confirmed subscriptions)."
  default     = null

  validation {
    condition     = var.topic_name == null || can(regex("^[A-Za-z0-9_-]{1,256}$", coalesce(var.topic_name, "x")))
    error_message = "topic_name must be 1-256 letters, digits, hyphens or underscores."
  }
}

variable "alert_email_addresses" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alerts topic and named on the budget notifications (each must confirm the SNS subscription)."
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Every alert_email_addresses entry must be an e-mail address."
  }

  # AWS Budgets takes at most 10 subscribers per notification, the topic being one.
  validation {
    condition     = length(var.alert_email_addresses) <= 9
    error_message = "alert_email_addresses takes at most 9 addresses (a budget notification has at most 10 subscribers)."
  }
}

# --- Budget ----------------------------------------------------------------------------

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly cost budget of the environment in USD."

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "budget_forecast_threshold_percent" {
  type        = number
  description = "Notify when the month's FORECASTED cost passes this percentage of the budget."
  default     = 80

  validation {
    condition     = var.budget_forecast_threshold_percent > 0 && var.budget_forecast_threshold_percent <= 1000
    error_message = "budget_forecast_threshold_percent must be in (0, 1000]."
  }
}

variable "budget_actual_threshold_percent" {
  type        = number
  description = "Notify when the month's ACTUAL cost passes this percentage of the budget."
  default     = 100

  validation {
    condition     = var.budget_actual_threshold_percent > 0 && var.budget_actual_threshold_percent <= 1000
    error_message = "budget_actual_threshold_percent must be in (0, 1000]."
  }
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
  default     = 5

  validation {
    condition     = var.alb_5xx_threshold_percent > 0 && var.alb_5xx_threshold_percent <= 100
    error_message = "alb_5xx_threshold_percent must be in (0, 100]."
  }
}

variable "alb_5xx_min_requests" {
  type        = number
  description = "Below this many requests a minute the 5xx ratio counts as 0 (one failed request at night is not an outage)."
  default     = 20

  validation {
    condition     = var.alb_5xx_min_requests >= 1 && floor(var.alb_5xx_min_requests) == var.alb_5xx_min_requests
    error_message = "alb_5xx_min_requests must be a whole number of at least 1."
  }
}

variable "alb_p99_latency_threshold_seconds" {
  type        = number
  description = "Alarm when the p99 of TargetResponseTime stays above this many seconds (3 of 5 five-minute periods)."
  default     = 1.5

  validation {
    condition     = var.alb_p99_latency_threshold_seconds > 0
    error_message = "alb_p99_latency_threshold_seconds must be positive."
  }
}

variable "alb_unhealthy_hosts_threshold" {
  type        = number
  description = "Alarm when a target group has more than this many unhealthy targets for 3 minutes (0: any)."
  default     = 0

  validation {
    condition     = var.alb_unhealthy_hosts_threshold >= 0 && floor(var.alb_unhealthy_hosts_threshold) == var.alb_unhealthy_hosts_threshold
    error_message = "alb_unhealthy_hosts_threshold must be a whole number, 0 or more."
  }
}

# --- WAF alarm ------------------------------------------------------------------------------

variable "waf_web_acl_metric_name" {
  type        = string
  description = "CloudWatch metric name of the WAF web ACL (modules/security output waf_web_acl_metric_name); null: no WAF, no alarm."
  default     = null
}

variable "waf_blocked_requests_threshold" {
  type        = number
  description = "Alarm when the WAF blocks more than this many requests in 5 minutes."
  default     = 500

  validation {
    condition     = var.waf_blocked_requests_threshold >= 1
    error_message = "waf_blocked_requests_threshold must be at least 1."
  }
}
