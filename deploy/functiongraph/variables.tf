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

# The function's outputs (docs/deploy.md, "Outputs: notifications, metrics,
# stored reports"). Each is off by default; each, when on, sets its
# TAGWARDEN_* variables and grants the execution agency exactly what it needs.

variable "smn_topic_urn" {
  description = "TAGWARDEN_SMN_TOPIC: the SMN topic the function notifies, urn:smn:{region}:{project_id}:{topic_name} (\"\" = no notifications). The execution agency may publish to this topic only, in its project only."
  type        = string
  default     = ""
  validation {
    # The topic name is SMN's rule for CreateTopic: 1 to 255 letters,
    # digits, "-" and "_", starting with a letter or a digit (SMN API
    # reference, "Creating a Topic"); the region and project id are those
    # the function accepts (adapters/outputs/huaweismn).
    condition     = var.smn_topic_urn == "" || can(regex("^urn:smn:[a-z]{2}(-[a-z0-9]+)*-[0-9]+:[0-9A-Za-z-]{1,64}:[A-Za-z0-9][A-Za-z0-9_-]{0,254}$", var.smn_topic_urn))
    error_message = "smn_topic_urn must be \"\" or a topic URN, urn:smn:{region}:{project_id}:{topic_name} (e.g. urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:tagwarden); a subscription URN has one part more."
  }
}

variable "notify_changes" {
  description = "TAGWARDEN_NOTIFY_CHANGES, with smn_topic_urn: also notify the tag changes written (or, in a dry run, planned), not only violations and failures."
  type        = bool
  default     = false
}

variable "notify_repeat" {
  description = "TAGWARDEN_NOTIFY_REPEAT, with smn_topic_urn: how long a finding already notified is not notified again, a Go duration of at least 1m (e.g. 24h, 168h)."
  type        = string
  default     = "168h"
  validation {
    # A Go duration (time.ParseDuration: decimal numbers each with a unit,
    # ns, us, µs, ms, s, m or h), as timeadd reads it, of at least one
    # minute, the function's minimum (cmd/internal/config, outputs.go).
    condition     = can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+$", var.notify_repeat)) && try(timecmp(timeadd("2000-01-01T00:00:00Z", var.notify_repeat), "2000-01-01T00:01:00Z") >= 0, false)
    error_message = "notify_repeat must be a Go duration of at least 1m, e.g. 24h, 168h or 1h30m."
  }
}

variable "metrics" {
  description = "TAGWARDEN_METRICS: publish each run's counts to Cloud Eye in metrics_namespace, in the function's own region and project. The execution agency may then store metric data (ces:metricData:create) in the function's own project only."
  type        = bool
  default     = false
}

variable "metrics_namespace" {
  description = "TAGWARDEN_METRICS_NAMESPACE, with metrics: the Cloud Eye custom namespace, service.item (e.g. TagWarden.KMS)."
  type        = string
  default     = "TagWarden.KMS"
  validation {
    # The function's rule (adapters/outputs/huaweices, CheckNamespace, from
    # Cloud Eye's API reference): service.item, 3 to 32 characters, each
    # part a letter then letters, digits or "_"; the service does not start
    # with SYS, AGT or SRE (in any case), and SERVICE.BMS is the system's.
    condition = (can(regex("^[A-Za-z][A-Za-z0-9_]*\\.[A-Za-z][A-Za-z0-9_]*$", var.metrics_namespace)) &&
      length(var.metrics_namespace) >= 3 && length(var.metrics_namespace) <= 32 &&
    !can(regex("^(?i)(sys|agt|sre)", var.metrics_namespace)) && upper(var.metrics_namespace) != "SERVICE.BMS")
    error_message = "metrics_namespace must be service.item, 3 to 32 characters, each part a letter then letters, digits or _ (e.g. TagWarden.KMS); the service may not start with SYS, AGT or SRE, and SERVICE.BMS is reserved."
  }
}

variable "report_bucket" {
  description = "TAGWARDEN_REPORT_BUCKET: the OBS bucket where the function stores its reports, under report_prefix (\"\" = none). The bucket must exist; the execution agency may put and get the objects under the prefix only."
  type        = string
  default     = ""
  validation {
    # OBS bucket names: 3 to 63 lowercase letters, digits, "-" and ".";
    # starting with a letter or a digit, not ending with "-" or "."; no
    # "..", ".-" or "-."; not an IP address (OBS developer guide, "Use
    # Restrictions", Bucket Names).
    condition = var.report_bucket == "" || (
      length(var.report_bucket) >= 3 && length(var.report_bucket) <= 63 &&
      can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$", var.report_bucket)) &&
      !can(regex("^[0-9]+(\\.[0-9]+){3}$", var.report_bucket))
    )
    error_message = "report_bucket must be \"\" or an OBS bucket name: 3 to 63 lowercase letters, digits, \"-\" and \".\", starting and ending with a letter or a digit, no \"..\", \".-\" or \"-.\", not an IP address."
  }
}

variable "report_prefix" {
  description = "TAGWARDEN_REPORT_PREFIX, with report_bucket: the object names' prefix under which the function stores and reads, and the only objects it may access (e.g. tagwarden/)."
  type        = string
  default     = "tagwarden/"
  validation {
    # Part of the IAM resource path OBS:*:*:object:<bucket>/<prefix>*: no
    # wildcard, which would widen the grant, and no leading "/".
    # The function also refuses "//" and "." or ".." segments
    # (adapters/outputs/huaweiobs, CheckPrefix).
    condition     = can(regex("^[A-Za-z0-9!_.'()-][A-Za-z0-9!_.'()/-]{0,255}$", var.report_prefix)) && !can(regex("//", var.report_prefix)) && !can(regex("(^|/)\\.\\.?(/|$)", var.report_prefix))
    error_message = "report_prefix must be 1 to 256 letters, digits and !_.'()-/, not starting with \"/\", without \"//\", \".\" or \"..\" segments and without wildcards (e.g. tagwarden/)."
  }
}

variable "alarm" {
  description = "With metrics: a Cloud Eye alarm rule when a run reports keys violating the policies or failed (keys_violating or keys_failed above 0) in a target the function enforces, notifying smn_topic_urn when it is set."
  type        = bool
  default     = false
}

variable "alarm_level" {
  description = "With alarm: the alarm's severity, 1 critical, 2 major, 3 minor, 4 informational."
  type        = number
  default     = 2
  validation {
    condition     = contains([1, 2, 3, 4], var.alarm_level)
    error_message = "alarm_level must be 1, 2, 3 or 4 (docs/resources/ces_alarmrule.md, alarm_level)."
  }
}

variable "alarm_suppress_duration" {
  description = "With alarm: while the alarm lasts, notify again every this many seconds (0: once)."
  type        = number
  default     = 0
  validation {
    condition     = contains([0, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400], var.alarm_suppress_duration)
    error_message = "alarm_suppress_duration must be 0, 300, 600, 900, 1800, 3600, 10800, 21600, 43200 or 86400 (docs/resources/ces_alarmrule.md, suppress_duration)."
  }
}
