# Plan-time checks of deploy/functiongraph with a mocked huaweicloud provider
# (its schema comes from the real provider binary): the two agencies, the
# instance limit and the shared rate, the triggers, and the early failures
# for a region without CTS triggers and a project that has 10 already; what
# the execution agency holds with self-continuation and several targets
# (explicit or "auto"), and the failures of bad targets; the function's
# outputs (notifications, metrics and the alarm, stored reports): each off
# grants nothing, each on grants exactly its action on exactly its
# resource, in exactly its project, and sets its variables.
# Run by deploy/check.sh (Terraform 1.7 or later, for mock_provider).

mock_provider "huaweicloud" {
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER", "APIG", "CTS", "EVENTGRID"] }
  }
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = { triggers = [] }
  }
  # The account's projects, read when targets is set: the region's own
  # project, a subproject, two more regions, a disabled project and OBS's
  # billing project (no region).
  override_data {
    target = data.huaweicloud_identity_projects.all
    values = {
      projects = [
        { id = "p-ap1", name = "ap-southeast-1", enabled = true },
        { id = "p-ap1-dev", name = "ap-southeast-1_dev", enabled = true },
        { id = "p-ap3", name = "ap-southeast-3", enabled = true },
        { id = "p-eu", name = "eu-west-101", enabled = true },
        { id = "p-ap2", name = "ap-southeast-2", enabled = false },
        { id = "p-mos", name = "MOS", enabled = true },
      ]
    }
  }
}

variables {
  region   = "ap-southeast-1"
  zip_path = "versions.tf" # any file: only its bytes are read
}

run "defaults" {
  # apply (on the mock): the environment holds the continuation key, known
  # only once terraform_data is created.
  command = apply

  assert {
    condition     = huaweicloud_fgs_function.tagwarden.agency == huaweicloud_identity_agency.configuration.name
    error_message = "the function's configuration agency (agency) is not the configuration agency"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.app_agency == huaweicloud_identity_agency.execution.name
    error_message = "the function's execution agency (app_agency) is not the execution agency"
  }
  assert {
    condition     = huaweicloud_identity_agency.execution.name != huaweicloud_identity_agency.configuration.name
    error_message = "the two agencies must differ"
  }
  assert {
    # Self-continuation is on by default (max_chain = 100): the KMS policy
    # and invoking itself, both in the function's own project, nothing else.
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1" = sort([huaweicloud_identity_role.kms_tagging.name, huaweicloud_identity_role.invoke_self[0].name])
    })
    error_message = "the execution agency must hold the KMS tagging policy and the self-invocation policy in its own project, and nothing else"
  }
  assert {
    condition = jsondecode(huaweicloud_identity_role.invoke_self[0].policy).Statement == [{
      Effect   = "Allow"
      Action   = ["functiongraph:function:invokeAsync"]
      Resource = ["FUNCTIONGRAPH:*:*:function:default/tagwarden"]
    }]
    error_message = "the self-invocation policy must allow only asynchronous invocation, of this function only"
  }
  assert {
    condition     = length(data.huaweicloud_identity_projects.all) == 0 && output.kms_projects == tolist(["ap-southeast-1"])
    error_message = "without targets: the region's own project, and no look-up of projects"
  }
  assert {
    condition     = nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_MAX_CHAIN) == "100" && !can(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGETS)
    error_message = "TAGWARDEN_MAX_CHAIN 100, and no TAGWARDEN_TARGETS"
  }
  assert {
    condition     = huaweicloud_fgs_async_invoke_configuration.tagwarden.max_async_retry_attempts == 1 && huaweicloud_fgs_async_invoke_configuration.tagwarden.max_async_event_age_in_seconds == 86400
    error_message = "asynchronous invocations: one retry, the longest age in the queue"
  }
  assert {
    condition     = [for r in huaweicloud_identity_agency.configuration.project_role : r.roles] == [toset(["CTS Administrator"])]
    error_message = "the configuration agency must hold the CTS role only"
  }
  assert {
    condition = jsondecode(huaweicloud_identity_role.kms_tagging.policy).Statement[0].Action == [
      "kms:cmk:list", "kms:cmk:get", "kms:cmkTag:listInstance", "kms:cmkTag:list", "kms:cmkTag:batch",
    ]
    error_message = "the KMS policy's actions changed"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.max_instance_num == "1" && output.instance_rate_limit == 20
    error_message = "one instance, with the whole rate"
  }
  assert {
    condition     = nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_RATE_LIMIT) == "20"
    error_message = "TAGWARDEN_RATE_LIMIT is not the instance's share"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.functiongraph_version == "v2" && huaweicloud_fgs_function.tagwarden.timeout == 900
    error_message = "a v2 function (for max_instance_num) with the 900 s timeout"
  }
  assert {
    condition     = jsondecode(huaweicloud_fgs_function_trigger.create_key[0].event_data) == { name = "tagwarden_create_key", operations = ["KMS:cmk:createKey"] }
    error_message = "the CTS trigger must subscribe to KMS createKey"
  }
  assert {
    condition     = jsondecode(huaweicloud_fgs_function_trigger.sweep.event_data).user_event == "{\"action\":\"sweep\"}"
    error_message = "the timer must send the manual payload of a sweep"
  }
  assert {
    # No output configured: no output policy, nothing in the global service
    # project, no alarm, none of their variables.
    condition = (length(huaweicloud_identity_role.notify) == 0 && length(huaweicloud_identity_role.metrics) == 0 &&
      length(huaweicloud_identity_role.reports) == 0 && length(huaweicloud_ces_alarmrule.violations) == 0 &&
    length(coalesce(huaweicloud_identity_agency.execution.domain_roles, [])) == 0)
    error_message = "without outputs: no notification, metrics or reports policy, no domain role, no alarm"
  }
  assert {
    condition = length(setintersection(keys(nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data))), [
      "TAGWARDEN_SMN_TOPIC", "TAGWARDEN_NOTIFY_CHANGES", "TAGWARDEN_NOTIFY_REPEAT", "TAGWARDEN_METRICS",
      "TAGWARDEN_METRICS_NAMESPACE", "TAGWARDEN_REPORT_BUCKET", "TAGWARDEN_REPORT_PREFIX",
    ])) == 0
    error_message = "without outputs: none of their variables"
  }
  assert {
    condition     = output.notification_topic == null && output.metrics_namespace == null && output.reports_location == null && output.alarm_rule_id == null
    error_message = "without outputs: their outputs are null"
  }
}

