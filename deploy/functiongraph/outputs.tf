output "function_urn" {
  description = "URN of the function: invoke it by hand with the manual payload (docs/deploy.md)."
  value       = huaweicloud_fgs_function.tagwarden.urn
}

output "agency" {
  description = "The agency whose temporary credentials the function uses."
  value       = huaweicloud_identity_agency.function.name
}
