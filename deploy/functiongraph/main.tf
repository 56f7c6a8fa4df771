# tagwarden on Huawei FunctionGraph: the function (custom runtime, the zip from
# function.zip.mk), two agencies (the execution agency whose temporary
# credentials the code receives, holding only the KMS actions tagwarden uses,
# in the targets' projects, and the asynchronous invocation of itself when it
# continues sweeps or fans them out to several targets; and the configuration
# agency FunctionGraph uses for the CTS trigger), a TIMER trigger for the
# compliance sweep and a CTS trigger that evaluates each new key; and, each
# only when configured, the function's three outputs (notifications through
# SMN, metrics to Cloud Eye with an optional alarm, reports stored in OBS)
# with exactly the permission each needs. See docs/deploy.md, which cites the
# sources of every choice below ("the provider" is
# huaweicloud/terraform-provider-huaweicloud).

locals {
  # Exactly the KMS actions the function calls (docs/kms.md, "Permissions"):
  # ListKeys, ListKeyDetail, ListKmsByTags, ShowKmsTags, BatchCreateKmsTags.
  kms_actions = [
    "kms:cmk:list",
    "kms:cmk:get",
    "kms:cmkTag:listInstance",
    "kms:cmkTag:list",
    "kms:cmkTag:batch",
  ]

  # Invoking this function itself, asynchronously (AsyncInvokeFunction,
  # POST /v2/{project_id}/fgs/functions/{function_urn}/invocations-async):
  # to continue a sweep cut by its deadline (max_chain > 0) and to fan a
  # sweep out to its targets (targets set). Nothing else is needed for
  # targets = "auto": listing the projects (KeystoneListAuthProjects,
  # GET /v3/auth/projects) needs no permission (docs/deploy.md, "Several
  # targets, and sweeps that continue themselves").
  invoke_actions = ["functiongraph:function:invokeAsync"]
  invokes_itself = var.max_chain > 0 || var.targets != ""

  # The function's application, and the IAM resource path of the function
  # (FunctionGraph user guide, "Creating a Custom Policy": FUNCTIONGRAPH:*:*:function:
  # followed by the application and the function name), built from the
  # names rather than from the function, which depends on the agency.
  function_app      = "default"
  function_resource = "FUNCTIONGRAPH:*:*:function:${local.function_app}/${var.function_name}"

  # The function's outputs (docs/deploy.md, "Outputs: notifications,
  # metrics, stored reports"). Each adds one custom policy, only when it is
  # configured, holding exactly the action its API needs.
  #
  # Notifications: SMN PublishMessage (POST /v2/{project_id}/notifications/
  # topics/{topic_urn}/publish), action smn:topic:publish (SMN API reference,
  # "Permissions Policies and Supported Actions", "Message Publishing"), on
  # the one topic: a policy's resource is "service:region:account:type:path"
  # (IAM user guide, "Policy Syntax"), here SMN:*:*:topic:<topic name>. The
  # path names no region or project, so the policy is granted in the topic's
  # own project only (local.execution_roles), found by the id in its URN.
  smn_re         = "^urn:smn:([a-z]{2}(?:-[a-z0-9]+)*-[0-9]+):([0-9A-Za-z-]{1,64}):([A-Za-z0-9][A-Za-z0-9_-]{0,254})$"
  notifies       = var.smn_topic_urn != ""
  smn_parts      = local.notifies ? try(regex(local.smn_re, var.smn_topic_urn), ["", "", ""]) : ["", "", ""]
  smn_topic      = { region = local.smn_parts[0], project_id = local.smn_parts[1], name = local.smn_parts[2] }
  notify_actions = ["smn:topic:publish"]
  topic_resource = "SMN:*:*:topic:${local.smn_topic.name}"
  smn_project    = local.notifies ? lookup(local.project_names, local.smn_topic.project_id, "") : ""

  # Metrics: Cloud Eye "Adding Monitoring Data" (POST /V1.0/{project_id}/
  # metric-data), action ces:metricData:create, in the function's own region
  # and project. Cloud Eye scopes it to no resource: its identity-policy
  # table gives the action no resource type ("-": "you must specify all
  # resources", API reference, "Adding Monitoring Data",
  # https://support.huaweicloud.com/intl/en-us/api-ces/en-us_topic_0032831274.html),
  # and its policy table has no resource column ("Supported Actions of the
  # Monitoring Data Management APIs", ces_03_0050). The narrowest grant is
  # the action alone, granted in the function's own project only.
  metrics_actions = ["ces:metricData:create"]

  # Stored reports: OBS PutObject and GetObject on the objects under the
  # prefix, and nothing else (no listing, no deletion, no other bucket): an
  # object is OBS:*:*:object:<bucket>/<object name>, "*" matching any rest
  # (OBS user guide, "OBS Resources"; OBS developer guide, "Common
  # Policies": "OBS:*:*:object:my-company/my-project/*"). OBS is a global
  # service: its policy is of the global scope (type AX) and granted in the
  # global service project (the agency's domain_roles), never with the
  # project-level policies (IAM user guide, "Creating a Custom Policy").
  stores_reports   = var.report_bucket != ""
  report_actions   = ["obs:object:PutObject", "obs:object:GetObject"]
  reports_resource = "OBS:*:*:object:${var.report_bucket}/${var.report_prefix}*"

  # The alarm's metrics: keys violating a policy, keys that failed.
  alarm_metrics = ["keys_violating", "keys_failed"]

  # The targets: "" is the function's own region and project (the project
  # named like the region, where the provider creates the function);
  # "region/project_id[=endpoint],..." those projects; "auto" the projects
  # whose region and name match target_regions and target_projects.
  target_re = "^([a-z]{2,3}-[a-z]+-[0-9]+)/([0-9A-Za-z-]{1,64})(?:=(https?://[^\\s,]+))?$"
  explicit_targets = var.targets == "" || var.targets == "auto" ? [] : [
    for t in split(",", var.targets) : {
      region     = regex(local.target_re, trimspace(t))[0]
      project_id = regex(local.target_re, trimspace(t))[1]
    }
  ]
  # The account's projects, read only when targets is set (an agency's
  # project-level policies are granted per project, by project name), when
  # a topic is given (its URN names its project by id) or for the alarm
  # (its dimensions name the targets' projects by id).
  reads_projects   = var.targets != "" || local.notifies || var.alarm
  projects         = local.reads_projects ? data.huaweicloud_identity_projects.all[0].projects : []
  project_names    = { for p in local.projects : p.id => p.name }
  project_ids      = { for p in local.projects : p.name => p.id }
  region_of        = { for p in local.projects : p.name => try(regex("^([a-z]{2,3}-[a-z]+-[0-9]+)(?:_.*)?$", p.name)[0], "") }
  target_regions   = var.target_regions == "" ? ".*" : var.target_regions
  target_projects  = var.target_projects == "" ? ".*" : var.target_projects
  explicit_missing = [for t in local.explicit_targets : "${t.region}/${t.project_id}" if !contains(keys(local.project_names), t.project_id)]
  explicit_elsewhere = [
    for t in local.explicit_targets : "${t.region}/${t.project_id} (project ${local.project_names[t.project_id]})"
    if contains(keys(local.project_names), t.project_id) && lookup(local.region_of, lookup(local.project_names, t.project_id, ""), "") != t.region
  ]
  auto_projects = var.targets != "auto" ? [] : sort([
    for p in local.projects : p.name
    if p.enabled && local.region_of[p.name] != "" &&
    can(regex("^(?:${local.target_regions})$", local.region_of[p.name])) &&
    can(regex("^(?:${local.target_projects})$", p.name))
  ])
  # The projects whose keys the function enforces: the execution agency
  # holds the KMS policy in each of them, and in no other.
  kms_projects = sort(distinct(
    var.targets == "" ? [var.region] :
    var.targets == "auto" ? local.auto_projects :
    [for t in local.explicit_targets : lookup(local.project_names, t.project_id, "")]
  ))
  # What the execution agency holds, by project: the KMS policy in the
  # target projects, the self-invocation policy and the metrics policy in
  # the function's own project only (the first's resource path names no
  # region or account; metrics are stored there), and the notification
  # policy in its topic's project only. The reports policy, for OBS, a
  # global service, is granted in the global service project (domain_roles).
  execution_projects = sort(distinct(concat(
    local.kms_projects,
    local.invokes_itself || var.metrics ? [var.region] : [],
    local.notifies ? [local.smn_project] : [],
  )))
  execution_roles = {
    for p in local.execution_projects : p => concat(
      contains(local.kms_projects, p) ? [huaweicloud_identity_role.kms_tagging.name] : [],
      p == var.region ? huaweicloud_identity_role.invoke_self[*].name : [],
      p == var.region ? huaweicloud_identity_role.metrics[*].name : [],
      p == local.smn_project ? huaweicloud_identity_role.notify[*].name : [],
    ) if p != ""
  }

  # The alarm's resources: the targets the function enforces, by region and
  # project id, the dimensions of the metrics (docs/deploy.md).
  alarm_targets = var.targets == "" ? [{ region = var.region, project_id = lookup(local.project_ids, var.region, "") }] : (
    var.targets == "auto" ? [for n in local.auto_projects : { region = local.region_of[n], project_id = local.project_ids[n] }] :
    [for t in local.explicit_targets : { region = t.region, project_id = t.project_id }]
  )

  # Asynchronous invocations: one retry of a crashed invocation; the
  # longest wait in the queue the provider allows (1 to 86,400 s,
  # docs/resources/fgs_async_invoke_configuration.md).
  async_retry_attempts = 1
  async_max_event_age  = 86400

  # Trigger names: the function name with its hyphens made underscores,
  # since CTS trigger names may not contain "-" (docs/deploy.md).
  trigger_prefix   = replace(var.function_name, "-", "_")
  cts_trigger_name = "${local.trigger_prefix}_create_key"

  # KMS limits requests per user, and the function's limiter is per
  # instance: the instances share var.rate_limit, so that together they
  # never exceed it (docs/deploy.md, "Instances and the KMS rate limit").
  instance_rate_limit = floor(var.rate_limit / var.max_instances)

  environment = merge(
    {
      TAGWARDEN_REGION     = var.region
      TAGWARDEN_DRY_RUN    = tostring(var.dry_run)
      TAGWARDEN_RATE_LIMIT = tostring(local.instance_rate_limit)
      TAGWARDEN_LOG_LEVEL  = var.log_level
      TAGWARDEN_LOG_FORMAT = "json"
      # Every instance signs and checks continuations with this key, so that
      # a continuation issued by one instance resumes on another.
      TAGWARDEN_CONTINUATION_KEY = sensitive(terraform_data.continuation_key.output)
    },
    var.policies_dir == "" ? {} : { TAGWARDEN_POLICIES = var.policies_dir },
    # Several targets and self-continuation (docs/deploy.md, "Several
    # targets, and sweeps that continue themselves"). The function's URN
    # comes from the runtime's environment: setting TAGWARDEN_FUNCTION_URN
    # here would make the function depend on itself.
    { TAGWARDEN_MAX_CHAIN = tostring(var.max_chain) },
    var.targets == "" ? {} : { TAGWARDEN_TARGETS = var.targets },
    var.targets != "auto" ? {} : {
      TAGWARDEN_TARGET_REGIONS  = local.target_regions
      TAGWARDEN_TARGET_PROJECTS = local.target_projects
    },
    var.kms_endpoints == "" ? {} : { TAGWARDEN_KMS_ENDPOINTS = var.kms_endpoints },
    # The outputs, each only when configured (docs/deploy.md, "Outputs:
    # notifications, metrics, stored reports").
    local.notifies ? {
      TAGWARDEN_SMN_TOPIC      = var.smn_topic_urn
      TAGWARDEN_NOTIFY_CHANGES = tostring(var.notify_changes)
      TAGWARDEN_NOTIFY_REPEAT  = var.notify_repeat
    } : {},
    var.metrics ? {
      TAGWARDEN_METRICS           = "true"
      TAGWARDEN_METRICS_NAMESPACE = var.metrics_namespace
    } : {},
    local.stores_reports ? {
      TAGWARDEN_REPORT_BUCKET = var.report_bucket
      TAGWARDEN_REPORT_PREFIX = var.report_prefix
    } : {},
  )

  # The project's CTS triggers other than this deployment's own: a project
  # holds at most 10 (the provider's acceptance tests,
  # huaweicloud/services/acceptance/fgs/resource_huaweicloud_fgs_function_trigger_test.go).
  other_cts_triggers = var.enable_cts_trigger ? [
    for t in data.huaweicloud_fgs_function_triggers.cts[0].triggers : t.id
    if try(jsondecode(t.event_data).name, "") != local.cts_trigger_name
  ] : []
  trigger_types = var.enable_cts_trigger ? [
    for t in data.huaweicloud_fgs_trigger_types.available[0].types : upper(t)
  ] : []
}

