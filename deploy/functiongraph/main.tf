# tagwarden on Huawei FunctionGraph: the function (custom runtime, the zip from
# function.zip.mk), two agencies (the execution agency whose temporary
# credentials the code receives, holding only the KMS actions tagwarden uses,
# and the configuration agency FunctionGraph uses for the CTS trigger), a
# TIMER trigger for the compliance sweep and a CTS trigger that evaluates each
# new key. See docs/deploy.md, which cites the sources of every choice below
# ("the provider" is huaweicloud/terraform-provider-huaweicloud).

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

# The execution agency (the function's app_agency): its temporary
# credentials reach the code in the X-CFF-* headers of each invocation, so
# it holds the KMS actions and nothing else.
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
  description            = "Execution agency of the tagwarden function: KMS tagging only"
  delegated_service_name = "op_svc_cff"

  project_role {
    project = var.region
    roles   = [huaweicloud_identity_role.kms_tagging.name]
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
  app           = "default"
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
