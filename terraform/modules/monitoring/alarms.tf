# --- ALB and WAF alarms ------------------------------------------------------------
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
  alb_dimensions = { LoadBalancer = local.alb_arn_suffix }

  # The database's alarms (modules/rds), by metric: 3 x 5 minutes, long enough
  # to ignore a migration or a vacuum spike, short enough to page before a full
  # disk or connection exhaustion. No data (instance stopped or being replaced)
  # shows as INSUFFICIENT_DATA, neither a false OK nor a false page.
  database_alarms = {
    cpu = {
      metric_name = "CPUUtilization"
      statistic   = "Average"
      threshold   = 80 # percent
      summary     = "average CPU above 80% for 15 minutes"
    }
    free-storage = {
      metric_name = "FreeStorageSpace"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 2147483648 # bytes: 2 GiB
      summary     = "free storage below 2147483648 bytes for 15 minutes"
    }
    connections = {
      metric_name = "DatabaseConnections"
      statistic   = "Maximum"
      threshold   = 80 # connections
      summary     = "more than 80 connections for 15 minutes"
    }
  }

  # Every alarm, by its name after "<name>-": created when `create`, all alike
  # (above the threshold unless `comparison` says otherwise, to the alerts topic
  # and back). Each watches either one metric (namespace, metric_name, statistic
  # or extended_statistic, period, dimensions) or metric queries (queries: an
  # expression over metrics).
  alarm_definitions = {
    # 5xx from the pods as a share of all requests, so a quiet night with one error
    # does not page: below alb_5xx_min_requests requests in a period the ratio counts as 0.
    alb-target-5xx = {
      create              = var.alb_exists
      description         = "${var.environment}: more than ${var.alb_5xx_threshold_percent}% of the requests got a 5xx from the app, 3 of 5 minutes"
      threshold           = var.alb_5xx_threshold_percent
      evaluation_periods  = 5
      datapoints_to_alarm = 3
      treat_missing_data  = "notBreaching"
      queries = [
        {
          id          = "ratio"
          expression  = "IF(requests >= ${var.alb_5xx_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
          label       = "Target 5xx (% of requests)"
          return_data = true
        },
        {
          id     = "errors"
          metric = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_Target_5XX_Count", stat = "Sum", period = 60, dimensions = local.alb_dimensions }
        },
        {
          id     = "requests"
          metric = { namespace = "AWS/ApplicationELB", metric_name = "RequestCount", stat = "Sum", period = 60, dimensions = local.alb_dimensions }
        },
      ]
    }

    alb-p99-latency = {
      create              = var.alb_exists
      description         = "${var.environment}: p99 target response time above ${var.alb_p99_latency_threshold_seconds}s for 3 of 5 periods of 5 minutes"
      namespace           = "AWS/ApplicationELB"
      metric_name         = "TargetResponseTime"
      extended_statistic  = "p99"
      threshold           = var.alb_p99_latency_threshold_seconds
      period              = 300
      evaluation_periods  = 5
      datapoints_to_alarm = 3
      # No requests, no latency: not a breach.
      treat_missing_data = "notBreaching"
      dimensions         = local.alb_dimensions
    }

    # UnHealthyHostCount exists per target group only, and the controller names the
    # target groups itself (k8s-<namespace>-<service>-<hash>, renamed when the Service
    # changes). A Metrics Insights query takes the worst of every target group of the
    # ALB without naming them.
    alb-unhealthy-hosts = {
      create              = var.alb_exists
      description         = "${var.environment}: a target group of the ALB has more than ${var.alb_unhealthy_hosts_threshold} unhealthy pod(s) for 3 minutes"
      threshold           = var.alb_unhealthy_hosts_threshold
      evaluation_periods  = 3
      datapoints_to_alarm = 3
      # No data means no target group reported: the 5xx alarm and the probes cover
      # an ALB without targets; this alarm stays out of it.
      treat_missing_data = "missing"
      queries = [
        {
          id          = "unhealthy"
          expression  = "SELECT MAX(UnHealthyHostCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer, TargetGroup) WHERE LoadBalancer = '${coalesce(local.alb_arn_suffix, "none")}'"
          label       = "Unhealthy targets (worst target group)"
          period      = 60
          return_data = true
        },
      ]
    }

    # WAFv2 metrics are keyed by the web ACL's metric name (its visibility_config),
    # Rule = ALL for the whole web ACL. A spike of blocks is an attack, a scanner or a
    # rule that started blocking real users: either way someone should look.
    waf-blocked-requests = {
      create             = var.waf_web_acl_metric_name != null
      description        = "${var.environment}: the WAF blocked more than ${var.waf_blocked_requests_threshold} requests in 5 minutes"
      namespace          = "AWS/WAFV2"
      metric_name        = "BlockedRequests"
      statistic          = "Sum"
      threshold          = var.waf_blocked_requests_threshold
      period             = 300
      evaluation_periods = 1
      treat_missing_data = "notBreaching"
      dimensions = {
        WebACL = var.waf_web_acl_metric_name
        Rule   = "ALL"
        Region = local.region
      }
    }
  }

  # The database's, when the environment has one: "<name>-postgres-<metric>",
  # after the instance ("<name>-postgres").
  database_alarm_definitions = {
    for metric, alarm in local.database_alarms : "postgres-${metric}" => merge(alarm, {
      create              = true
      description         = "${var.environment}: ${var.db_instance_identifier} ${alarm.summary}"
      namespace           = "AWS/RDS"
      period              = 300
      evaluation_periods  = 3
      datapoints_to_alarm = 3
      treat_missing_data  = "missing"
      dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
    }) if var.db_instance_identifier != null
  }

  alarms = {
    for name, alarm in merge(local.alarm_definitions, local.database_alarm_definitions) : name => alarm if alarm.create
  }
  alarm_topic = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = lookup(each.value, "comparison", "GreaterThanThreshold")
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = lookup(each.value, "datapoints_to_alarm", null)
  treat_missing_data  = each.value.treat_missing_data

  namespace          = lookup(each.value, "namespace", null)
  metric_name        = lookup(each.value, "metric_name", null)
  statistic          = lookup(each.value, "statistic", null)
  extended_statistic = lookup(each.value, "extended_statistic", null)
  period             = lookup(each.value, "period", null)
  dimensions         = lookup(each.value, "dimensions", null)

  dynamic "metric_query" {
    for_each = lookup(each.value, "queries", [])

    content {
      id          = metric_query.value.id
      expression  = lookup(metric_query.value, "expression", null)
      label       = lookup(metric_query.value, "label", null)
      period      = lookup(metric_query.value, "period", null)
      return_data = lookup(metric_query.value, "return_data", null)

      dynamic "metric" {
        for_each = contains(keys(metric_query.value), "metric") ? [metric_query.value.metric] : []

        content {
          namespace   = metric.value.namespace
          metric_name = metric.value.metric_name
          stat        = metric.value.stat
          period      = metric.value.period
          dimensions  = metric.value.dimensions
        }
      }
    }
  }

  alarm_actions = local.alarm_topic
  ok_actions    = local.alarm_topic

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Each alarm was a resource of its own (count = 0 or 1) before they were built
# from local.alarm_definitions.
moved {
  from = aws_cloudwatch_metric_alarm.alb_target_5xx[0]
  to   = aws_cloudwatch_metric_alarm.this["alb-target-5xx"]
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_p99_latency[0]
  to   = aws_cloudwatch_metric_alarm.this["alb-p99-latency"]
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_unhealthy_hosts[0]
  to   = aws_cloudwatch_metric_alarm.this["alb-unhealthy-hosts"]
}

moved {
  from = aws_cloudwatch_metric_alarm.waf_blocked_requests[0]
  to   = aws_cloudwatch_metric_alarm.this["waf-blocked-requests"]
}
