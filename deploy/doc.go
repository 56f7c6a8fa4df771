// Package deploy holds no code: its tests check the deployment files the
// product ships (template.yaml for AWS SAM, function.zip.mk and Makefile,
// and the Terraform of deploy/functiongraph) against what the function
// actually reads, so that they cannot drift apart.
//
// TestTerraform reads the Terraform files (no tool needed) and checks the
// invariants that matter: the execution agency holds exactly the KMS
// actions in the targets' projects, plus, when sweeps fan out or continue
// themselves, asynchronous invocation of this function alone, and is the
// function's app_agency, the configuration agency is
// another one, the instance limit and the instances' shared rate, the
// triggers and their operations, the provider range, the timeout.
// TestTerraformOutputs and TestTemplateOutputs check the function's
// outputs (notifications, metrics and their alarm, stored reports) on both
// platforms: each off grants nothing and sets none of its variables, each
// on grants exactly its actions on exactly its resource; on Lambda the
// Huawei IAM policies of the template's outputs, evaluated for every
// combination.
// TestDeployCheck runs check.sh (terraform fmt, validate and test with the
// huaweicloud provider built from source, given by TAGWARDEN_TF_PROVIDER)
// when its tools are here, and skips naming what is missing otherwise.
// sam_transform_check.py checks template.yaml as the SAM translator bundled
// with cfn-lint transforms it (run by .ci/run). docs/deploy.md explains how
// to use the files and cites the sources of each choice.
package deploy
