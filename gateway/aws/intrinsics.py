"""CloudFormation plumbing for sam.py: YAML short-form tags, SAM Globals, intrinsic functions, and the
small parsers for SAM CLI's inputs (parameter overrides, --env-vars) and for API CORS settings.

Resolution follows `sam local` (samcli/lib/intrinsic_resolver): `Ref` to a resource gives its logical
id, `Fn::GetAtt X.Arn` always gives a Lambda-style ARN, `Fn::ImportValue` cannot be resolved.
Whatever cannot be resolved raises `Unresolvable`; the caller decides whether that is fatal.
"""
from __future__ import annotations

import base64
import json
import os
import re
from typing import Any, Callable, Optional, Union

import yaml

from gateway.errors import LambdagateError, TemplateError
from gateway.types import ACCOUNT_ID, CorsConfig


# --- YAML -----------------------------------------------------------------------------------------

class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref x` into `{"Ref": "x"}`, `!Sub s` into `{"Fn::Sub": "s"}`, ...

    Timestamps stay strings (`AWSTemplateFormatVersion: 2010-09-09` is not a date to CloudFormation),
    and so do mapping keys (`TRUE:` or `123456789012:` are names, as in the JSON form of a template).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag in (
                    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                    "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"):
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep=deep)


def _short_form(loader: CfnYamlLoader, suffix: str, node: yaml.Node) -> dict:
    key = suffix if suffix in ("Ref", "Condition") else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)          # !GetAtt Res.Attr.Sub -> [Res, Attr.Sub]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CfnYamlLoader.add_multi_constructor("!", _short_form)
CfnYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load_yaml(path: str) -> Any:
    """Parse a YAML or JSON template; malformed input raises TemplateError naming the line."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise TemplateError("template file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read the template: {exc}", path=path) from None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                                path=path) from None
    try:
        return yaml.load(text, Loader=CfnYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise TemplateError(f"malformed YAML{where}: {problem}", path=path) from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"malformed YAML: {exc}", path=path) from None


# --- Globals (samtranslator/plugins/globals/globals.py) --------------------------------------------

GLOBALS_SUPPORTED: dict[str, tuple[str, ...]] = {
    "Function": (
        "Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description", "MemorySize", "Timeout",
        "VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn", "AutoPublishAlias",
        "AutoPublishAliasAllProperties", "Layers", "DeploymentPreference", "RolePath", "PermissionsBoundary",
        "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "AssumeRolePolicyDocument",
        "EventInvokeConfig", "FileSystemConfigs", "CodeSigningConfigArn", "Architectures", "SnapStart",
        "EphemeralStorage", "FunctionUrlConfig", "RuntimeManagementConfig", "LoggingConfig", "RecursiveLoop",
        "SourceKMSKeyArn"),
    "Api": (
        "Auth", "Name", "DefinitionUri", "CacheClusterEnabled", "CacheClusterSize", "MergeDefinitions",
        "Variables", "EndpointConfiguration", "MethodSettings", "BinaryMediaTypes", "MinimumCompressionSize",
        "Cors", "GatewayResponses", "AccessLogSetting", "CanarySetting", "TracingEnabled", "OpenApiVersion",
        "Domain", "AlwaysDeploy", "PropagateTags"),
    "HttpApi": (
        "Auth", "AccessLogSettings", "StageVariables", "Tags", "CorsConfiguration", "DefaultRouteSettings",
        "Domain", "RouteSettings", "FailOnWarnings", "PropagateTags"),
    "SimpleTable": ("SSESpecification",),
    "StateMachine": ("PropagateTags",),
    "LayerVersion": ("PublishLambdaVersion",),
}


def parse_globals(section: Any, path: str) -> dict[str, dict]:
    """Validate the Globals section as SAM does; returns {"Function": {...}, "Api": {...}, ...}."""
    if section is None:
        return {}
    if not isinstance(section, dict) or not section:
        raise TemplateError("'Globals' section is invalid. It must be a non-empty dictionary", path=path,
                            prop="Globals")
    for name, props in section.items():
        if name not in GLOBALS_SUPPORTED:
            raise TemplateError(f"'{name}' is not supported in Globals. Must be one of the following values - "
                                f"{sorted(GLOBALS_SUPPORTED)}", path=path, prop=f"Globals.{name}")
        if not isinstance(props, dict):
            raise TemplateError(f"Value of Globals.{name} must be a dictionary", path=path, prop=f"Globals.{name}")
        bad = [key for key in props if key not in GLOBALS_SUPPORTED[name]]
        if bad:
            raise TemplateError(f"{', '.join(repr(k) for k in bad)} not supported in Globals.{name}. Must be one "
                                f"of the following values - {list(GLOBALS_SUPPORTED[name])}", path=path,
                                prop=f"Globals.{name}.{bad[0]}")
    return section


def with_globals(global_props: Optional[dict], lid: str, resource: dict, fail: Callable[..., Exception]) -> dict:
    """The resource's Properties with its Globals section merged in, honouring IgnoreGlobals."""
    props = dict(resource.get("Properties") or {})
    global_props = dict(global_props or {})
    ignore = resource.get("IgnoreGlobals")
    if ignore == "*":
        global_props = {}
    elif isinstance(ignore, list):
        for key in ignore:
            if key not in global_props:
                raise fail(f"IgnoreGlobals names {key!r}, which is not in Globals", resource=lid,
                           prop="IgnoreGlobals")
            del global_props[key]
    elif ignore is not None:
        raise fail('IgnoreGlobals must be "*" or a list of property names', resource=lid, prop="IgnoreGlobals")
    return merge_globals(global_props, props) if global_props else props

def is_intrinsic(value: Any) -> bool:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return isinstance(key, str) and (key in ("Ref", "Condition") or key.startswith("Fn::"))
    return False


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's rule: maps merge (local wins), lists concatenate (globals first), anything else: local wins.

    An intrinsic function counts as a primitive. Returns new containers; inputs are not modified.
    """
    def kind(v: Any) -> str:
        if isinstance(v, dict) and not is_intrinsic(v):
            return "dict"
        return "list" if isinstance(v, list) else "primitive"

    if kind(global_value) != kind(local_value) or kind(local_value) == "primitive":
        return local_value
    if kind(local_value) == "list":
        return list(global_value) + list(local_value)
    merged = dict(global_value)
    for key, value in local_value.items():
        merged[key] = merge_globals(merged[key], value) if key in merged else value
    return merged


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


# --- command-line inputs (samcli/cli/types.py, samcli/local/lambdafn/env_vars.py) ------------------

_OVERRIDE_KEY = r"""([A-Za-z0-9"']+)"""
_OVERRIDE_VALUE = r"""("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)"""
_OVERRIDE_FORMS = (re.compile(rf"ParameterKey={_OVERRIDE_KEY},ParameterValue={_OVERRIDE_VALUE}"),
                   re.compile(rf" {_OVERRIDE_KEY}={_OVERRIDE_VALUE}"))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.replace("\\ ", " ").replace('\\"', '"').replace("\\'", "'")


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """`ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=2` or `A=1 B="two words"`.

    Same regular expressions as SAM CLI's CfnParameterOverridesType: the first form that matches is used.
    """
    if not text or not text.strip():
        return {}
    normalized = " " + text.strip()
    for pattern in _OVERRIDE_FORMS:
        pairs = pattern.findall(normalized)
        if pairs:
            return {_unquote(key): _unquote(value) for key, value in pairs}
    raise LambdagateError(
        f"parameter overrides {text!r} are not in a valid format. They must look like "
        "'ParameterKey=KeyPairName,ParameterValue=MyKey ParameterKey=InstanceType,ParameterValue=t1.micro' "
        "or 'KeyPairName=MyKey InstanceType=t1.micro'")


def load_env_vars(path: Union[str, os.PathLike]) -> dict:
    """Read SAM's `--env-vars` file: {"<LogicalId or FunctionName>": {...}, "Parameters": {...}}."""
    path = os.path.abspath(os.fspath(path))
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise LambdagateError(f"{path}: environment variables file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LambdagateError(f"{path}: cannot read the environment variables file: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LambdagateError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    example = '{"MyFunction": {"TABLE_NAME": "local-table"}, "Parameters": {"STAGE": "dev"}}'
    if not isinstance(data, dict):
        raise LambdagateError(f"{path}: environment variables file must be a JSON object like {example}")
    for key, value in data.items():
        if not isinstance(value, dict):
            raise LambdagateError(f"{path}: environment variables for {key!r} must be an object of variable "
                                  f"names to values, like {example}")
    return data


def env_string(value: Any) -> str:
    """SAM's EnvironmentVariables._stringify_value: containers and None become ""."""
    if value is None or isinstance(value, (dict, list, tuple)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- CORS (samcli/lib/providers/cfn_base_api_provider.py) -----------------------------------------

HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")   # sorted, as SAM lists them
Fail = Callable[[str, str], Exception]          # (message, property) -> the exception to raise


def cors_methods(methods: list, fail: Fail, prop: str) -> tuple[str, ...]:
    """normalize_cors_allow_methods: upper case, '*' is every method, OPTIONS always added."""
    names = [str(m).strip().upper() for m in methods if str(m).strip()]
    if not names or "*" in names:
        return HTTP_METHODS
    for name in names:
        if name not in HTTP_METHODS:
            raise fail(f"{name} is not a valid CORS method", prop)
    return tuple(sorted(set(names) | {"OPTIONS"}))


def _quoted(cors: dict, key: str, fail: Fail, warn: Callable[[str], None]) -> Optional[str]:
    value = cors.get(key)
    if value is None or value == "" or value is False:
        return None
    if (value is True and key == "AllowCredentials") or (type(value) is int and key == "MaxAge"):
        return str(value).lower()
    if not isinstance(value, str):
        warn(f"CORS property {key} was not fully resolved; it is left out")
        return None
    if len(value) < 2 or not (value.startswith("'") and value.endswith("'")):
        raise fail('must be a quoted string ("\'value\'" is correct, but "value" is not)', f"Cors.{key}")
    return value[1:-1]


def rest_cors(cors: Any, fail: Fail, warn: Callable[[str], None]) -> Optional[CorsConfig]:
    """`Cors` of AWS::Serverless::Api: "'origin'" or {AllowOrigin, AllowMethods, ...} (quoted values)."""
    if cors is None or cors is False or cors == "" or cors == {}:
        return None
    if isinstance(cors, str):
        origin = _quoted({"AllowOrigin": cors}, "AllowOrigin", fail, warn)
        # no AllowMethods: the OPTIONS method SAM deploys allows the resource's own methods
        return CorsConfig(allow_origins=(origin or "",), allow_methods=())
    if not isinstance(cors, dict):
        raise fail("must be a quoted origin (\"'*'\") or a mapping", "Cors")
    unknown = set(cors) - {"AllowOrigin", "AllowMethods", "AllowHeaders", "AllowCredentials", "MaxAge"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}", "Cors")
    origin, methods, headers, credentials, max_age = (
        _quoted(cors, key, fail, warn) for key in ("AllowOrigin", "AllowMethods", "AllowHeaders",
                                                   "AllowCredentials", "MaxAge"))
    if origin is None:
        raise fail("AllowOrigin is required", "Cors.AllowOrigin")
    if max_age is not None and not max_age.strip().isdigit():
        raise fail(f"must be a number of seconds, not {max_age!r}", "Cors.MaxAge")
    allow_credentials = (credentials or "").lower() == "true"
    if allow_credentials and origin == "*":
        raise fail("AllowCredentials can not be true when AllowOrigin is \"'*'\"", "Cors.AllowCredentials")
    allow_methods = () if methods is None else cors_methods(methods.split(","), fail, "Cors.AllowMethods")
    return CorsConfig(allow_origins=(origin,), allow_methods=allow_methods,
                      allow_headers=tuple(h.strip() for h in (headers or "").split(",") if h.strip()),
                      allow_credentials=allow_credentials, max_age_s=int(max_age) if max_age else None)


def http_cors(cors: Any, fail: Fail) -> Optional[CorsConfig]:
    """`CorsConfiguration` of AWS::Serverless::HttpApi: true (origin '*', every method) or a mapping."""
    prop = "CorsConfiguration"
    if cors is None or cors is False or cors == {}:
        return None
    if cors is True:
        return CorsConfig(allow_origins=("*",), allow_methods=HTTP_METHODS)
    if not isinstance(cors, dict):
        raise fail("must be true or a mapping", prop)
    keys = ("AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders")
    unknown = set(cors) - set(keys) - {"AllowCredentials", "MaxAge"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}", prop)
    lists = {key: cors.get(key) or [] for key in keys}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("must be a list of strings", f"{prop}.{key}")
    credentials, max_age = cors.get("AllowCredentials", False), cors.get("MaxAge")
    if not isinstance(credentials, bool):
        raise fail("must be true or false", f"{prop}.AllowCredentials")
    if credentials and "*" in lists["AllowOrigins"]:
        raise fail("AllowCredentials can not be true when AllowOrigins contains '*'", f"{prop}.AllowCredentials")
    if max_age is not None and (isinstance(max_age, bool) or not str(max_age).strip().isdigit()):
        raise fail(f"must be a whole number of seconds, not {max_age!r}", f"{prop}.MaxAge")
    return CorsConfig(allow_origins=tuple(lists["AllowOrigins"]),
                      allow_methods=cors_methods(lists["AllowMethods"], fail, f"{prop}.AllowMethods"),
                      allow_headers=tuple(lists["AllowHeaders"]), expose_headers=tuple(lists["ExposeHeaders"]),
                      allow_credentials=credentials, max_age_s=None if max_age is None else int(str(max_age)))
