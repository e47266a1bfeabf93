"""Load a SAM template into FunctionSpec / ApiSpec / RouteSpec values, the way `sam local` reads it.

See aws-contract.md §8. Globals are merged first (SAM's plugin order), then parameters, conditions and
intrinsics are resolved (gateway.sam.intrinsics), then every property lambdagate uses is validated;
a bad value raises TemplateError naming the file, the resource and the property.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from gateway.config import Config
from gateway.errors import TemplateError
from gateway.sam.api_declarations import (IMPLICIT_HTTP_API, IMPLICIT_REST_API, SERVERLESS_API,
                                          SERVERLESS_HTTP_API, ApiDeclarations)
from gateway.sam.cfn_apis import CfnApis
from gateway.sam.intrinsics import NO_VALUE, Resolver, Unresolvable, template_parameters
from gateway.sam.openapi import OpenApiDefinitions
from gateway.sam.template_io import (discover_template, env_string, ephemeral_storage_mb, inline_code_dir,
                                     is_intrinsic, load_env_vars, load_yaml, parse_globals, parse_parameter_overrides,
                                     with_globals)
from gateway.types import (ACCOUNT_ID, MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB, MIN_TIMEOUT_S, ApiKeySpec,
                           ApiSpec, DestinationSpec, EventInvokeConfig, FunctionSpec, RouteSpec, UsagePlanSpec)

log = logging.getLogger("lambdagate")

__all__ = ["Template", "load_template", "parse_parameter_overrides", "load_env_vars"]

RUNTIMES = frozenset(
    [f"python3.{minor}" for minor in range(8, 15)]
    + [f"nodejs{major}.x" for major in (16, 18, 20, 22, 24)]
    + ["java8.al2", "java11", "java17", "java21", "java25", "provided", "provided.al2", "provided.al2023",
       "ruby3.2", "ruby3.3", "ruby3.4", "dotnet6", "dotnet8"])
SERVERLESS_FUNCTION, LAMBDA_FUNCTION = "AWS::Serverless::Function", "AWS::Lambda::Function"
DESTINATION_TYPES = ("SQS", "SNS", "Lambda", "EventBridge", "S3Bucket")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Template:
    path: str                                  # absolute
    functions: dict[str, FunctionSpec]         # by logical id, in template order
    apis: dict[str, ApiSpec]                   # by logical id
    routes: tuple[RouteSpec, ...]
    warnings: tuple[str, ...]
    api_keys: tuple[ApiKeySpec, ...] = ()
    usage_plans: tuple[UsagePlanSpec, ...] = ()

    def find_function(self, name: str) -> Optional[FunctionSpec]:
        """The function with this logical id, else the one with this FunctionName."""
        if name in self.functions:
            return self.functions[name]
        return next((f for f in self.functions.values() if f.function_name == name), None)


# --- the loader ------------------------------------------------------------------------------------

def load_template(path: Union[str, os.PathLike], *, parameter_overrides: Union[Mapping[str, Any], str, None] = None,
                  env_vars: Union[Mapping[str, Any], str, os.PathLike, None] = None, region: str = "us-east-1",
                  shell_env: Optional[Mapping[str, str]] = None) -> Template:
    """Parse and resolve a SAM template.

    `parameter_overrides`: a dict, or text for parse_parameter_overrides. `env_vars`: load_env_vars's
    dict (or its path). `shell_env`: SAM also lets the shell environment override variables the template
    declares (below `env_vars`); pass os.environ to get that, the default None leaves it out.
    """
    if isinstance(parameter_overrides, str):
        parameter_overrides = parse_parameter_overrides(parameter_overrides)
    if isinstance(env_vars, (str, os.PathLike)):
        env_vars = load_env_vars(env_vars)
    return _Loader(os.path.abspath(os.fspath(path)), dict(parameter_overrides or {}), dict(env_vars or {}),
                   region, shell_env).load()


def load_configured_template(config: Config) -> Template:
    """The template a Config names, with its --env-vars, --parameter-overrides and region, and the
    shell environment overriding declared variables as `sam local` does."""
    path = config.template or discover_template()
    log.info("template: %s", path)   # which one was found matters when -t was not given
    return load_template(path, parameter_overrides=config.parameter_overrides,
                         env_vars=config.env_vars, region=config.region, shell_env=os.environ)


class _Loader(ApiDeclarations, CfnApis, OpenApiDefinitions):
    def __init__(self, path: str, overrides: dict, env_vars: dict, region: str, shell_env: Optional[Mapping]):
        self.path, self.dir = path, os.path.dirname(path)
        self.overrides, self.env_vars, self.region, self.shell_env = overrides, env_vars, region, shell_env
        self.warnings: list[str] = []
        self.apis: dict[str, ApiSpec] = {}
        self.routes: dict[tuple[str, str, str], RouteSpec] = {}
        self.api_keys: dict[str, ApiKeySpec] = {}
        self.usage_plans: dict[str, UsagePlanSpec] = {}

    def err(self, message: str, resource: Optional[str] = None, prop: Optional[str] = None) -> TemplateError:
        return TemplateError(message, path=self.path, resource=resource, prop=prop)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def load(self) -> Template:
        doc = load_yaml(self.path)
        if not isinstance(doc, dict):
            raise self.err("a template must be a mapping with a Resources section")
        resources = doc.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise self.err("the template has no Resources", prop="Resources")
        self.globals = parse_globals(doc.get("Globals"), self.path)
        self.r = Resolver(doc, template_parameters(doc.get("Parameters"), self.overrides, self.region,
                                                   self.err, self.warn), self.region)
        for key in ("Mappings", "Conditions"):
            if not isinstance(doc.get(key) or {}, dict):
                raise self.err(f"{key} must be a mapping", prop=key)
        self.live: dict[str, tuple[str, dict]] = {}          # logical id -> (Type, properties with Globals)
        sections = {SERVERLESS_FUNCTION: "Function", SERVERLESS_API: "Api", SERVERLESS_HTTP_API: "HttpApi"}
        for lid, res in resources.items():
            if not isinstance(res, dict) or not isinstance(res.get("Type"), str):
                raise self.err("every resource needs a Type", resource=lid, prop="Type")
            if not isinstance(res.get("Properties") or {}, dict):
                raise self.err("Properties must be a mapping", resource=lid, prop="Properties")
            if "Condition" in res:
                try:
                    if not self.r.condition(res["Condition"]):
                        self.r.removed.add(lid)
                        continue
                except Unresolvable as exc:
                    raise self.err(str(exc), resource=lid, prop="Condition") from None
            if lid in (IMPLICIT_REST_API, IMPLICIT_HTTP_API):
                self.warn(f'Your template contains a resource with logical ID "{lid}", which is a reserved '
                          "logical ID in AWS SAM. It could result in unexpected behaviors.")
            section = sections.get(res["Type"])
            self.live[lid] = (res["Type"], with_globals(self.globals.get(section) if section else None, lid, res,
                                                        self.err))
            events = self.live[lid][1].get("Events") if res["Type"] == SERVERLESS_FUNCTION else None
            for event in (events.values() if isinstance(events, dict) else ()):
                if isinstance(event, dict) and event.get("Type") in ("Api", "HttpApi"):
                    http = event["Type"] == "HttpApi"
                    if ("ApiId" if http else "RestApiId") not in (event.get("Properties") or {}):
                        self.r.implicit.add(IMPLICIT_HTTP_API if http else IMPLICIT_REST_API)

        functions: dict[str, FunctionSpec] = {}
        for lid, (rtype, props) in self.live.items():
            if rtype in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
                functions[lid] = self._function(lid, rtype, props)
        by_name: dict[str, str] = {}
        for lid, spec in functions.items():
            if spec.function_name in by_name:
                raise self.err(f"FunctionName {spec.function_name!r} is also used by {by_name[spec.function_name]}",
                               resource=lid, prop="FunctionName")
            by_name[spec.function_name] = lid
        for key in self.env_vars:
            if key != "Parameters" and key not in functions and key not in by_name:
                self.warn(f"env vars file: {key} matches no function of the template; ignored")
        self.functions = functions       # the APIs' OpenAPI integrations and authorizers name them
        for lid, (rtype, props) in self.live.items():
            if rtype in (SERVERLESS_API, SERVERLESS_HTTP_API):
                self.apis[lid] = self._api(lid, rtype == SERVERLESS_HTTP_API, props, implicit=False)
        for lid, (rtype, props) in self.live.items():
            if rtype == SERVERLESS_FUNCTION:
                self._events(lid, props.get("Events"))
        self._cfn_apis(functions)        # raw AWS::ApiGateway::* and AWS::ApiGatewayV2::* resources
        return Template(self.path, functions, self.apis, tuple(self.routes.values()), tuple(self.warnings),
                        tuple(self.api_keys.values()), tuple(self.usage_plans.values()))

    # resolution helpers
    def _get(self, props: dict, name: str, lid: str, prop: Optional[str] = None) -> Any:
        """A property, resolved; None when absent or AWS::NoValue."""
        if name not in props:
            return None
        try:
            value = self.r.resolve(props[name])
        except Unresolvable as exc:
            raise self.err(f"cannot be resolved locally: {exc}", resource=lid, prop=prop or name) from None
        return None if value is NO_VALUE else value

    def _number(self, value: Any, lid: str, prop: str, low: float, high: float, default: Any,
                integer: bool = True) -> Any:
        if value is None:
            return default
        number: Any = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        bounds = f"between {low} and {high}" if high != float("inf") else f"of at least {low}"
        if number is None or number != number or (integer and not float(number).is_integer()):
            kind = "a whole number" if integer else "a number"
            raise self.err(f"must be {kind} {bounds}, not {value!r}", resource=lid, prop=prop)
        if not low <= number <= high:
            raise self.err(f"must be {bounds}, not {value!r}", resource=lid, prop=prop)
        return int(number) if float(number).is_integer() else float(number)

    def _choice(self, value: Any, choices: tuple, lid: str, prop: str) -> Any:
        if value is not None and value not in choices:
            raise self.err(f"must be one of {', '.join(choices)}, not {value!r}", resource=lid, prop=prop)
        return value

    def _str_list(self, value: Any, lid: str, prop: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.err("must be a list of strings", resource=lid, prop=prop)
        return value

    # functions
    def _function(self, lid: str, rtype: str, props: dict) -> FunctionSpec:
        def get(name: str, prop: Optional[str] = None) -> Any:
            return self._get(props, name, lid, prop)

        if self._choice(get("PackageType"), ("Zip", "Image"), lid, "PackageType") == "Image":
            raise self.err("PackageType Image needs a container engine, which lambdagate does not use; only Zip "
                           "functions (CodeUri, Handler, Runtime) run locally", resource=lid, prop="PackageType")
        runtime = get("Runtime")
        if runtime is None:
            raise self.err("Runtime is required (e.g. python3.12)", resource=lid, prop="Runtime")
        if runtime not in RUNTIMES:
            raise self.err(f"{runtime!r} is not a Lambda runtime lambdagate knows; use one of "
                           f"{', '.join(sorted(RUNTIMES))}", resource=lid, prop="Runtime")
        code_prop = "CodeUri" if rtype == SERVERLESS_FUNCTION else "Code"
        code = get(code_prop)
        inline_prop, inline = ("InlineCode", get("InlineCode")) if rtype == SERVERLESS_FUNCTION else \
            ("Code.ZipFile", code.get("ZipFile") if isinstance(code, dict) else None)
        if rtype == LAMBDA_FUNCTION and inline is None:
            if code is None:
                raise self.err("Code is required: a local directory path", resource=lid, prop="Code")
            if isinstance(code, dict) and "ImageUri" in code:
                raise self.err("container images need a container engine, which lambdagate does not use",
                               resource=lid, prop="Code.ImageUri")
        if inline is not None:
            code_dir = self._inline_code(inline, runtime, lid, inline_prop)
        else:
            code_dir = self._code_dir(code, lid, code_prop)
        handler = self._handler(get("Handler"), runtime, code_dir, lid)

        function_name = get("FunctionName")
        if function_name is None:
            function_name = lid
        elif not isinstance(function_name, str) or not _FUNCTION_NAME.match(function_name):
            raise self.err(f"{function_name!r} is not a valid function name (1-64 letters, digits, - and _)",
                           resource=lid, prop="FunctionName")
        reserved = get("ReservedConcurrentExecutions")
        logging = get("LoggingConfig") or {}
        if not isinstance(logging, dict):
            raise self.err("must be a mapping", resource=lid, prop="LoggingConfig")
        log_format = self._choice(logging.get("LogFormat"), ("Text", "JSON"), lid, "LoggingConfig.LogFormat")
        log_level = self._choice(logging.get("ApplicationLogLevel"), LOG_LEVELS, lid,
                                 "LoggingConfig.ApplicationLogLevel")
        if log_level and log_format != "JSON":
            self.warn(f"function {lid}: LoggingConfig.ApplicationLogLevel only applies with LogFormat JSON; ignored")
        architectures = self._str_list(get("Architectures"), lid, "Architectures") or ["x86_64"]
        self._choice(architectures[0], ("x86_64", "arm64"), lid, "Architectures")
        if len(architectures) > 1:
            self.warn(f"function {lid}: Lambda takes one architecture; using {architectures[0]}")
        for unsupported in ("Layers", "ImageUri", "VpcConfig", "FileSystemConfigs"):
            if props.get(unsupported):
                self.warn(f"function {lid}: {unsupported} is not applied locally")
        return FunctionSpec(
            logical_id=lid, function_name=function_name, handler=handler, runtime=runtime, code_dir=code_dir,
            timeout_s=self._number(get("Timeout"), lid, "Timeout", MIN_TIMEOUT_S, MAX_TIMEOUT_S, 3, integer=False),
            memory_mb=self._number(get("MemorySize"), lid, "MemorySize", MIN_MEMORY_MB, MAX_MEMORY_MB, 128),
            ephemeral_storage_mb=ephemeral_storage_mb(get("EphemeralStorage"), lid, self.err, self._number),
            environment=self._environment(props, lid, function_name),
            reserved_concurrency=self._number(reserved, lid, "ReservedConcurrentExecutions", 0, float("inf"), None),
            log_format=log_format or "Text",
            log_level=(log_level or "INFO") if log_format == "JSON" else None,
            architecture=architectures[0],
            event_invoke=self._event_invoke(props.get("EventInvokeConfig"), lid),
            region=self.region)

    def _code_dir(self, code: Any, lid: str, prop: str) -> str:
        if code is None:
            return self.dir
        if isinstance(code, dict) or (isinstance(code, str) and code.startswith("s3://")):
            raise self.err(f"{code!r} is an S3 location, which is not supported locally; point {prop} at a local "
                           "directory", resource=lid, prop=prop)
        if not isinstance(code, str) or not code:
            raise self.err("must be a local directory path", resource=lid, prop=prop)
        full = os.path.normpath(os.path.join(self.dir, os.path.expanduser(code)))
        if os.path.isfile(full):
            raise self.err(f"{full} is a file; lambdagate needs the unpacked code directory", resource=lid, prop=prop)
        if not os.path.isdir(full):
            raise self.err(f"directory {full} does not exist", resource=lid, prop=prop)
        return full

    def _inline_code(self, source: Any, runtime: str, lid: str, prop: str) -> str:
        """Inline code runs as on AWS, from a file named index: Python and Node.js only."""
        if not isinstance(source, str) or not source.strip():
            raise self.err("must be the function's source code, a non-empty string", resource=lid, prop=prop)
        if not runtime.startswith(("python", "nodejs")):
            raise self.err(f"inline code is for Python and Node.js functions, as on AWS; {runtime} needs CodeUri",
                           resource=lid, prop=prop)
        try:
            return inline_code_dir(source, runtime)
        except OSError as exc:
            raise self.err(f"cannot write the inline code where it can run: {exc}", resource=lid, prop=prop) from None

    def _handler(self, handler: Any, runtime: str, code_dir: str, lid: str) -> str:
        if not isinstance(handler, str) or not handler.strip():
            raise self.err("Handler is required (e.g. app.lambda_handler)", resource=lid, prop="Handler")
        if any(ch.isspace() for ch in handler):
            raise self.err(f"{handler!r} must not contain spaces", resource=lid, prop="Handler")
        if runtime.startswith(("python", "nodejs", "ruby")):
            module, _, func = handler.rpartition(".")
            if not module or not func or module.endswith("/") or \
                    (runtime.startswith("python") and not func.isidentifier()):
                raise self.err(f"{handler!r} must look like module.function (e.g. app.lambda_handler or "
                               "pkg/sub/module.handler)", resource=lid, prop="Handler")
            if runtime.startswith("python"):
                base = os.path.join(code_dir, *module.replace("/", ".").split("."))
                if not (os.path.isfile(base + ".py") or os.path.isdir(base)):
                    self.warn(f"function {lid}: handler module {base}.py does not exist")
        return handler

    def _environment(self, props: dict, lid: str, function_name: str) -> dict[str, str]:
        env = props.get("Environment")
        if is_intrinsic(env):
            env = self._get(props, "Environment", lid)
        if env is None or env is NO_VALUE:
            env = {}
        if not isinstance(env, dict):
            raise self.err("must be a mapping with Variables", resource=lid, prop="Environment")
        variables = env.get("Variables") or {}
        if is_intrinsic(variables):
            variables = self._get(env, "Variables", lid, "Environment.Variables") or {}
        if not isinstance(variables, dict):
            raise self.err("must be a mapping of names to values", resource=lid, prop="Environment.Variables")
        overrides = dict(self.env_vars.get("Parameters") or {})
        own = self.env_vars.get(lid) or self.env_vars.get(function_name) or {}
        overrides.update(own)
        for name in own:
            if name not in variables:
                self.warn(f"function {lid}: env vars file sets {name}, which the template does not declare; "
                          "ignored (SAM only overrides declared variables)")
        result: dict[str, str] = {}
        for name, raw in variables.items():
            if name in overrides or (self.shell_env is not None and name in self.shell_env):
                result[name] = env_string(overrides[name] if name in overrides else self.shell_env[name])
                continue
            try:
                value = self.r.resolve(raw)
            except Unresolvable as exc:
                self.warn(f"function {lid}: environment variable {name} cannot be resolved locally ({exc}); "
                          "it is set to \"\" (override it with an env vars file)")
                value = ""
            if value is NO_VALUE:
                continue
            if isinstance(value, (dict, list)):
                self.warn(f"function {lid}: environment variable {name} is not a string; it is set to \"\"")
            result[name] = env_string(value)
        return result

    def _event_invoke(self, raw: Any, lid: str) -> EventInvokeConfig:
        prop = "EventInvokeConfig"
        config = self._get({prop: raw}, prop, lid) if is_intrinsic(raw) else raw
        if config is None:
            return EventInvokeConfig()
        if not isinstance(config, dict):
            raise self.err("must be a mapping", resource=lid, prop=prop)
        unknown = set(config) - {"MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}
        if unknown:
            raise self.err(f"unknown key(s) {', '.join(sorted(unknown))}", resource=lid, prop=prop)
        retries = self._number(self._get(config, "MaximumRetryAttempts", lid, f"{prop}.MaximumRetryAttempts"),
                               lid, f"{prop}.MaximumRetryAttempts", 0, 2, 2)
        age = self._number(self._get(config, "MaximumEventAgeInSeconds", lid, f"{prop}.MaximumEventAgeInSeconds"),
                           lid, f"{prop}.MaximumEventAgeInSeconds", 60, 21600, 21600)
        destinations = config.get("DestinationConfig")
        if is_intrinsic(destinations):
            destinations = self._get(config, "DestinationConfig", lid, f"{prop}.DestinationConfig")
        destinations = destinations or {}
        if not isinstance(destinations, dict) or set(destinations) - {"OnSuccess", "OnFailure"}:
            raise self.err("must be a mapping with OnSuccess and/or OnFailure", resource=lid,
                           prop=f"{prop}.DestinationConfig")
        found: dict[str, Optional[DestinationSpec]] = {}
        for key in ("OnSuccess", "OnFailure"):
            where = f"{prop}.DestinationConfig.{key}"
            dest = destinations.get(key)
            if dest is None:
                found[key] = None
                continue
            if not isinstance(dest, dict):
                raise self.err("must be a mapping with Type and Destination", resource=lid, prop=where)
            dtype = self._choice(self._get(dest, "Type", lid, f"{where}.Type"), DESTINATION_TYPES, lid,
                                 f"{where}.Type")
            if dtype is None:
                raise self.err(f"Type is required ({', '.join(DESTINATION_TYPES)})", resource=lid,
                               prop=f"{where}.Type")
            if dest.get("Destination") is None:
                if dtype not in ("SQS", "SNS"):
                    raise self.err(f"Destination is required when Type is {dtype}", resource=lid,
                                   prop=f"{where}.Destination")
                service, suffix = ("sqs", "Queue") if dtype == "SQS" else ("sns", "Topic")
                arn = (f"arn:{self.r.partition}:{service}:{self.region}:{ACCOUNT_ID}:"
                       f"{lid}EventInvokeConfig{key}{suffix}")           # the resource SAM would create
            else:
                try:
                    arn = self.r.destination_arn(dest["Destination"])
                except Unresolvable as exc:
                    raise self.err(f"cannot be resolved locally: {exc}", resource=lid,
                                   prop=f"{where}.Destination") from None
                if not isinstance(arn, str):
                    raise self.err("must be an ARN", resource=lid, prop=f"{where}.Destination")
            found[key] = DestinationSpec(type=dtype, arn=arn)
        return EventInvokeConfig(retries, age, found["OnSuccess"], found["OnFailure"])