# The key that authenticates continuations (HMAC-SHA256), shared by every
# instance of the function: 64 hex digits from two random UUIDs (uuid() is
# version 4, from a cryptographic source), drawn once and kept in the state
# (ignore_changes), so that no provider beyond huaweicloud is needed. It
# protects the continuations of sweeps from forgery by callers who can
# invoke the function; whoever can read the function's configuration or the
# state can read it. Rotate it with
# terraform apply -replace=terraform_data.continuation_key.
resource "terraform_data" "continuation_key" {
  input = replace("${uuid()}${uuid()}", "-", "")
  lifecycle {
    ignore_changes = [input]
  }
}

# A custom project-level policy holding only the KMS actions.
resource "huaweicloud_identity_role" "kms_tagging" {
  name        = "${var.function_name}-kms-tagging"
  type        = "XA"
  description = "tagwarden: read KMS keys and their tags, write tags"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect = "Allow"
      Action = local.kms_actions
    }]
  })
}

# Invoking this function, and only it, asynchronously: for self-continuation
# (max_chain > 0) and the fan-out to several targets (targets set). Its
# resource path names the function but no region or account, so it is
# granted in the function's own project only (local.execution_roles).
resource "huaweicloud_identity_role" "invoke_self" {
  count       = local.invokes_itself ? 1 : 0
  name        = "${var.function_name}-invoke-self"
  type        = "XA"
  description = "tagwarden: invoke its own function asynchronously"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect   = "Allow"
      Action   = local.invoke_actions
      Resource = [local.function_resource]
    }]
  })
}