run "shared_rate" {
  command = plan
  variables {
    max_instances = 3
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.max_instance_num == "3" && output.instance_rate_limit == 6
    error_message = "three instances share 20 requests per second: 6 each"
  }
}

run "more_instances_than_requests" {
  command = plan
  variables {
    max_instances = 21
  }
  expect_failures = [huaweicloud_fgs_function.tagwarden]
}

run "timeout_below_the_margin" {
  command = plan
  variables {
    timeout = 10
  }
  expect_failures = [var.timeout]
}

run "region_without_cts_triggers" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER", "APIG"] }
  }
  expect_failures = [huaweicloud_fgs_function_trigger.create_key]
}

run "project_with_ten_cts_triggers" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = {
      triggers = [
        { id = "t0", type = "CTS", event_data = "{\"name\":\"other_0\"}" },
        { id = "t1", type = "CTS", event_data = "{\"name\":\"other_1\"}" },
        { id = "t2", type = "CTS", event_data = "{\"name\":\"other_2\"}" },
        { id = "t3", type = "CTS", event_data = "{\"name\":\"other_3\"}" },
        { id = "t4", type = "CTS", event_data = "{\"name\":\"other_4\"}" },
        { id = "t5", type = "CTS", event_data = "{\"name\":\"other_5\"}" },
        { id = "t6", type = "CTS", event_data = "{\"name\":\"other_6\"}" },
        { id = "t7", type = "CTS", event_data = "{\"name\":\"other_7\"}" },
        { id = "t8", type = "CTS", event_data = "{\"name\":\"other_8\"}" },
        { id = "t9", type = "CTS", event_data = "{\"name\":\"other_9\"}" },
      ]
    }
  }
  expect_failures = [huaweicloud_fgs_function_trigger.create_key]
}

