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
