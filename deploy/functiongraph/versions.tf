terraform {
  required_version = ">= 1.4" # terraform_data
  required_providers {
    huaweicloud = {
      source = "huaweicloud/huaweicloud"
      # Checked against the provider's source (docs/deploy.md, "Provider
      # versions"): every resource, data source and argument used here is in
      # each release tag from v1.80.2 to v1.97.1. The lower bound is the
      # first release with the data source huaweicloud_fgs_trigger_types
      # (CHANGELOG.md, 1.80.2; huaweicloud_fgs_function_trigger itself
      # appears in 1.62.1); the upper bound is the newest release checked.
      version = ">= 1.80.2, <= 1.97.1"
    }
  }
}

# Credentials come from the environment (HW_ACCESS_KEY, HW_SECRET_KEY) or a
# profile, never from these files.
provider "huaweicloud" {
  region = var.region
}
