#!/usr/bin/env python3
"""Transforms template.yaml with the SAM translator bundled with cfn-lint and
checks what the transformed CloudFormation template holds.

cfn-lint already runs the transform (a failure is its error E0001); this
script also checks the result: one AWS::Lambda::Function with the reserved
concurrency the design needs (docs/deploy.md, "Instances and the KMS rate
limit"), the runtime and handler of the custom runtime, and an EventBridge
Scheduler schedule that sends the manual payload of a sweep; the function's
role holds AWS's basic execution policy and, only under the condition that
the function invokes itself (Targets set or MaxChain above 0),
lambda:InvokeFunction on the function's own unqualified ARN, nothing else;
and its asynchronous invocations retry once and wait up to 6 hours
(docs/deploy.md, "Several targets, and sweeps that continue themselves");
the function's outputs (notifications, metrics, stored reports) set their
variables only under their conditions and add nothing to the role, and the
outputs HuaweiIamPolicy and HuaweiIamObsPolicy hold the Huawei IAM policies
(docs/deploy.md, "Outputs: notifications, metrics, stored reports").

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

    problems += check_self_invocation(out, functions)
    problems += check_outputs(out, functions)
    problems += check_output_patterns(template)

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


BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
OWN_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}"


def check_self_invocation(out, functions):
    """The function's role may invoke the function itself, and nothing else,
    only when it does; its asynchronous invocations retry once."""
    problems = []
    resources = out.get("Resources", {})
    conditions = out.get("Conditions", {})
    if len(functions) != 1:
        return problems
    name, props = functions[0]

    # A fixed name, the one the role's policy names (no circular reference).
    if props.get("FunctionName") != {"Ref": "AWS::StackName"}:
        problems.append(f"{name}: FunctionName is {props.get('FunctionName')!r}, want Ref AWS::StackName (the ARN the role names)")

    env = props.get("Environment", {}).get("Variables", {})
    for var, param in (("TAGWARDEN_TARGETS", "Targets"), ("TAGWARDEN_TARGET_REGIONS", "TargetRegions"),
                       ("TAGWARDEN_TARGET_PROJECTS", "TargetProjects"), ("TAGWARDEN_MAX_CHAIN", "MaxChain")):
        if env.get(var) != {"Ref": param}:
            problems.append(f"{name}: {var} is {env.get(var)!r}, want Ref {param}")

    # The condition: Targets set, or MaxChain not 0.
    want_conditions = {
        "HasTargets": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Targets"}, ""]}]},
        "ChainsItself": {"Fn::Not": [{"Fn::Equals": [{"Ref": "MaxChain"}, "0"]}]},
        "InvokesItself": {"Fn::Or": [{"Condition": "HasTargets"}, {"Condition": "ChainsItself"}]},
    }
    for cond, want in want_conditions.items():
        if conditions.get(cond) != want:
            problems.append(f"condition {cond} is {conditions.get(cond)!r}, want {want!r}")

    # The role: basic execution, and the conditional self-invocation only.
    role_ref = props.get("Role", {})
    role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
    role = resources.get(role_id, {}).get("Properties", {}) if role_id else {}
    if not role:
        problems.append(f"{name}: Role {role_ref!r} is not a role of this template")
        return problems
    if role.get("ManagedPolicyArns") != [BASIC_EXECUTION]:
        problems.append(f"{role_id}: ManagedPolicyArns {role.get('ManagedPolicyArns')!r}, want only {BASIC_EXECUTION}")
    policies = role.get("Policies", [])
    ok = False
    if len(policies) == 1 and isinstance(policies[0], dict) and list(policies[0]) == ["Fn::If"]:
        cond, then, otherwise = policies[0]["Fn::If"]
        statements = then.get("PolicyDocument", {}).get("Statement", []) if isinstance(then, dict) else []
        ok = (cond == "InvokesItself" and otherwise == {"Ref": "AWS::NoValue"} and len(statements) == 1 and
              statements[0].get("Effect") == "Allow" and
              statements[0].get("Action") in ("lambda:InvokeFunction", ["lambda:InvokeFunction"]) and
              statements[0].get("Resource") in ({"Fn::Sub": OWN_ARN}, [{"Fn::Sub": OWN_ARN}]) and
              not {"NotAction", "NotResource", "Condition"} & set(statements[0]))
    if not ok:
        problems.append(f"{role_id}: Policies {policies!r}, want one Fn::If on InvokesItself allowing only "
                        f"lambda:InvokeFunction on {OWN_ARN}, else AWS::NoValue")

    # Asynchronous invocations: one retry, the longest age.
    configs = [(n, r.get("Properties", {})) for n, r in resources.items() if r.get("Type") == "AWS::Lambda::EventInvokeConfig"]
    if len(configs) != 1:
        problems.append(f"{len(configs)} AWS::Lambda::EventInvokeConfig, want 1")
    for cname, c in configs:
        if c.get("FunctionName") != {"Ref": name} or c.get("MaximumRetryAttempts") != 1 or c.get("MaximumEventAgeInSeconds") != 21600:
            problems.append(f"{cname}: {c!r}, want the function's, MaximumRetryAttempts 1, MaximumEventAgeInSeconds 21600")
    return problems


# The outputs' variables, each set only under its condition.
OUTPUT_VARS = {
    "TAGWARDEN_SMN_TOPIC": ("HasSmnTopic", {"Ref": "SmnTopicUrn"}),
    "TAGWARDEN_NOTIFY_CHANGES": ("HasSmnTopic", {"Ref": "NotifyChanges"}),
    "TAGWARDEN_NOTIFY_REPEAT": ("HasSmnTopic", {"Ref": "NotifyRepeat"}),
    "TAGWARDEN_METRICS": ("HasMetrics", "true"),
    "TAGWARDEN_METRICS_NAMESPACE": ("HasMetrics", {"Ref": "MetricsNamespace"}),
    "TAGWARDEN_REPORT_BUCKET": ("HasReportBucket", {"Ref": "ReportBucket"}),
    "TAGWARDEN_REPORT_PREFIX": ("HasReportBucket", {"Ref": "ReportPrefix"}),
}
OUTPUT_CONDITIONS = {
    "HasSmnTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SmnTopicUrn"}, ""]}]},
    "HasMetrics": {"Fn::Equals": [{"Ref": "Metrics"}, "true"]},
    "HasReportBucket": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReportBucket"}, ""]}]},
}


def check_outputs(out, functions):
    """The outputs' variables are set only under their conditions; the
    Huawei IAM policies are template outputs (the AWS role gains nothing:
    check_self_invocation checks it holds only its own statement)."""
    problems = []
    if len(functions) != 1:
        return problems
    name, props = functions[0]
    conditions = out.get("Conditions", {})
    for cond, want in OUTPUT_CONDITIONS.items():
        if conditions.get(cond) != want:
            problems.append(f"condition {cond} is {conditions.get(cond)!r}, want {want!r}")
    env = props.get("Environment", {}).get("Variables", {})
    for var, (cond, value) in OUTPUT_VARS.items():
        want = {"Fn::If": [cond, value, {"Ref": "AWS::NoValue"}]}
        if env.get(var) != want:
            problems.append(f"{name}: {var} is {env.get(var)!r}, want {want!r}")
    outputs = out.get("Outputs", {})
    if "Condition" in outputs.get("HuaweiIamPolicy", {"Condition": None}):
        problems.append("output HuaweiIamPolicy: missing, or under a condition (the KMS actions are always needed)")
    if outputs.get("HuaweiIamObsPolicy", {}).get("Condition") != "HasReportBucket":
        problems.append("output HuaweiIamObsPolicy: want it under the condition HasReportBucket only")
    return problems


# Values the outputs' parameters must accept (True) or refuse (False): the
# rules of the function (cmd/internal/config, adapters/outputs), which
# deploy/functiongraph's validations follow too. CloudFormation's patterns
# are Java's; these use only what Python's re reads the same way.
PATTERN_CASES = {
    "SmnTopicUrn": {"": True, "urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:tagwarden": True,
                    "urn:smn:ap-southeast-1:p:tagwarden:0123abcd": False, "urn:smn:ap-southeast-1::t": False},
    "NotifyRepeat": {"168h": True, "1h30m": True, "1.5h": True, "7d": False, "0h": False, "": False},
    "MetricsNamespace": {"TagWarden.KMS": True, "a.b": True, "Sys.KMS": False, "agtx.a": False, "SRE.x": False,
                         "service.bms": False, "TagWarden": False, "a" * 20 + "." + "b" * 12: False, "T-W.KMS": False},
    "ReportBucket": {"": True, "abc": True, "tagwarden-reports": True, "a.b.c": True, "ab": False, "a" * 64: False,
                     "192.168.1.1": False, "my-.bucket": False, "my..bucket": False, "Tagwarden": False,
                     "-abc": False, "abc-": False},
    "ReportPrefix": {"tagwarden/": True, "kms/reports/": True, "a..b/": True, "": False, "/x/": False,
                     "x/*": False, "a//b/": False, "a/./b": False, "../x": False, "x/..": False},
}


def check_output_patterns(template):
    """The outputs' parameters accept what the function accepts, refuse
    what it refuses (as far as a pattern can say), and their defaults."""
    import re
    problems = []
    params = template.get("Parameters", {})
    for name, cases in PATTERN_CASES.items():
        p = params.get(name, {})
        pattern = p.get("AllowedPattern")
        if pattern is None:
            problems.append(f"parameter {name}: no AllowedPattern")
            continue
        cases = dict(cases)
        cases[str(p.get("Default", ""))] = True
        for value, want in cases.items():
            got = re.fullmatch(pattern, value) is not None and len(value) <= p.get("MaxLength", len(value))
            if got != want:
                problems.append(f"parameter {name}: {value!r} {'accepted' if got else 'refused'}, want it {'accepted' if want else 'refused'}")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: sam_transform_check.py TEMPLATE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