run "own_trigger_is_not_counted" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = {
      triggers = [
        { id = "t0", type = "CTS", event_data = "{\"name\":\"other_0\"}" },
        { id = "t1", type = "CTS", event_data = "{\"name\":\"other_1\"}" },
        { id = "t2", type = "CTS", event_data = "{\"name\":\"other_2\"}" },
        { id = "t3", type = "CTS", event_data = "{\"name\":\"other_3\"}" },
        { id = "t4", type = "CTS", event_data = "{\"name\":\"other_4\"}" },
        { id = "t5", type = "CTS", event_data = "{\"name\":\"other_5\"}" },
        { id = "t6", type = "CTS", event_data = "{\"name\":\"other_6\"}" },
        { id = "t7", type = "CTS", event_data = "{\"name\":\"other_7\"}" },
        { id = "t8", type = "CTS", event_data = "{\"name\":\"other_8\"}" },
        { id = "own", type = "CTS", event_data = "{\"name\":\"tagwarden_create_key\"}" },
      ]
    }
  }
  assert {
    condition     = length(huaweicloud_fgs_function_trigger.create_key) == 1
    error_message = "nine other CTS triggers leave room for this one"
  }
}

run "without_cts" {
  command = plan
  variables {
    enable_cts_trigger = false
  }
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER"] }
  }
  assert {
    condition     = length(huaweicloud_fgs_function_trigger.create_key) == 0 && length(data.huaweicloud_fgs_trigger_types.available) == 0
    error_message = "no CTS trigger, and no look-up of trigger types"
  }
  assert {
    condition     = length(huaweicloud_identity_agency.configuration.project_role) == 0
    error_message = "without the CTS trigger the configuration agency holds nothing"
  }
}

run "no_self_continuation" {
  command = apply
  variables {
    max_chain = 0
  }
  assert {
    condition     = length(huaweicloud_identity_role.invoke_self) == 0 && !output.invokes_itself
    error_message = "max_chain = 0 and no targets: no self-invocation policy"
  }
  assert {
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1" = [huaweicloud_identity_role.kms_tagging.name]
    })
    error_message = "max_chain = 0 and no targets: the execution agency holds the KMS policy in its own project and nothing else"
  }
  assert {
    condition     = nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_MAX_CHAIN) == "0"
    error_message = "TAGWARDEN_MAX_CHAIN must be 0"
  }
}

run "explicit_targets" {
  command = apply
  variables {
    targets   = "ap-southeast-1/p-ap1-dev, eu-west-101/p-eu=https://kms.eu-west-101.example.test"
    max_chain = 0
  }
  assert {
    # The fan-out invokes the function even without self-continuation; the
    # KMS policy is in the two target projects only, not in the function's.
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1"     = [huaweicloud_identity_role.invoke_self[0].name]
      "ap-southeast-1_dev" = [huaweicloud_identity_role.kms_tagging.name]
      "eu-west-101"        = [huaweicloud_identity_role.kms_tagging.name]
    })
    error_message = "explicit targets: the KMS policy in each target project, invoking itself in its own project, nothing else"
  }
  assert {
    condition     = output.kms_projects == tolist(["ap-southeast-1_dev", "eu-west-101"])
    error_message = "the KMS projects are the targets' projects"
  }
  assert {
    condition     = nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGETS) == "ap-southeast-1/p-ap1-dev, eu-west-101/p-eu=https://kms.eu-west-101.example.test" && !can(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGET_REGIONS)
    error_message = "TAGWARDEN_TARGETS as given, and no TAGWARDEN_TARGET_REGIONS without auto"
  }
}

