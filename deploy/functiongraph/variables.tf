variable "region" {
  description = "Huawei Cloud region of the function and of the KMS keys it enforces, e.g. ap-southeast-1."
  type        = string
}

variable "function_name" {
  description = "Name of the FunctionGraph function (also prefixes the agencies, the custom policy and the triggers)."
  type        = string
  default     = "tagwarden"
  validation {
    # A trigger name starts with a letter and has at most 64 letters, digits,
    # "-" and "_" (the provider's docs/resources/fgs_trigger.md, timer); the
    # longest trigger name here adds "_create_key" (11) to this name.
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,52}$", var.function_name))
    error_message = "function_name must start with a letter and have at most 53 letters, digits, \"-\" and \"_\"."
  }
}

variable "zip_path" {
  description = "The package built by `make -f function.zip.mk` (ARCH=amd64 for x86 functions)."
  type        = string
  default     = "../../dist/function.zip"
}

variable "dry_run" {
  description = "Report the changes without writing them (TAGWARDEN_DRY_RUN). Start with true, read the reports, then set false."
  type        = bool
  default     = true
}

variable "rate_limit" {
  description = "KMS requests per second for the whole function, shared by its instances: each gets floor(rate_limit / max_instances) as TAGWARDEN_RATE_LIMIT. KMS allows 20 per user."
  type        = number
  default     = 20
  validation {
    condition     = var.rate_limit >= 1 && var.rate_limit <= 1000
    error_message = "rate_limit must be 1 to 1000 requests per second (TAGWARDEN_RATE_LIMIT's range)."
  }
}

variable "max_instances" {
  description = "Most instances of the function at once (max_instance_num). Each instance has its own KMS rate limiter, so they share rate_limit: 1 gives a sweep the whole rate, and key events wait while a sweep runs. With several targets, T instances sweep T targets in parallel; fewer queue them, and only 1 rules out two sweeps of one target at once (docs/deploy.md)."
  type        = number
  default     = 1
  validation {
    # The provider accepts -1 (no limit) to 1000, 0 disabling the function
    # (docs/resources/fgs_function.md); without a limit the instances'
    # limiters would together exceed KMS's.
    condition     = var.max_instances >= 1 && var.max_instances <= 1000 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be a whole number from 1 to 1000 (and at most rate_limit)."
  }
}

variable "schedule_type" {
  description = "TIMER trigger schedule type: Rate (e.g. 1d) or Cron (e.g. \"0 0 3 * * ?\")."
  type        = string
  default     = "Rate"
  validation {
    condition     = contains(["Rate", "Cron"], var.schedule_type)
    error_message = "schedule_type must be Rate or Cron."
  }
}

variable "schedule" {
  description = "When the compliance sweep runs: a rate (1-60m, 1-24h, 1-30d) or a cron expression."
  type        = string
  default     = "1d"
}

variable "sweep_payload" {
  description = "The manual payload the TIMER trigger sends as user_event (docs/deploy.md), e.g. {\"action\":\"sweep\",\"dry_run\":true}."
  type        = string
  default     = "{\"action\":\"sweep\"}"
}

variable "enable_cts_trigger" {
  description = "Evaluate each new key as soon as CTS records its createKey. Needs CTS enabled in the region, a region where FunctionGraph offers CTS triggers, and fewer than 10 CTS triggers in the project (checked at plan time; docs/deploy.md)."
  type        = bool
  default     = true
}

variable "cts_trigger_roles" {
  description = "System roles or custom policies the configuration agency holds for the CTS trigger (FunctionGraph user guide, \"Using a CTS trigger\": an agency with CTS permissions). The function's code never receives them."
  type        = list(string)
  default     = ["CTS Administrator"]
}

