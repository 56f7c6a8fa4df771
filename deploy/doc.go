// Package deploy holds no code: its tests check the deployment files the
// product ships (template.yaml for AWS SAM, function.zip.mk and Makefile,
// and the Terraform of deploy/functiongraph) against what the function
// actually reads, so that they cannot drift apart. docs/deploy.md explains
// how to use them.
package deploy