run "auto_targets" {
  command = apply
  variables {
    targets        = "auto"
    target_regions = "ap-southeast-.*"
  }
  assert {
    # Enabled projects of matching regions (ap-southeast-2 is disabled, MOS
    # has no region); listing the projects needs no policy, so none is added.
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1"     = sort([huaweicloud_identity_role.kms_tagging.name, huaweicloud_identity_role.invoke_self[0].name])
      "ap-southeast-1_dev" = [huaweicloud_identity_role.kms_tagging.name]
      "ap-southeast-3"     = [huaweicloud_identity_role.kms_tagging.name]
    })
    error_message = "auto: the KMS policy in every matching project, invoking itself in its own project, and no other policy"
  }
  assert {
    condition     = jsondecode(huaweicloud_identity_role.invoke_self[0].policy).Statement[0].Action == ["functiongraph:function:invokeAsync"]
    error_message = "auto adds no action to the self-invocation policy"
  }
  assert {
    condition = (nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGETS) == "auto" &&
      nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGET_REGIONS) == "ap-southeast-.*" &&
    nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_TARGET_PROJECTS) == ".*")
    error_message = "auto: TAGWARDEN_TARGETS, TAGWARDEN_TARGET_REGIONS and TAGWARDEN_TARGET_PROJECTS"
  }
}

run "auto_targets_by_project_name" {
  command = plan
  variables {
    targets         = "auto"
    target_projects = "ap-southeast-1(_dev)?"
  }
  assert {
    condition     = output.kms_projects == tolist(["ap-southeast-1", "ap-southeast-1_dev"])
    error_message = "target_projects matches whole project names"
  }
}

run "bad_targets" {
  command = plan
  variables {
    targets = "ap-southeast-1:p-ap1"
  }
  expect_failures = [var.targets]
}

run "duplicate_target" {
  command = plan
  variables {
    targets = "ap-southeast-1/p-ap1,ap-southeast-1/p-ap1=https://kms.example.test"
  }
  expect_failures = [var.targets]
}

run "unknown_target_project" {
  command = plan
  variables {
    targets = "ap-southeast-1/p-gone"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "target_project_in_another_region" {
  command = plan
  variables {
    targets = "ap-southeast-3/p-eu"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "auto_matching_nothing" {
  command = plan
  variables {
    targets        = "auto"
    target_regions = "cn-north-.*"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "target_regions_without_auto" {
  command = plan
  variables {
    target_regions = "ap-southeast-.*"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "bad_target_regions" {
  command = plan
  variables {
    targets        = "auto"
    target_regions = "ap-("
  }
  expect_failures = [var.target_regions]
}

run "bad_max_chain" {
  command = plan
  variables {
    max_chain = -1
  }
  expect_failures = [var.max_chain]
}

run "bad_kms_endpoints" {
  command = plan
  variables {
    kms_endpoints = "ap-southeast-1:https://kms.example.test"
  }
  expect_failures = [var.kms_endpoints]
}

# The function's outputs.

run "notifications" {
  command = apply
  variables {
    smn_topic_urn  = "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"
    notify_changes = true
    notify_repeat  = "24h"
  }
  assert {
    condition = jsondecode(huaweicloud_identity_role.notify[0].policy).Statement == [{
      Effect   = "Allow"
      Action   = ["smn:topic:publish"]
      Resource = ["SMN:*:*:topic:tagwarden-alerts"]
    }] && huaweicloud_identity_role.notify[0].type == "XA"
    error_message = "the notification policy must allow only publishing, to this topic only"
  }
  assert {
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1" = sort([huaweicloud_identity_role.kms_tagging.name, huaweicloud_identity_role.invoke_self[0].name, huaweicloud_identity_role.notify[0].name])
    })
    error_message = "the notification policy in the topic's project (the function's own), and nothing else added"
  }
  assert {
    condition     = length(huaweicloud_identity_role.metrics) == 0 && length(huaweicloud_identity_role.reports) == 0 && length(coalesce(huaweicloud_identity_agency.execution.domain_roles, [])) == 0
    error_message = "notifications add no metrics or reports policy"
  }
  assert {
    condition = (nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_SMN_TOPIC) == "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts" &&
      nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_NOTIFY_CHANGES) == "true" &&
      nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_NOTIFY_REPEAT) == "24h" &&
    !can(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_METRICS))
    error_message = "TAGWARDEN_SMN_TOPIC, TAGWARDEN_NOTIFY_CHANGES and TAGWARDEN_NOTIFY_REPEAT as given, and no other output's variables"
  }
  assert {
    condition     = output.notification_topic == "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"
    error_message = "the topic as an output"
  }
}

run "notifications_to_another_project" {
  command = apply
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-1:p-ap1-dev:tagwarden-alerts"
    max_chain     = 0
  }
  assert {
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1"     = [huaweicloud_identity_role.kms_tagging.name]
      "ap-southeast-1_dev" = [huaweicloud_identity_role.notify[0].name]
    })
    error_message = "the notification policy in the topic's project only, the KMS policy in the target's only"
  }
}

