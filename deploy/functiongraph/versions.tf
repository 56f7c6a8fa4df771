terraform {
  required_version = ">= 1.3"
  required_providers {
    huaweicloud = {
      source  = "huaweicloud/huaweicloud"
      version = ">= 1.60.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5.0"
    }
  }
}

# Credentials come from the environment (HW_ACCESS_KEY, HW_SECRET_KEY) or a
# profile, never from these files.
provider "huaweicloud" {
  region = var.region
}