variable "memory_size" {
  description = "Function memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Function timeout in seconds. A sweep stops TAGWARDEN_DEADLINE_MARGIN (10 s) before it, or when its report is full (TAGWARDEN_MAX_REPORT_KEYS), and returns a continuation; the sweep then continues itself (max_chain). 900 s lets a sweep reach the report cap at 20 requests per second (docs/deploy.md, \"Timeout\")."
  type        = number
  default     = 900
  validation {
    # The provider accepts 3 to 259200 (docs/resources/fgs_function.md,
    # timeout; the FunctionGraph API's CreateFunctionRequestBody.Timeout in
    # huaweicloud-sdk-go-v3 services/functiongraph/v2/model says the same).
    # Below three times the 10 s deadline margin a sweep has next to no time.
    condition     = var.timeout >= 30 && var.timeout <= 259200
    error_message = "timeout must be 30 to 259200 seconds (FunctionGraph accepts 3 to 259200; tagwarden stops 10 s before the deadline)."
  }
}

variable "log_level" {
  description = "TAGWARDEN_LOG_LEVEL: trace, debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "policies_dir" {
  description = "Optional TAGWARDEN_POLICIES: a folder of policies inside the function (empty = the zip's policies/)."
  type        = string
  default     = ""
}

variable "targets" {
  description = "TAGWARDEN_TARGETS: \"\" (the function's own region and project), \"region/project_id[=endpoint],...\" (those projects), or \"auto\" (the projects whose region and name match target_regions and target_projects). The execution agency gets the KMS policy in exactly these projects (docs/deploy.md, \"Several targets, and sweeps that continue themselves\")."
  type        = string
  default     = ""
  validation {
    condition = var.targets == "" || var.targets == "auto" || (
      alltrue([for t in split(",", var.targets) : can(regex("^([a-z]{2,3}-[a-z]+-[0-9]+)/([0-9A-Za-z-]{1,64})(?:=(https?://[^\\s,]+))?$", trimspace(t)))]) &&
      length(distinct([for t in split(",", var.targets) : split("=", trimspace(t))[0]])) == length(split(",", var.targets))
    )
    error_message = "targets must be \"\", \"auto\", or a comma-separated list of region/project_id[=endpoint] (e.g. ap-southeast-1/0123abcd,eu-west-101/4567ef89=https://kms.example), each target once."
  }
}

variable "target_regions" {
  description = "With targets = \"auto\": TAGWARDEN_TARGET_REGIONS, a regular expression matched against the whole region name (\"\" = every region)."
  type        = string
  default     = ""
  validation {
    condition     = can(regexall(var.target_regions, ""))
    error_message = "target_regions must be a valid regular expression (RE2 syntax, as Go's regexp)."
  }
}

variable "target_projects" {
  description = "With targets = \"auto\": TAGWARDEN_TARGET_PROJECTS, a regular expression matched against the whole project name, e.g. ap-southeast-1 or ap-southeast-1_prod (\"\" = every project)."
  type        = string
  default     = ""
  validation {
    condition     = can(regexall(var.target_projects, ""))
    error_message = "target_projects must be a valid regular expression (RE2 syntax, as Go's regexp)."
  }
}

variable "kms_endpoints" {
  description = "Optional TAGWARDEN_KMS_ENDPOINTS: \"region=endpoint,...\", the KMS endpoint (e.g. a private one) of the targets of a region that name none."
  type        = string
  default     = ""
  validation {
    condition = var.kms_endpoints == "" || alltrue([
      for e in split(",", var.kms_endpoints) : can(regex("^[a-z]{2,3}-[a-z]+-[0-9]+=https?://[^\\s,]+$", trimspace(e)))
    ])
    error_message = "kms_endpoints must be \"\" or a comma-separated list of region=endpoint (e.g. ap-southeast-1=https://kms.example)."
  }
}

variable "max_chain" {
  description = "TAGWARDEN_MAX_CHAIN: most links of one target's sweep that continues itself (a sweep cut by its deadline invokes the function asynchronously with its continuation). 0 disables self-continuation, and with no targets the function is not allowed to invoke itself."
  type        = number
  default     = 100
  validation {
    condition     = var.max_chain >= 0 && var.max_chain <= 10000 && floor(var.max_chain) == var.max_chain
    error_message = "max_chain must be a whole number from 0 (no self-continuation) to 10000."
  }
}