run "topic_in_unknown_project" {
  command = plan
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-1:p-gone:tagwarden-alerts"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "topic_in_project_of_another_region" {
  command = plan
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-3:p-eu:tagwarden-alerts"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "bad_topic_urn" {
  command = plan
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts:0123abcd"
  }
  expect_failures = [var.smn_topic_urn]
}

run "notify_changes_without_topic" {
  command = plan
  variables {
    notify_changes = true
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "namespace_without_metrics" {
  command = plan
  variables {
    metrics_namespace = "Acme.TagWarden"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "prefix_without_bucket" {
  command = plan
  variables {
    report_prefix = "reports/"
  }
  expect_failures = [huaweicloud_identity_agency.execution]
}

run "bad_notify_repeat" {
  command = plan
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"
    notify_repeat = "7d"
  }
  expect_failures = [var.notify_repeat]
}

run "notify_repeat_below_a_minute" {
  command = plan
  variables {
    smn_topic_urn = "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"
    notify_repeat = "30s"
  }
  expect_failures = [var.notify_repeat]
}

run "metrics" {
  command = apply
  variables {
    metrics   = true
    targets   = "ap-southeast-1/p-ap1-dev, eu-west-101/p-eu"
    max_chain = 0
  }
  assert {
    # No Resource: Cloud Eye supports none for ces:metricData:create.
    condition     = jsondecode(huaweicloud_identity_role.metrics[0].policy).Statement == [{ Effect = "Allow", Action = ["ces:metricData:create"] }] && huaweicloud_identity_role.metrics[0].type == "XA"
    error_message = "the metrics policy must allow only storing metric data"
  }
  assert {
    # The targets' projects get the KMS policy only; the function's own
    # project (no target here) the fan-out and the metrics.
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1"     = sort([huaweicloud_identity_role.invoke_self[0].name, huaweicloud_identity_role.metrics[0].name])
      "ap-southeast-1_dev" = [huaweicloud_identity_role.kms_tagging.name]
      "eu-west-101"        = [huaweicloud_identity_role.kms_tagging.name]
    })
    error_message = "the metrics policy in the function's own project only"
  }
  assert {
    condition = (nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_METRICS) == "true" &&
      nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_METRICS_NAMESPACE) == "TagWarden.KMS" &&
    !can(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_SMN_TOPIC))
    error_message = "TAGWARDEN_METRICS and the default namespace, and no other output's variables"
  }
  assert {
    condition     = length(huaweicloud_ces_alarmrule.violations) == 0 && length(huaweicloud_identity_role.notify) == 0
    error_message = "metrics alone: no alarm, no notification policy"
  }
}

run "bad_metrics_namespace" {
  command = plan
  variables {
    metrics           = true
    metrics_namespace = "SYS.KMS"
  }
  expect_failures = [var.metrics_namespace]
}

run "reserved_metrics_namespace" {
  command = plan
  variables {
    metrics           = true
    metrics_namespace = "Sre_tools.KMS"
  }
  expect_failures = [var.metrics_namespace]
}

run "stored_reports" {
  command = apply
  variables {
    report_bucket = "tagwarden-reports"
    report_prefix = "kms/reports/"
  }
  assert {
    condition = jsondecode(huaweicloud_identity_role.reports[0].policy).Statement == [{
      Effect   = "Allow"
      Action   = ["obs:object:PutObject", "obs:object:GetObject"]
      Resource = ["OBS:*:*:object:tagwarden-reports/kms/reports/*"]
    }] && huaweicloud_identity_role.reports[0].type == "AX"
    error_message = "the reports policy must allow only putting and getting the objects under the prefix, a global-scope policy"
  }
  assert {
    condition     = huaweicloud_identity_agency.execution.domain_roles == toset([huaweicloud_identity_role.reports[0].name])
    error_message = "the reports policy in the global service project, and nothing else there"
  }
  assert {
    condition = jsonencode({ for r in huaweicloud_identity_agency.execution.project_role : r.project => sort(r.roles) }) == jsonencode({
      "ap-southeast-1" = sort([huaweicloud_identity_role.kms_tagging.name, huaweicloud_identity_role.invoke_self[0].name])
    })
    error_message = "stored reports add no project-level policy"
  }
  assert {
    condition = (nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_REPORT_BUCKET) == "tagwarden-reports" &&
    nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_REPORT_PREFIX) == "kms/reports/")
    error_message = "TAGWARDEN_REPORT_BUCKET and TAGWARDEN_REPORT_PREFIX as given"
  }
  assert {
    condition     = output.reports_location == "obs://tagwarden-reports/kms/reports/"
    error_message = "the reports' location as an output"
  }
}

