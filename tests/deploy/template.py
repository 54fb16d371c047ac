"""deploy/stratus.yaml read as the data CloudFormation sees, for the tests of tests/deploy;
its conditions decided for given parameters (`decided`, `resolved`).

The short forms of the intrinsic functions (`!Ref`, `!Sub` ...) become their long forms
(`{"Ref": ...}`, `{"Fn::Sub": ...}`), as CloudFormation reads them: `!GetAtt A.B.C` is
resource `A`, attribute `B.C`.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "stratus.yaml"

#: `${Name}` or `${Name.Attribute}` in a Fn::Sub string (`${!Literal}` is not one).
SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, plus CloudFormation's short-form tags."""


def _intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


def load(path=TEMPLATE):
    """The template as a dict of plain values and long-form intrinsic functions."""
    with open(path, encoding="utf-8") as text:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def resources(template, kind):
    """{logical id: resource} of the template's resources of one type."""
    return {name: resource for name, resource in template["Resources"].items()
            if resource["Type"] == kind}


def references(value):
    """Every logical id or parameter that `value` names through Ref, Fn::GetAtt or Fn::Sub."""
    found = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            local = set() if isinstance(value["Fn::Sub"], str) else set(value["Fn::Sub"][1])
            found |= {match.group(1) for match in SUB_NAME.finditer(text)} - local
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def decided(template, parameters):
    """{condition name: bool} for `parameters` ({name: value}; others take their Default)."""
    values = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    values.update(parameters)
    conditions = template.get("Conditions", {})
    done = {}

    def evaluate(expression):
        if not isinstance(expression, dict):
            return expression
        [(function, argument)] = expression.items()
        if function == "Ref":
            return values[argument]
        if function == "Condition":
            return condition(argument)
        if function == "Fn::Equals":
            left, right = (evaluate(part) for part in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(evaluate(part) for part in argument)
        raise ValueError(f"cannot decide {function} in a condition")

    def condition(name):
        if name not in done:
            done[name] = bool(evaluate(conditions[name]))
        return done[name]

    return {name: condition(name) for name in conditions}


def resolved(value, conditions):
    """`value` with every `Fn::If` replaced by its chosen branch (and AWS::NoValue dropped)."""
    if isinstance(value, list):
        items = [resolved(item, conditions) for item in value]
        return [item for item in items if item is not _NO_VALUE]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return resolved(when_true if conditions[name] else when_false, conditions)
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        items = {key: resolved(item, conditions) for key, item in value.items()}
        return {key: item for key, item in items.items() if item is not _NO_VALUE}
    return value


_NO_VALUE = object()
