output "function_urn" {
  description = "URN of the function: invoke it by hand with the manual payload (docs/deploy.md)."
  value       = huaweicloud_fgs_function.tagwarden.urn
}

output "execution_agency" {
  description = "The agency whose temporary credentials the function's code uses: the KMS actions only."
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