run "bad_report_bucket" {
  command = plan
  variables {
    report_bucket = "Tagwarden..reports"
  }
  expect_failures = [var.report_bucket]
}

run "report_prefix_with_wildcard" {
  command = plan
  variables {
    report_bucket = "tagwarden-reports"
    report_prefix = "tagwarden/*"
  }
  expect_failures = [var.report_prefix]
}

run "alarm_without_metrics" {
  command = plan
  variables {
    alarm = true
  }
  expect_failures = [huaweicloud_ces_alarmrule.violations]
}

run "alarm" {
  command = apply
  variables {
    metrics           = true
    metrics_namespace = "Acme.TagWarden"
    alarm             = true
  }
  assert {
    condition = (huaweicloud_ces_alarmrule.violations[0].metric[0].namespace == "Acme.TagWarden" &&
      huaweicloud_ces_alarmrule.violations[0].alarm_type == "MULTI_INSTANCE" &&
    !huaweicloud_ces_alarmrule.violations[0].alarm_action_enabled && length(huaweicloud_ces_alarmrule.violations[0].alarm_actions) == 0)
    error_message = "the alarm watches the custom namespace, with no action without a topic"
  }
  assert {
    condition = jsonencode(sort([for c in huaweicloud_ces_alarmrule.violations[0].condition :
      "${c.metric_name} ${c.comparison_operator} ${c.value} ${c.unit} period=${c.period} count=${c.count} level=${c.alarm_level}"
      ])) == jsonencode([
      "keys_failed > 0 count period=1 count=1 level=2", "keys_violating > 0 count period=1 count=1 level=2",
    ])
    error_message = "the alarm's conditions: keys_violating and keys_failed above 0"
  }
  assert {
    condition = jsonencode([for r in huaweicloud_ces_alarmrule.violations[0].resources : [for d in r.dimensions : "${d.name}=${d.value}"]]) == jsonencode([
      ["region=ap-southeast-1", "project=p-ap1", "run=sweep"],
    ])
    error_message = "the alarm's resource: the function's own target, by region and project id"
  }
  assert {
    condition     = length(huaweicloud_identity_role.notify) == 0 && jsondecode(huaweicloud_identity_role.metrics[0].policy).Statement[0].Action == ["ces:metricData:create"]
    error_message = "the alarm adds no permission to the execution agency"
  }
}

run "alarm_notifies_the_topic" {
  command = apply
  variables {
    metrics         = true
    alarm           = true
    smn_topic_urn   = "urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"
    targets         = "auto"
    target_projects = "ap-southeast-1.*"
  }
  assert {
    condition = (huaweicloud_ces_alarmrule.violations[0].alarm_action_enabled &&
      jsonencode([for a in huaweicloud_ces_alarmrule.violations[0].alarm_actions : { type = a.type, notification_list = a.notification_list }]) == jsonencode([
        { type = "notification", notification_list = ["urn:smn:ap-southeast-1:p-ap1:tagwarden-alerts"] },
    ]))
    error_message = "the alarm notifies the topic"
  }
  assert {
    condition = jsonencode(sort([for r in huaweicloud_ces_alarmrule.violations[0].resources : join(",", [for d in r.dimensions : "${d.name}=${d.value}"])])) == jsonencode([
      "region=ap-southeast-1,project=p-ap1,run=sweep", "region=ap-southeast-1,project=p-ap1-dev,run=sweep",
    ])
    error_message = "with targets, the alarm's resources are the targets"
  }
}
