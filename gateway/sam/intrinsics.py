"""CloudFormation intrinsic functions, parameters and pseudo parameters, for sam.py.

Resolution follows `sam local` (samcli/lib/intrinsic_resolver): `Ref` to a resource gives its logical
id, `Fn::GetAtt X.Arn` always gives a Lambda-style ARN, `Fn::ImportValue` cannot be resolved.
Whatever cannot be resolved raises `Unresolvable`; the caller decides whether that is fatal.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable, Optional

from gateway.sam.template_io import is_intrinsic
from gateway.types import ACCOUNT_ID


# --- Intrinsics ------------------------------------------------------------------------------------

class Unresolvable(Exception):
    """A value that cannot be worked out locally (ImportValue, unknown attribute, bad arguments...)."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_AZ_LETTERS = {"us-east-1": "abcdef", "us-west-1": "bc", "us-west-2": "abcd", "ap-northeast-1": "acd",
               "sa-east-1": "ac", "ca-central-1": "ab", "ap-northeast-3": "a"}
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def pseudo_parameters(region: str) -> dict[str, Any]:
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": partition_for(region),
        "AWS::StackName": "local",
        "AWS::StackId": f"arn:{partition_for(region)}:cloudformation:{region}:{ACCOUNT_ID}:stack/local/"
                        "51af3dc0-da77-11e4-872e-1234567db123",
        "AWS::URLSuffix": "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def template_parameters(section: Any, overrides: dict, region: str, fail: Callable[..., Exception],
                        warn: Callable[[str], None]) -> dict[str, Any]:
    """Pseudo parameters plus each template parameter's value: the override, else its Default."""
    if not isinstance(section or {}, dict):
        raise fail("Parameters must be a mapping", prop="Parameters")
    section = section or {}
    values = pseudo_parameters(region)
    for name, value in overrides.items():
        if name in values and name != "AWS::NoValue":
            values[name] = value
        elif name not in section:
            warn(f"parameter override {name} matches no parameter of the template; it is ignored")
    for name, decl in section.items():
        where = f"Parameters.{name}"
        if not isinstance(decl, dict):
            raise fail("a parameter must be a mapping with at least a Type", prop=where)
        if name in overrides:
            value = overrides[name]
        elif "Default" in decl:
            value = decl["Default"]
        else:
            raise fail(f"parameter {name} has no Default and no value was given; pass one with parameter "
                       f"overrides ({name}=value)", prop=where)
        ptype = str(decl.get("Type", "String"))
        if (ptype == "CommaDelimitedList" or ptype.startswith("List<")) and not isinstance(value, list):
            value = [part.strip() for part in str(value).split(",")]
        allowed = decl.get("AllowedValues")
        if isinstance(allowed, list) and not isinstance(value, list) and str(value) not in map(str, allowed):
            warn(f"parameter {name} is {value!r}, which is not one of its AllowedValues {allowed}")
        values[name] = value
    return values