# Publishing to the notification topic, and only to it: only when
# smn_topic_urn is set, granted in the topic's project only.
resource "huaweicloud_identity_role" "notify" {
  count       = local.notifies ? 1 : 0
  name        = "${var.function_name}-notify"
  type        = "XA"
  description = "tagwarden: publish to its SMN topic"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect   = "Allow"
      Action   = local.notify_actions
      Resource = [local.topic_resource]
    }]
  })
}

# Storing metric data in Cloud Eye: only when metrics is on, granted in the
# function's own project only. No Resource: Cloud Eye supports no resource
# for this action (local.metrics_actions).
resource "huaweicloud_identity_role" "metrics" {
  count       = var.metrics ? 1 : 0
  name        = "${var.function_name}-metrics"
  type        = "XA"
  description = "tagwarden: store its metric data in Cloud Eye"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect = "Allow"
      Action = local.metrics_actions
    }]
  })
}

# Writing and reading the objects under the report prefix of the report
# bucket, and nothing else: only when report_bucket is set. A global-scope
# policy (OBS is a global service), granted in the global service project.
resource "huaweicloud_identity_role" "reports" {
  count       = local.stores_reports ? 1 : 0
  name        = "${var.function_name}-reports"
  type        = "AX"
  description = "tagwarden: store and read its reports under its OBS prefix"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect   = "Allow"
      Action   = local.report_actions
      Resource = [local.reports_resource]
    }]
  })
}

