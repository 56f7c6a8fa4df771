#!/usr/bin/env bash
# Checks deploy/functiongraph with the real tools:
#   terraform fmt -check     the files are formatted
#   terraform validate       against the huaweicloud provider's own schema
#   terraform test           deploy/functiongraph/tests/*.tftest.hcl, on a
#                            provider mocked from that schema (Terraform 1.7+)
#
# The huaweicloud provider is not served by any registry this project can
# reach: build it from its source (docs/deploy.md, "Checking the
# deployment") and give the binary by path. Terraform comes from PATH or by
# path. Nothing is written to the repository: the module is copied to a
# temporary folder, with a CLI configuration whose dev_overrides point
# Terraform at the given provider (so no terraform init, no download).
#
#   TAGWARDEN_TF_PROVIDER=/path/to/terraform-provider-huaweicloud  (required)
#   TAGWARDEN_TERRAFORM=/path/to/terraform                          (default: terraform on PATH)
#
# Exit status: 0 every check passed; 1 a check failed; 3 skipped, because a
# tool is missing (the message names it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module=$here/functiongraph

tf=${TAGWARDEN_TERRAFORM:-$(command -v terraform || true)}
provider=${TAGWARDEN_TF_PROVIDER:-}
missing=()
if [[ -z $tf || ! -x $tf ]]; then
  missing+=("terraform (not on PATH and TAGWARDEN_TERRAFORM not set to an executable)")
fi
if [[ -z $provider || ! -x $provider || -d $provider ]]; then
  missing+=("the huaweicloud provider (TAGWARDEN_TF_PROVIDER=${provider:-<unset>} is not an executable terraform-provider-huaweicloud; build it from huaweicloud/terraform-provider-huaweicloud as docs/deploy.md says)")
fi
if ((${#missing[@]})); then
  for m in "${missing[@]}"; do echo "deploy/check.sh: skipped: missing $m"; done
  exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/plugins"
ln -s "$(cd "$(dirname "$provider")" && pwd)/$(basename "$provider")" "$work/plugins/terraform-provider-huaweicloud"
cat >"$work/cli.tfrc" <<EOF
provider_installation {
  dev_overrides {
    "huaweicloud/huaweicloud" = "$work/plugins"
  }
  direct {}
}
EOF
mkdir "$work/module"
(cd "$module" && find . -name .terraform -prune -o -name '*.tfstate*' -prune -o -name .terraform.lock.hcl -prune -o -type f -print |
  while read -r f; do mkdir -p "$work/module/$(dirname "$f")" && cp "$f" "$work/module/$f"; done)

export TF_CLI_CONFIG_FILE=$work/cli.tfrc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_DATA_DIR=$work/tfdata
# The dev_overrides warning is expected: keep the output to what was checked.
quiet() {
  grep -v -e 'Warning: Provider development overrides' -e 'provider development overrides are set' \
    -e "^ - huaweicloud/huaweicloud in " -e 'may therefore not match any released' \
    -e 'state to become incompatible' -e '^releases\.$' -e '^published releases\.$' -e '^configuration:$' || true
}

version=$("$tf" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')
echo "== terraform $version ($tf)"
echo "== provider $(sha256sum "$provider" | cut -c1-16)… ($provider)"

status=0
echo "== terraform fmt -check -recursive"
if ! "$tf" fmt -check -recursive -diff -no-color "$module"; then
  echo "FAIL: terraform fmt would change the files above"
  status=1
fi

echo "== terraform validate"
json=$(cd "$work/module" && "$tf" validate -json -no-color 2>/dev/null) || true
if grep -Eq '"valid": *true' <<<"$json"; then
  count() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" <<<"$json" | head -n1; }
  # One warning is expected: the development override itself.
  echo "valid: $(count error_count) errors, $(count warning_count) warnings (the provider override's own)"
  if [[ $(count warning_count) != 1 ]]; then
    (cd "$work/module" && "$tf" validate -no-color 2>&1) | quiet
    echo "FAIL: terraform validate warns beyond the provider override"
    status=1
  fi
else
  (cd "$work/module" && "$tf" validate -no-color 2>&1) | quiet
  echo "FAIL: terraform validate"
  status=1
fi

major=${version%%.*} rest=${version#*.}
minor=${rest%%.*}
if ((major > 1 || (major == 1 && minor >= 7))); then
  echo "== terraform test"
  out=$(cd "$work/module" && "$tf" test -no-color 2>&1) && rc=0 || rc=$?
  echo "$out" | quiet | grep -v '^$'
  if ((rc != 0)); then
    echo "FAIL: terraform test"
    status=1
  fi
else
  echo "== terraform test: skipped (Terraform $version; mock providers need 1.7 or later)"
fi

if ((status == 0)); then
  echo "deploy/check.sh: all checks passed"
fi
exit $status