def scalar_str(value: Any, what: str) -> str:
    """CloudFormation's string form of a scalar: booleans lower case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Unresolvable(f"{what} does not resolve to a string")


class Resolver:
    """Resolves intrinsic functions against one template's parameters, mappings and conditions."""

    def __init__(self, template: dict, parameters: dict[str, Any], region: str):
        self.resources: dict = template.get("Resources") or {}
        self.mappings: dict = template.get("Mappings") or {}
        self.conditions: dict = template.get("Conditions") or {}
        self.parameters = parameters            # template parameters + pseudo parameters
        self.region = region
        self.partition = partition_for(region)
        self.removed: set[str] = set()          # resources left out because their Condition is false
        self.implicit: set[str] = set()         # ServerlessRestApi / ServerlessHttpApi when created
        self._cond_cache: dict[str, bool] = {}
        self._busy: set[str] = set()            # cycle guard for conditions and FunctionName lookups
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref, "Fn::GetAtt": self._getatt, "Fn::Sub": self._sub, "Fn::Join": self._join,
            "Fn::Split": self._split, "Fn::Select": self._select, "Fn::Base64": self._base64,
            "Fn::FindInMap": self._find_in_map, "Fn::GetAZs": self._get_azs, "Fn::If": self._if,
            "Fn::Equals": self._equals, "Fn::And": self._and, "Fn::Or": self._or, "Fn::Not": self._not,
            "Fn::ImportValue": self._import_value, "Fn::Length": self._length,
            "Fn::ToJsonString": lambda arg: json.dumps(self.resolve(arg), separators=(",", ":")),
        }

    # public API
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value`; AWS::NoValue entries disappear from maps and lists."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if isinstance(value, dict):
            if is_intrinsic(value) and "Condition" not in value:
                key, arg = next(iter(value.items()))
                handler = self._functions.get(key)
                if handler is None:
                    raise Unresolvable(f"{key} is not supported locally")
                return handler(arg)
            out = {}
            for key, val in value.items():
                resolved = self.resolve(val)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        return value

    def condition(self, name: Any) -> bool:
        if not isinstance(name, str):
            raise Unresolvable("a condition name must be a string")
        if name in self._cond_cache:
            return self._cond_cache[name]
        if name not in self.conditions:
            raise Unresolvable(f"condition {name} is not defined in Conditions")
        if "Condition:" + name in self._busy:
            raise Unresolvable(f"condition {name} refers to itself")
        self._busy.add("Condition:" + name)
        try:
            result = self._cond_value(self.conditions[name], f"condition {name}")
        finally:
            self._busy.discard("Condition:" + name)
        self._cond_cache[name] = result
        return result

    def lambda_arn(self, logical_id: str) -> str:
        return (f"arn:{self.partition}:lambda:{self.region}:{ACCOUNT_ID}:function:"
                f"{self._name_property(logical_id, 'FunctionName')}")

    def resource_arn(self, logical_id: str) -> Optional[str]:
        """A service-correct ARN for a destination resource of this template, or None."""
        rtype = (self.resources.get(logical_id) or {}).get("Type")
        head = f"arn:{self.partition}:%s:{self.region}:{ACCOUNT_ID}:"
        if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self.lambda_arn(logical_id)
        if rtype == "AWS::SQS::Queue":
            return head % "sqs" + self._name_property(logical_id, "QueueName")
        if rtype == "AWS::SNS::Topic":
            return head % "sns" + self._name_property(logical_id, "TopicName")
        if rtype == "AWS::Events::EventBus":
            return head % "events" + "event-bus/" + self._name_property(logical_id, "Name")
        if rtype == "AWS::S3::Bucket":
            return f"arn:{self.partition}:s3:::" + self._name_property(logical_id, "BucketName")
        return None

    def destination_arn(self, raw: Any) -> Any:
        """`Destination: !GetAtt Queue.Arn` / `!Ref Topic` -> that resource's ARN; else plain resolution."""
        target = None
        if isinstance(raw, dict) and len(raw) == 1:
            if isinstance(raw.get("Ref"), str):
                target = raw["Ref"]
            getatt = raw.get("Fn::GetAtt")
            if isinstance(getatt, str):
                getatt = getatt.split(".", 1)
            if isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == "Arn" and isinstance(getatt[0], str):
                target = getatt[0]
        if target and target in self.resources and target not in self.removed:
            arn = self.resource_arn(target)
            if arn:
                return arn
        return self.resolve(raw)

    # helpers
    def _name_property(self, logical_id: str, prop: str) -> str:
        value = ((self.resources.get(logical_id) or {}).get("Properties") or {}).get(prop)
        if value is None or logical_id in self._busy:
            return logical_id
        self._busy.add(logical_id)
        try:
            value = self.resolve(value)
        except Unresolvable:
            value = None
        finally:
            self._busy.discard(logical_id)
        return value if isinstance(value, str) and value else logical_id

    def _args(self, fn: str, arg: Any, counts: tuple[int, ...]) -> list:
        if not isinstance(arg, list) or len(arg) not in counts:
            raise Unresolvable(f"{fn} takes a list of {' or '.join(map(str, counts))} values")
        return arg

    def _cond_value(self, value: Any, what: str) -> bool:
        if isinstance(value, dict) and len(value) == 1 and "Condition" in value:
            return self.condition(value["Condition"])
        result = self.resolve(value)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise Unresolvable(f"{what} does not evaluate to true or false")

    # intrinsic functions
    def _ref(self, arg: Any) -> Any:
        name = self.resolve(arg)
        if not isinstance(name, str):
            raise Unresolvable("Ref takes a logical id or parameter name")
        if name in self.parameters:
            return self.parameters[name]
        if name in self.removed:
            raise Unresolvable(f"Ref {name}: that resource is left out because its Condition is false")
        if name in self.resources or name in self.implicit:
            return name
        raise Unresolvable(f"Ref {name}: no parameter or resource has that name")

    def _getatt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        resource, attribute = (self.resolve(a) for a in self._args("Fn::GetAtt", arg, (2,)))
        if not isinstance(resource, str) or not isinstance(attribute, str):
            raise Unresolvable("Fn::GetAtt takes [LogicalId, Attribute]")
        if resource in self.removed:
            raise Unresolvable(f"Fn::GetAtt {resource}.{attribute}: the resource is left out (Condition false)")
        if attribute == "Arn":
            return self.lambda_arn(resource)          # sam local's quirk, whatever the resource type
        if attribute == "RootResourceId":
            return "/"
        raise Unresolvable(f"Fn::GetAtt {resource}.{attribute} cannot be resolved locally")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = self.resolve(arg[0]), arg[1]
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise Unresolvable("Fn::Sub takes a string or [string, {variables}]")

        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"          # ${!Literal} -> ${Literal}
            name = inner.strip()
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name and not name.startswith("AWS::"):
                value = self._getatt(name.split(".", 1))
            else:
                value = self._ref(name)
            return scalar_str(value, "${" + name + "}")

        return _SUB_VAR.sub(replace, text)

    def _join(self, arg: Any) -> str:
        delimiter, values = self._args("Fn::Join", arg, (2,))
        delimiter, values = self.resolve(delimiter), self.resolve(values)
        if not isinstance(delimiter, str) or not isinstance(values, list):
            raise Unresolvable("Fn::Join takes [delimiter, [values]]")
        return delimiter.join(scalar_str(v, "an Fn::Join item") for v in values)

    def _split(self, arg: Any) -> list:
        delimiter, source = (self.resolve(a) for a in self._args("Fn::Split", arg, (2,)))
        if not isinstance(delimiter, str) or not delimiter or not isinstance(source, str):
            raise Unresolvable("Fn::Split takes [delimiter, string]")
        return source.split(delimiter)

    def _select(self, arg: Any) -> Any:
        index, values = (self.resolve(a) for a in self._args("Fn::Select", arg, (2,)))
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise Unresolvable("Fn::Select index must be a number") from None
        if not isinstance(values, list) or not 0 <= index < len(values):
            raise Unresolvable(f"Fn::Select index {index} is out of range")
        return values[index]

    def _base64(self, arg: Any) -> str:
        return base64.b64encode(scalar_str(self.resolve(arg), "Fn::Base64's value").encode()).decode()

    def _find_in_map(self, arg: Any) -> Any:
        args = self._args("Fn::FindInMap", arg, (3, 4))
        keys = [scalar_str(self.resolve(a), "an Fn::FindInMap key") for a in args[:3]]
        node: Any = self.mappings
        for key in keys:
            found = [v for k, v in node.items() if str(k) == key] if isinstance(node, dict) else []
            if not found:
                if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                    return self.resolve(args[3]["DefaultValue"])
                raise Unresolvable(f"Fn::FindInMap: {'/'.join(keys)} is not in Mappings")
            node = found[0]
        return self.resolve(node)

    def _get_azs(self, arg: Any) -> list:
        region = scalar_str(self.resolve(arg), "Fn::GetAZs' region") or self.region
        return [region + letter for letter in _AZ_LETTERS.get(region, "abc")]

    def _if(self, arg: Any) -> Any:
        name, if_true, if_false = self._args("Fn::If", arg, (3,))
        return self.resolve(if_true if self.condition(self.resolve(name)) else if_false)

    def _equals(self, arg: Any) -> bool:
        left, right = (self.resolve(a) for a in self._args("Fn::Equals", arg, (2,)))
        norm = [scalar_str(v, "") if isinstance(v, (str, int, float, bool)) else v for v in (left, right)]
        return norm[0] == norm[1]

    def _and(self, arg: Any) -> bool:
        return all([self._cond_value(c, "Fn::And") for c in self._args("Fn::And", arg, tuple(range(2, 11)))])

    def _or(self, arg: Any) -> bool:
        return any([self._cond_value(c, "Fn::Or") for c in self._args("Fn::Or", arg, tuple(range(2, 11)))])

    def _not(self, arg: Any) -> bool:
        return not self._cond_value(self._args("Fn::Not", arg, (1,))[0], "Fn::Not")

    def _length(self, arg: Any) -> int:
        value = self.resolve(arg)
        if not isinstance(value, list):
            raise Unresolvable("Fn::Length takes a list")
        return len(value)

    def _import_value(self, arg: Any) -> Any:
        raise Unresolvable("Fn::ImportValue reads another stack's exports, which do not exist locally")