# The account's projects, to grant the KMS policy in the target projects by
# name (targets name projects by id; "auto" matches their names), the
# notification policy in its topic's project, and to name the targets'
# projects in the alarm. Read only when one of those needs it.
data "huaweicloud_identity_projects" "all" {
  count = local.reads_projects ? 1 : 0
}

# The execution agency (the function's app_agency): its temporary
# credentials reach the code in the X-CFF-* headers of each invocation, so
# it holds the KMS actions in the target projects and, when the function
# invokes itself, the invoke action on itself in its own project: nothing
# else.
#
# delegated_service_name "op_svc_cff" (FunctionGraph's service account) is
# an internal argument of huaweicloud_identity_agency, not in its
# documentation. Huawei's own provider documentation and tests used it for
# FunctionGraph agencies until commit 008e7742 (2022-08-30) removed them
# "for safety reason": docs/resources/fgs_function.md and
# docs/resources/identity_agency.md at 008e7742^, and the FunctionGraph
# trigger tests added by commit 3c46699f (2021-09-28). The resource still
# reads such agencies back into delegated_service_name (trust domain names
# matching ^op_svc_[A-Za-z]+$, huaweicloud/services/iam/resource_huaweicloud_identity_agency.go).
resource "huaweicloud_identity_agency" "execution" {
  name                   = "${var.function_name}-exec"
  description            = "Execution agency of the tagwarden function: KMS tagging, invoking itself, its outputs"
  delegated_service_name = "op_svc_cff"

  dynamic "project_role" {
    for_each = local.execution_roles
    content {
      project = project_role.key
      roles   = project_role.value
    }
  }

  # The global service project: only the reports policy, only when
  # report_bucket is set (PUT /v3.0/OS-AGENCY/domains/{domain_id}/agencies/
  # {agency_id}/roles/{role_id}, huaweicloud/services/iam/resource_huaweicloud_identity_agency.go).
  domain_roles = local.stores_reports ? huaweicloud_identity_role.reports[*].name : null

  lifecycle {
    precondition {
      condition     = length(local.explicit_missing) == 0
      error_message = "targets names projects this account does not have: ${join(", ", local.explicit_missing)}."
    }
    precondition {
      condition     = length(local.explicit_elsewhere) == 0
      error_message = "targets names projects that are not in the region given: ${join(", ", local.explicit_elsewhere)}."
    }
    precondition {
      condition     = var.targets != "auto" || length(local.auto_projects) > 0
      error_message = "targets = \"auto\": no enabled project matches target_regions (${local.target_regions}) and target_projects (${local.target_projects})."
    }
    precondition {
      condition     = var.targets == "auto" || (var.target_regions == "" && var.target_projects == "")
      error_message = "target_regions and target_projects apply only with targets = \"auto\"."
    }
    precondition {
      condition     = !local.notifies || local.smn_project != ""
      error_message = "smn_topic_urn names project ${local.smn_topic.project_id}, which this account does not have."
    }
    precondition {
      condition     = !local.notifies || local.smn_project == "" || lookup(local.region_of, local.smn_project, "") == local.smn_topic.region
      error_message = "smn_topic_urn names region ${local.smn_topic.region}, but its project ${local.smn_topic.project_id} (${local.smn_project}) is not in that region."
    }
    precondition {
      condition     = local.notifies || (!var.notify_changes && var.notify_repeat == "168h")
      error_message = "notify_changes and notify_repeat apply only with smn_topic_urn."
    }
    precondition {
      condition     = var.metrics || var.metrics_namespace == "TagWarden.KMS"
      error_message = "metrics_namespace applies only with metrics = true."
    }
    precondition {
      condition     = local.stores_reports || var.report_prefix == "tagwarden/"
      error_message = "report_prefix applies only with report_bucket."
    }
  }
}

