"""Reading what SAM users hand over: the template's YAML (CloudFormation short-form tags),
its Globals, `--parameter-overrides` text and the `--env-vars` file."""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from typing import Any, Callable, Optional, Union

import yaml

from gateway.config import cache_dir
from gateway.errors import LambdagateError, TemplateError
from gateway.types import MAX_EPHEMERAL_STORAGE_MB, MIN_EPHEMERAL_STORAGE_MB

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


# Where `sam local` looks without -t: the output of `sam build` first, then the source template.
BUILT_TEMPLATE = os.path.join(".aws-sam", "build", "template.yaml")
TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


def discover_template(directory: str = ".") -> str:
    """The template `sam local` would load from `directory` without -t."""
    for name in (BUILT_TEMPLATE, *TEMPLATE_NAMES):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise TemplateError(f"no template in {os.path.abspath(directory)}: looked for {', '.join(TEMPLATE_NAMES)} "
                        f"and {BUILT_TEMPLATE} (sam build's output); name one with -t")


def inline_code_dir(source: str, runtime: str) -> str:
    """A function's inline code (SAM's InlineCode, CloudFormation's Code.ZipFile) where it can run:
    as Lambda stores it, a file named index (index.py, index.js) alone in a directory, here one per
    content under lambdagate's cache, written once (temp file + rename: safe when racing)."""
    name = "index.py" if runtime.startswith("python") else "index.js"
    digest = hashlib.sha256(f"{name}\0{source}".encode()).hexdigest()[:32]
    directory = os.path.join(cache_dir(), "inline", digest)
    if not os.path.isfile(os.path.join(directory, name)):
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(directory, name))
    return directory


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


# --- function properties --------------------------------------------------------------------------

def ephemeral_storage_mb(value: Any, lid: str, fail: Callable[..., Exception], number: Callable[..., Any]) -> int:
    """A function's resolved `EphemeralStorage: {Size: N}` (Lambda's /tmp, in MB); 512 when it has none.

    `number` is the loader's range check (the one MemorySize and Timeout use), so a Size outside
    512-10240 is reported the same way: naming the resource, EphemeralStorage.Size and the range.
    """
    if value is None:
        return MIN_EPHEMERAL_STORAGE_MB
    if not isinstance(value, dict) or value.get("Size") is None:
        raise fail(f"must be a mapping with Size, the size of /tmp in MB (e.g. {{Size: 1024}}), not {value!r}",
                   resource=lid, prop="EphemeralStorage")
    return number(value["Size"], lid, "EphemeralStorage.Size", MIN_EPHEMERAL_STORAGE_MB, MAX_EPHEMERAL_STORAGE_MB,
                  MIN_EPHEMERAL_STORAGE_MB)


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
