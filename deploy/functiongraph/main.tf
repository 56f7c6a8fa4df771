# tagwarden on Huawei FunctionGraph: the function (custom runtime, the zip from
# function.zip.mk), an agency that lets FunctionGraph act with only the KMS
# actions tagwarden uses, a TIMER trigger for the compliance sweep and a CTS
# trigger that evaluates each new key. See docs/deploy.md.

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

  environment = merge(
    {
      TAGWARDEN_REGION     = var.region
      TAGWARDEN_DRY_RUN    = tostring(var.dry_run)
      TAGWARDEN_RATE_LIMIT = tostring(var.rate_limit)
      TAGWARDEN_LOG_LEVEL  = var.log_level
      TAGWARDEN_LOG_FORMAT = "json"
      # Every instance signs and checks continuations with this key, so that
      # a continuation issued by one instance resumes on another.
      TAGWARDEN_CONTINUATION_KEY = random_password.continuation_key.result
    },
    var.policies_dir == "" ? {} : { TAGWARDEN_POLICIES = var.policies_dir },
  )
}

# The key that authenticates continuations (HMAC-SHA256), shared by every
# instance of the function. It protects the continuations of sweeps from
# forgery by callers who can invoke the function; whoever can read the
# function's configuration can read it (user_data is shown in the console).
resource "random_password" "continuation_key" {
  length  = 48
  special = false
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

# The agency FunctionGraph assumes: its temporary credentials reach the
# function in the X-CFF-* headers of each invocation.
resource "huaweicloud_identity_agency" "function" {
  name                   = "${var.function_name}-agency"
  description            = "FunctionGraph agency of the tagwarden function: KMS tagging only"
  delegated_service_name = "op_svc_cff"

  project_role {
    project = var.region
    roles   = [huaweicloud_identity_role.kms_tagging.name]
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
  agency        = huaweicloud_identity_agency.function.name
  user_data     = jsonencode(local.environment)
}

# The compliance sweep; user_event carries the manual payload.
resource "huaweicloud_fgs_function_trigger" "sweep" {
  function_urn = huaweicloud_fgs_function.tagwarden.urn
  type         = "TIMER"
  status       = "ACTIVE"
  event_data = jsonencode({
    name          = "${replace(var.function_name, "-", "_")}_sweep"
    schedule_type = var.schedule_type
    schedule      = var.schedule
    user_event    = var.sweep_payload
  })
}

# Each new key, as soon as CTS records its creation.
resource "huaweicloud_fgs_function_trigger" "create_key" {
  count        = var.enable_cts_trigger ? 1 : 0
  function_urn = huaweicloud_fgs_function.tagwarden.urn
  type         = "CTS"
  status       = "ACTIVE"
  event_data = jsonencode({
    name       = "${replace(var.function_name, "-", "_")}_create_key"
    operations = ["KMS:cmk:createKey"]
  })
}
