output "function_urn" {
  description = "URN of the function: invoke it by hand with the manual payload (docs/deploy.md)."
  value       = huaweicloud_fgs_function.tagwarden.urn
}

output "execution_agency" {
  description = "The agency whose temporary credentials the function's code uses: the KMS actions in the target projects, and invoking the function itself when it does."
  value       = huaweicloud_identity_agency.execution.name
}

output "configuration_agency" {
  description = "The agency FunctionGraph uses for the function's triggers."
  value       = huaweicloud_identity_agency.configuration.name
}

output "instance_rate_limit" {
  description = "TAGWARDEN_RATE_LIMIT of each instance: rate_limit shared by max_instances."
  value       = local.instance_rate_limit
}

output "kms_projects" {
  description = "The projects (by name) in which the execution agency holds the KMS policy: the targets' projects."
  value       = local.kms_projects
}

output "invokes_itself" {
  description = "Whether the execution agency may invoke the function asynchronously (max_chain > 0 or targets set)."
  value       = local.invokes_itself
}

output "notification_topic" {
  description = "The SMN topic the function notifies (TAGWARDEN_SMN_TOPIC), and the only one the execution agency may publish to; null without notifications."
  value       = local.notifies ? var.smn_topic_urn : null
}

output "metrics_namespace" {
  description = "The Cloud Eye namespace of the function's metrics (TAGWARDEN_METRICS_NAMESPACE); null without metrics."
  value       = var.metrics ? var.metrics_namespace : null
}

output "reports_location" {
  description = "Where the function stores its reports (obs://bucket/prefix), the only objects the execution agency may put and get; null without stored reports."
  value       = local.stores_reports ? "obs://${var.report_bucket}/${var.report_prefix}" : null
}

output "alarm_rule_id" {
  description = "The Cloud Eye alarm rule on keys_violating and keys_failed; null without the alarm."
  value       = one(huaweicloud_ces_alarmrule.violations[*].id)
}