# The configuration agency (the function's agency): what FunctionGraph itself
# needs, here for the CTS trigger ("Using a CTS trigger", prerequisites: an
# agency with CTS permissions). Its credentials never reach the code, since
# the function has its own execution agency.
resource "huaweicloud_identity_agency" "configuration" {
  name                   = "${var.function_name}-config"
  description            = "Configuration agency of the tagwarden function: its CTS trigger"
  delegated_service_name = "op_svc_cff" # see the execution agency

  dynamic "project_role" {
    for_each = var.enable_cts_trigger ? [var.cts_trigger_roles] : []
    content {
      project = var.region
      roles   = project_role.value
    }
  }
}

resource "huaweicloud_fgs_function" "tagwarden" {
  name          = var.function_name
  app           = local.function_app
  description   = "Enforces tag policies on KMS keys (tagwarden)"
  runtime       = "Custom"
  handler       = "bootstrap"
  code_type     = "zip"
  code_filename = "function.zip"
  func_code     = filebase64(var.zip_path)
  memory_size   = var.memory_size
  timeout       = var.timeout
  # max_instance_num is only supported by v2 functions (the provider's
  # docs/resources/fgs_function.md); some regions default to v1.
  functiongraph_version = "v2"
  max_instance_num      = var.max_instances
  agency                = huaweicloud_identity_agency.configuration.name
  app_agency            = huaweicloud_identity_agency.execution.name
  user_data             = jsonencode(local.environment)

  lifecycle {
    precondition {
      condition     = local.instance_rate_limit >= 1
      error_message = "max_instances (${var.max_instances}) is above rate_limit (${var.rate_limit}): each instance needs at least 1 KMS request per second. Lower max_instances."
    }
  }
}

# Asynchronous invocations of the function (its triggers, the fan-out to
# the targets, the links of a sweep that continues itself): a crashed one
# is retried once, and one queued behind max_instances waits as long as the
# provider allows (86,400 s, the continuation's lifetime) instead of being
# dropped. A delivery twice is harmless: each key is read fresh before a
# write and writes are idempotent (docs/deploy.md, "Several targets, and
# sweeps that continue themselves").
resource "huaweicloud_fgs_async_invoke_configuration" "tagwarden" {
  function_urn                   = huaweicloud_fgs_function.tagwarden.urn
  max_async_retry_attempts       = local.async_retry_attempts
  max_async_event_age_in_seconds = local.async_max_event_age
}

