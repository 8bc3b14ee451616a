"""Writes the SAM template as JSON twice, for the checks: as written (template.json: intrinsic short forms decoded)
and translated to plain CloudFormation by the SAM translator (translated.json), which cfn-lint and checkov read.

Usage: python translate.py TEMPLATE OUT_DIR   (with aws-sam-cli's Python, which bundles aws-sam-translator)
"""

import json
import sys
from pathlib import Path

import boto3
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


def main(template_path, out_dir):
    template = yaml_parse(Path(template_path).read_text())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "template.json").write_text(json.dumps(template, indent=2))
    # The translator wants code in S3; `sam build` uploads the real binaries. A placeholder keeps it offline.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://warden-artifacts/placeholder.zip"
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    policies = get_bundled_managed_policy_map("aws")
    # A region for the pseudo parameters; nothing is called.
    session = boto3.Session(region_name="us-east-1")
    translator = Translator(policies, Parser(), boto_session=session)
    translated = translator.translate(template, parameter_values={})
    (out / "translated.json").write_text(json.dumps(translated, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
