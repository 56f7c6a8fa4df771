# Plan-time checks of deploy/functiongraph with a mocked huaweicloud provider
# (its schema comes from the real provider binary): the two agencies, the
# instance limit and the shared rate, the triggers, and the early failures
# for a region without CTS triggers and a project that has 10 already.
# Run by deploy/check.sh (Terraform 1.7 or later, for mock_provider).

mock_provider "huaweicloud" {
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER", "APIG", "CTS", "EVENTGRID"] }
  }
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = { triggers = [] }
  }
}

variables {
  region   = "ap-southeast-1"
  zip_path = "versions.tf" # any file: only its bytes are read
}

run "defaults" {
  # apply (on the mock): the environment holds the continuation key, known
  # only once terraform_data is created.
  command = apply

  assert {
    condition     = huaweicloud_fgs_function.tagwarden.agency == huaweicloud_identity_agency.configuration.name
    error_message = "the function's configuration agency (agency) is not the configuration agency"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.app_agency == huaweicloud_identity_agency.execution.name
    error_message = "the function's execution agency (app_agency) is not the execution agency"
  }
  assert {
    condition     = huaweicloud_identity_agency.execution.name != huaweicloud_identity_agency.configuration.name
    error_message = "the two agencies must differ"
  }
  assert {
    condition     = [for r in huaweicloud_identity_agency.execution.project_role : r.roles] == [toset([huaweicloud_identity_role.kms_tagging.name])]
    error_message = "the execution agency must hold the KMS tagging policy and nothing else"
  }
  assert {
    condition     = [for r in huaweicloud_identity_agency.configuration.project_role : r.roles] == [toset(["CTS Administrator"])]
    error_message = "the configuration agency must hold the CTS role only"
  }
  assert {
    condition = jsondecode(huaweicloud_identity_role.kms_tagging.policy).Statement[0].Action == [
      "kms:cmk:list", "kms:cmk:get", "kms:cmkTag:listInstance", "kms:cmkTag:list", "kms:cmkTag:batch",
    ]
    error_message = "the KMS policy's actions changed"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.max_instance_num == "1" && output.instance_rate_limit == 20
    error_message = "one instance, with the whole rate"
  }
  assert {
    condition     = nonsensitive(jsondecode(huaweicloud_fgs_function.tagwarden.user_data).TAGWARDEN_RATE_LIMIT) == "20"
    error_message = "TAGWARDEN_RATE_LIMIT is not the instance's share"
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.functiongraph_version == "v2" && huaweicloud_fgs_function.tagwarden.timeout == 900
    error_message = "a v2 function (for max_instance_num) with the 900 s timeout"
  }
  assert {
    condition     = jsondecode(huaweicloud_fgs_function_trigger.create_key[0].event_data) == { name = "tagwarden_create_key", operations = ["KMS:cmk:createKey"] }
    error_message = "the CTS trigger must subscribe to KMS createKey"
  }
  assert {
    condition     = jsondecode(huaweicloud_fgs_function_trigger.sweep.event_data).user_event == "{\"action\":\"sweep\"}"
    error_message = "the timer must send the manual payload of a sweep"
  }
}

run "shared_rate" {
  command = plan
  variables {
    max_instances = 3
  }
  assert {
    condition     = huaweicloud_fgs_function.tagwarden.max_instance_num == "3" && output.instance_rate_limit == 6
    error_message = "three instances share 20 requests per second: 6 each"
  }
}

run "more_instances_than_requests" {
  command = plan
  variables {
    max_instances = 21
  }
  expect_failures = [huaweicloud_fgs_function.tagwarden]
}

run "timeout_below_the_margin" {
  command = plan
  variables {
    timeout = 10
  }
  expect_failures = [var.timeout]
}

run "region_without_cts_triggers" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER", "APIG"] }
  }
  expect_failures = [huaweicloud_fgs_function_trigger.create_key]
}

run "project_with_ten_cts_triggers" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = {
      triggers = [
        { id = "t0", type = "CTS", event_data = "{\"name\":\"other_0\"}" },
        { id = "t1", type = "CTS", event_data = "{\"name\":\"other_1\"}" },
        { id = "t2", type = "CTS", event_data = "{\"name\":\"other_2\"}" },
        { id = "t3", type = "CTS", event_data = "{\"name\":\"other_3\"}" },
        { id = "t4", type = "CTS", event_data = "{\"name\":\"other_4\"}" },
        { id = "t5", type = "CTS", event_data = "{\"name\":\"other_5\"}" },
        { id = "t6", type = "CTS", event_data = "{\"name\":\"other_6\"}" },
        { id = "t7", type = "CTS", event_data = "{\"name\":\"other_7\"}" },
        { id = "t8", type = "CTS", event_data = "{\"name\":\"other_8\"}" },
        { id = "t9", type = "CTS", event_data = "{\"name\":\"other_9\"}" },
      ]
    }
  }
  expect_failures = [huaweicloud_fgs_function_trigger.create_key]
}

run "own_trigger_is_not_counted" {
  command = plan
  override_data {
    target = data.huaweicloud_fgs_function_triggers.cts
    values = {
      triggers = [
        { id = "t0", type = "CTS", event_data = "{\"name\":\"other_0\"}" },
        { id = "t1", type = "CTS", event_data = "{\"name\":\"other_1\"}" },
        { id = "t2", type = "CTS", event_data = "{\"name\":\"other_2\"}" },
        { id = "t3", type = "CTS", event_data = "{\"name\":\"other_3\"}" },
        { id = "t4", type = "CTS", event_data = "{\"name\":\"other_4\"}" },
        { id = "t5", type = "CTS", event_data = "{\"name\":\"other_5\"}" },
        { id = "t6", type = "CTS", event_data = "{\"name\":\"other_6\"}" },
        { id = "t7", type = "CTS", event_data = "{\"name\":\"other_7\"}" },
        { id = "t8", type = "CTS", event_data = "{\"name\":\"other_8\"}" },
        { id = "own", type = "CTS", event_data = "{\"name\":\"tagwarden_create_key\"}" },
      ]
    }
  }
  assert {
    condition     = length(huaweicloud_fgs_function_trigger.create_key) == 1
    error_message = "nine other CTS triggers leave room for this one"
  }
}

run "without_cts" {
  command = plan
  variables {
    enable_cts_trigger = false
  }
  override_data {
    target = data.huaweicloud_fgs_trigger_types.available
    values = { types = ["TIMER"] }
  }
  assert {
    condition     = length(huaweicloud_fgs_function_trigger.create_key) == 0 && length(data.huaweicloud_fgs_trigger_types.available) == 0
    error_message = "no CTS trigger, and no look-up of trigger types"
  }
  assert {
    condition     = length(huaweicloud_identity_agency.configuration.project_role) == 0
    error_message = "without the CTS trigger the configuration agency holds nothing"
  }
}