# The compliance sweep; user_event carries the manual payload.
resource "huaweicloud_fgs_function_trigger" "sweep" {
  function_urn = huaweicloud_fgs_function.tagwarden.urn
  type         = "TIMER"
  status       = "ACTIVE"
  event_data = jsonencode({
    name          = "${local.trigger_prefix}_sweep"
    schedule_type = var.schedule_type
    schedule      = var.schedule
    user_event    = var.sweep_payload
  })
}

# What FunctionGraph offers in the region, and the project's CTS triggers,
# read at plan time so that a region without CTS triggers, or a project
# that already has 10, fails before anything is created.
data "huaweicloud_fgs_trigger_types" "available" {
  count = var.enable_cts_trigger ? 1 : 0
}

data "huaweicloud_fgs_function_triggers" "cts" {
  count = var.enable_cts_trigger ? 1 : 0
  type  = "CTS"
}

# Each new key, as soon as CTS records its creation.
resource "huaweicloud_fgs_function_trigger" "create_key" {
  count        = var.enable_cts_trigger ? 1 : 0
  function_urn = huaweicloud_fgs_function.tagwarden.urn
  type         = "CTS"
  status       = "ACTIVE"
  event_data = jsonencode({
    name       = local.cts_trigger_name
    operations = ["KMS:cmk:createKey"]
  })

  lifecycle {
    precondition {
      condition     = contains(local.trigger_types, "CTS")
      error_message = "FunctionGraph offers no CTS trigger in region ${var.region} (its trigger types: ${join(", ", local.trigger_types)}). Set enable_cts_trigger = false: the timer sweep still finds every key."
    }
    precondition {
      condition     = length(local.other_cts_triggers) < 10
      error_message = "The project already has ${length(local.other_cts_triggers)} CTS triggers, and a project holds at most 10. Delete one, or set enable_cts_trigger = false: the timer sweep still finds every key."
    }
  }
}

# The alarm (alarm = true, with metrics): a Cloud Eye alarm rule on the
# custom namespace's keys_violating and keys_failed above 0, for the
# targets the function enforces (dimensions region, project and run =
# sweep), notifying
# the SMN topic when one is given. A Cloud Eye resource, created with
# Terraform's credentials: it adds nothing to the execution agency.
resource "huaweicloud_ces_alarmrule" "violations" {
  count             = var.alarm ? 1 : 0
  alarm_name        = "${var.function_name}-violations"
  alarm_description = "tagwarden: KMS keys violating the tag policies, or that could not be decided"
  alarm_type        = "MULTI_INSTANCE"
  alarm_enabled     = true
  # With no action the rule only records its state: the provider requires
  # alarm_actions or ok_actions when actions are enabled
  # (docs/resources/ces_alarmrule.md).
  alarm_action_enabled = local.notifies

  metric {
    namespace = var.metrics_namespace
  }

  dynamic "resources" {
    for_each = local.alarm_targets
    content {
      dimensions {
        name  = "region"
        value = resources.value.region
      }
      dimensions {
        name  = "project"
        value = resources.value.project_id
      }
      # The sweeps' series: key events and checks (a few keys each) are
      # sent with run = keys (docs/outputs.md, "Metrics").
      dimensions {
        name  = "run"
        value = "sweep"
      }
    }
  }

  # Each run publishes its counts once: period 1 judges the raw data
  # points ("If period is set to 1, the raw metric data is used",
  # docs/resources/ces_alarmrule.md), one point above 0 is enough.
  dynamic "condition" {
    for_each = local.alarm_metrics
    content {
      metric_name         = condition.value
      period              = 1
      filter              = "max"
      comparison_operator = ">"
      value               = 0
      unit                = "count"
      count               = 1
      suppress_duration   = var.alarm_suppress_duration
      alarm_level         = var.alarm_level
    }
  }

  dynamic "alarm_actions" {
    for_each = local.notifies ? [var.smn_topic_urn] : []
    content {
      type              = "notification"
      notification_list = [alarm_actions.value]
    }
  }

  lifecycle {
    precondition {
      condition     = var.metrics
      error_message = "alarm = true needs metrics = true: the alarm watches the metrics the function publishes."
    }
    precondition {
      condition     = alltrue([for t in local.alarm_targets : t.project_id != ""])
      error_message = "The alarm cannot name the project of every target: the account has no project ${var.region}."
    }
  }
}
