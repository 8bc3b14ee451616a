#!/usr/bin/env bash
# Checks both deployment stacks offline, as a reviewer would. SAM: `sam validate --lint`, cfn-lint on the template
# translated to plain CloudFormation, checkov. CDK: `npm ci`, the jest tests, `cdk synth` with cdk-nag's
# AwsSolutions checks (every acknowledged finding carries its reason), cfn-lint and checkov on the result. Installs
# its tools on first use (tools/infra/.venv-sam and .venv-checkov: separate, their pins conflict; infra/cdk's
# node_modules from its lock file). Writes plain-CloudFormation JSON of both stacks to OUT_DIR for the consistency
# test (tests/it/infra.rs reads WARDEN_TEST_INFRA_DIR).
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

mkdir -p "$out"

echo "-- SAM: sam validate --lint"
"$tools/.venv-sam/bin/sam" validate --lint --region us-east-1 --template-file "$template"
"$tools/.venv-sam/bin/python" infra/sam/translate.py "$template" "$out"
mv "$out/template.json" "$out/sam-template.json"
mv "$out/translated.json" "$out/sam-translated.json"

echo "-- CDK: npm ci, jest, cdk synth with cdk-nag (placeholder code: no Rust build)"
(
  cd infra/cdk
  export CDK_DISABLE_VERSION_CHECK=1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  npm ci --no-audit --no-fund --loglevel=error
  npx tsc
  npx jest --silent
  npx cdk synth --quiet --no-notices -c placeholderCode=true --output "$out/cdk.out"
)
cp "$out/cdk.out/Warden.template.json" "$out/cdk.json"

echo "-- cfn-lint and checkov on both (checkov skips carry their reasons)"
"$tools/.venv-sam/bin/cfn-lint" --regions us-east-1 -- "$out/sam-translated.json"
# W3005: CDK adds a DependsOn on each function's role next to the GetAtt that already orders them (harmless).
"$tools/.venv-sam/bin/cfn-lint" --regions us-east-1 --ignore-checks W3005 -- "$out/cdk.json"
for file in "$template" "$out/sam-translated.json" "$out/cdk.json"; do
  "$tools/.venv-checkov/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f "$file"
done
