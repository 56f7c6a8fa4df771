#!/usr/bin/env python3
"""Transforms template.yaml with the SAM translator bundled with cfn-lint and
checks what the transformed CloudFormation template holds.

cfn-lint already runs the transform (a failure is its error E0001); this
script also checks the result: one AWS::Lambda::Function with the reserved
concurrency the design needs (docs/deploy.md, "Instances and the KMS rate
limit"), the runtime and handler of the custom runtime, and an EventBridge
Scheduler schedule that sends the manual payload of a sweep.

Usage: sam_transform_check.py TEMPLATE. Exit status 0 when every check holds,
1 otherwise, 3 when cfn-lint (with its SAM translator) is not installed.
"""

import json
import sys


def main(path):
    try:
        import samtranslator
        from cfnlint.decode import decode
        from cfnlint.template.transforms._sam import Transform
    except ImportError as e:  # the caller reports the skip
        print(f"skip: cfn-lint and its SAM translator are not installed ({e})")
        return 3

    template, matches = decode(path)
    if matches:
        for m in matches:
            print(f"{path}: {m}")
        return 1
    transform = Transform(path, template, "us-east-1")
    errors = transform.transform_template()
    if errors:
        for m in errors:
            print(f"{path}: {m}")
        return 1
    out = transform.template()

    problems = []
    resources = out.get("Resources", {})
    by_type = {}
    for name, res in resources.items():
        by_type.setdefault(res.get("Type"), []).append((name, res.get("Properties", {})))

    functions = by_type.get("AWS::Lambda::Function", [])
    if len(functions) != 1:
        problems.append(f"{len(functions)} AWS::Lambda::Function, want 1")
    for name, props in functions:
        if props.get("ReservedConcurrentExecutions") != {"Ref": "MaxInstances"}:
            problems.append(f"{name}: ReservedConcurrentExecutions is {props.get('ReservedConcurrentExecutions')!r}, want Ref MaxInstances")
        if props.get("Runtime") != "provided.al2023" or props.get("Handler") != "bootstrap":
            problems.append(f"{name}: runtime {props.get('Runtime')!r} handler {props.get('Handler')!r}, want provided.al2023 and bootstrap")

    schedules = by_type.get("AWS::Scheduler::Schedule", [])
    if not schedules:
        problems.append("no AWS::Scheduler::Schedule: the sweep has no schedule")
    for name, props in schedules:
        raw = props.get("Target", {}).get("Input")
        try:
            payload = json.loads(raw)
        except (TypeError, ValueError):
            payload = None
        if not isinstance(payload, dict) or payload.get("action") != "sweep":
            problems.append(f"{name}: Target.Input {raw!r} is not the manual payload of a sweep")

    for p in problems:
        print(f"{path}: {p}")
    if problems:
        return 1
    kinds = ", ".join(f"{k} x{len(v)}" for k, v in sorted(by_type.items()))
    print(f"{path}: SAM transform (samtranslator {samtranslator.__version__}) gives {kinds}: checks hold")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: sam_transform_check.py TEMPLATE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
