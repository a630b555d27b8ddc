# --- ALB alarms ------------------------------------------------------------------
#
# The ALB belongs to the AWS Load Balancer Controller (the chart's Ingress), not to
# Terraform, and does not exist before the first deploy. Once it does
# (alb_exists = true), it is found by the tags the controller puts on it: the
# cluster and the IngressGroup (the chart's ingress.groupName). The lookup runs on
# every plan, so a re-created ALB (new ARN suffix) is followed on the next apply.
data "aws_lb" "app" {
  count = var.alb_exists ? 1 : 0

  tags = {
    "elbv2.k8s.aws/cluster" = var.cluster_name
    "ingress.k8s.aws/stack" = var.alb_ingress_group
  }
}

locals {
  alb_arn_suffix = var.alb_exists ? data.aws_lb.app[0].arn_suffix : null
  alarm_topic    = [aws_sns_topic.alerts.arn]
}

# 5xx from the pods as a share of all requests, so a quiet night with one error
# does not page: below alb_5xx_min_requests requests in a period the ratio counts as 0.
resource "aws_cloudwatch_metric_alarm" "alb_target_5xx" {
  count = var.alb_exists ? 1 : 0

  alarm_name          = "${var.name}-alb-target-5xx"
  alarm_description   = "${var.environment}: more than ${var.alb_5xx_threshold_percent}% of the requests got a 5xx from the app, 3 of 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_threshold_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "ratio"
    expression  = "IF(requests >= ${var.alb_5xx_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Target 5xx (% of requests)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      stat        = "Sum"
      period      = 60
      dimensions  = { LoadBalancer = local.alb_arn_suffix }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      stat        = "Sum"
      period      = 60
      dimensions  = { LoadBalancer = local.alb_arn_suffix }
    }
  }

  alarm_actions = local.alarm_topic
  ok_actions    = local.alarm_topic

  tags = merge(var.tags, { Name = "${var.name}-alb-target-5xx" })
}

resource "aws_cloudwatch_metric_alarm" "alb_p99_latency" {
  count = var.alb_exists ? 1 : 0

  alarm_name          = "${var.name}-alb-p99-latency"
  alarm_description   = "${var.environment}: p99 target response time above ${var.alb_p99_latency_threshold_seconds}s for 3 of 5 periods of 5 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_p99_latency_threshold_seconds
  period              = 300
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  # No requests, no latency: not a breach.
  treat_missing_data = "notBreaching"

  dimensions = {
    LoadBalancer = local.alb_arn_suffix
  }

  alarm_actions = local.alarm_topic
  ok_actions    = local.alarm_topic

  tags = merge(var.tags, { Name = "${var.name}-alb-p99-latency" })
}

# UnHealthyHostCount exists per target group only, and the controller names the
# target groups itself (k8s-<namespace>-<service>-<hash>, renamed when the Service
# changes). A Metrics Insights query takes the worst of every target group of the
# ALB without naming them.
resource "aws_cloudwatch_metric_alarm" "alb_unhealthy_hosts" {
  count = var.alb_exists ? 1 : 0

  alarm_name          = "${var.name}-alb-unhealthy-hosts"
  alarm_description   = "${var.environment}: a target group of the ALB has more than ${var.alb_unhealthy_hosts_threshold} unhealthy pod(s) for 3 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_unhealthy_hosts_threshold
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  # No data means no target group reported: the 5xx alarm and the probes cover
  # an ALB without targets; this alarm stays out of it.
  treat_missing_data = "missing"

  metric_query {
    id          = "unhealthy"
    expression  = "SELECT MAX(UnHealthyHostCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer, TargetGroup) WHERE LoadBalancer = '${coalesce(local.alb_arn_suffix, "none")}'"
    label       = "Unhealthy targets (worst target group)"
    period      = 60
    return_data = true
  }

  alarm_actions = local.alarm_topic
  ok_actions    = local.alarm_topic

  tags = merge(var.tags, { Name = "${var.name}-alb-unhealthy-hosts" })
}

# --- WAF ----------------------------------------------------------------------------

# WAFv2 metrics are keyed by the web ACL's metric name (its visibility_config),
# Rule = ALL for the whole web ACL. A spike of blocks is an attack, a scanner or a
# rule that started blocking real users: either way someone should look.
resource "aws_cloudwatch_metric_alarm" "waf_blocked_requests" {
  count = var.waf_web_acl_metric_name != null ? 1 : 0

  alarm_name          = "${var.name}-waf-blocked-requests"
  alarm_description   = "${var.environment}: the WAF blocked more than ${var.waf_blocked_requests_threshold} requests in 5 minutes"
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  statistic           = "Sum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.waf_blocked_requests_threshold
  period              = 300
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"

  dimensions = {
    WebACL = var.waf_web_acl_metric_name
    Rule   = "ALL"
    Region = local.region
  }

  alarm_actions = local.alarm_topic
  ok_actions    = local.alarm_topic

  tags = merge(var.tags, { Name = "${var.name}-waf-blocked-requests" })
}
