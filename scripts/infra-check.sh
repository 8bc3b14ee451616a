#!/usr/bin/env bash
# Checks the deployment templates offline, as a reviewer would: `sam validate --lint`, cfn-lint on the template
# translated to plain CloudFormation, and checkov (skips are justified on the resources). Installs its tools on
# first use (tools/infra/.venv-sam, .venv-checkov: separate, their pins conflict). Writes the template as JSON to
# OUT_DIR for the consistency test (tests/tests/infra.rs reads WARDEN_TEST_INFRA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/infra-check.sh OUT_DIR}
tools=tools/infra
if [ ! -x "$tools/.venv-sam/bin/sam" ]; then
  python3 -m venv "$tools/.venv-sam"
  "$tools/.venv-sam/bin/pip" install --quiet --disable-pip-version-check -r "$tools/sam.txt"
fi
if [ ! -x "$tools/.venv-checkov/bin/checkov" ]; then
  python3 -m venv "$tools/.venv-checkov"
  "$tools/.venv-checkov/bin/pip" install --quiet --disable-pip-version-check -r "$tools/checkov.txt"
fi
export SAM_CLI_TELEMETRY=0
template=infra/sam/template.yaml

echo "-- sam validate --lint"
"$tools/.venv-sam/bin/sam" validate --lint --region us-east-1 --template-file "$template"
echo "-- cfn-lint (translated)"
"$tools/.venv-sam/bin/python" infra/sam/translate.py "$template" "$out"
"$tools/.venv-sam/bin/cfn-lint" --regions us-east-1 -- "$out/translated.json"
echo "-- checkov (SAM and translated)"
for file in "$template" "$out/translated.json"; do
  "$tools/.venv-checkov/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f "$file"
done
