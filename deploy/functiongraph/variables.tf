variable "region" {
  description = "Huawei Cloud region of the function and of the KMS keys it enforces, e.g. ap-southeast-1."
  type        = string
}

variable "function_name" {
  description = "Name of the FunctionGraph function (also prefixes the agency, the custom policy and the triggers)."
  type        = string
  default     = "tagwarden"
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
  description = "KMS requests per second (TAGWARDEN_RATE_LIMIT); KMS allows 20 per user."
  type        = number
  default     = 20
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
  description = "Evaluate each new key as soon as CTS records its createKey (needs CTS enabled with a tracker in the region)."
  type        = bool
  default     = true
}

variable "memory_size" {
  description = "Function memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Function timeout in seconds (3-900). A sweep stops TAGWARDEN_DEADLINE_MARGIN before it and returns a continuation."
  type        = number
  default     = 300
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
