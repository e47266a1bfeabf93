"""Tests for gateway.sam.template: SAM templates into FunctionSpec / ApiSpec / RouteSpec."""
import base64
import json
import textwrap

import pytest

from gateway.sam.template_io import merge_globals
from gateway.sam.template import Template, load_env_vars, load_template, parse_parameter_overrides
from gateway.errors import LambdagateError, TemplateError
from gateway.types import CorsConfig, DestinationSpec


def write(tmp_path, body, name="template.yaml"):
    """Write a template (dedented) next to a `src/app.py` code directory; returns its path."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def one_function(tmp_path, props="", extra="", header=""):
    """A template with one function `Fn` (CodeUri src/, Handler app.handler, python3.12) plus extras."""
    body = textwrap.dedent(header) + textwrap.dedent("""
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
        """) + textwrap.indent(textwrap.dedent(props), " " * 6) + textwrap.indent(textwrap.dedent(extra), "  ")
    return write(tmp_path, body)


def env_of(tmp_path, variables, **kwargs):
    """Load a template whose function Fn declares `variables` (YAML text) and return (env, template)."""
    path = one_function(tmp_path, "Environment:\n  Variables:\n" + textwrap.indent(textwrap.dedent(variables), "    "),
                        header=kwargs.pop("header", ""), extra=kwargs.pop("extra", ""))
    template = load_template(path, **kwargs)
    return template.functions["Fn"].environment, template


HELLO_WORLD = """\
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Description: >
      sam-app

      Sample SAM Template for sam-app

    Globals:
      Function:
        Timeout: 3
        MemorySize: 128
        LoggingConfig:
          LogFormat: JSON

    Resources:
      HelloWorldFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: hello_world/
          Handler: app.lambda_handler
          Runtime: python3.13
          Architectures:
            - x86_64
          Events:
            HelloWorld:
              Type: Api
              Properties:
                Path: /hello
                Method: get

    Outputs:
      HelloWorldApi:
        Description: "API Gateway endpoint URL for Prod stage for Hello World function"
        Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
      HelloWorldFunction:
        Description: "Hello World Lambda Function ARN"
        Value: !GetAtt HelloWorldFunction.Arn
      HelloWorldFunctionIamRole:
        Description: "Implicit IAM Role created for Hello World function"
        Value: !GetAtt HelloWorldFunctionRole.Arn
    """


# --- sam init shape --------------------------------------------------------------------------------

def test_hello_world_template_from_sam_init(tmp_path):
    (tmp_path / "hello_world").mkdir()
    (tmp_path / "hello_world" / "app.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(HELLO_WORLD))

    template = load_template(str(path))

    assert isinstance(template, Template)
    assert template.path == str(path)
    assert list(template.functions) == ["HelloWorldFunction"]
    fn = template.functions["HelloWorldFunction"]
    assert fn.function_name == "HelloWorldFunction"
    assert fn.handler == "app.lambda_handler"
    assert fn.runtime == "python3.13"
    assert fn.code_dir == str(tmp_path / "hello_world")
    assert fn.timeout_s == 3 and fn.memory_mb == 128
    assert fn.log_format == "JSON" and fn.log_level == "INFO"     # SAM's default level for JSON logs
    assert fn.architecture == "x86_64"
    assert fn.arn == "arn:aws:lambda:us-east-1:123456789012:function:HelloWorldFunction"
    api = template.apis["ServerlessRestApi"]
    assert (api.kind, api.stage_name) == ("REST", "Prod")
    assert len(template.routes) == 1
    route = template.routes[0]
    assert (route.method, route.path, route.function, route.payload_format) == ("GET", "/hello",
                                                                                 "HelloWorldFunction", "1.0")
    assert route.api is api
    assert template.warnings == ()
    assert template.find_function("HelloWorldFunction") is fn
    assert template.find_function("Nope") is None


def test_json_template_loads(tmp_path):
    doc = {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": "src", "Handler": "app.handler", "Runtime": "nodejs20.x", "FunctionName": "my-fn",
        "Environment": {"Variables": {"R": {"Fn::Sub": "${AWS::Region}"}}}}}}}
    path = write(tmp_path, json.dumps(doc, indent=2), name="template.json")
    template = load_template(path, region="eu-west-1")
    fn = template.find_function("my-fn")
    assert fn is template.functions["Fn"]
    assert fn.environment == {"R": "eu-west-1"}
    assert fn.region == "eu-west-1"
    assert fn.arn == "arn:aws:lambda:eu-west-1:123456789012:function:my-fn"


# --- Globals ---------------------------------------------------------------------------------------

def test_merge_globals_rules():
    merged = merge_globals(
        {"Timeout": 10, "Env": {"A": "g", "B": "g"}, "Layers": ["l1"], "X": {"Ref": "P"}},
        {"Timeout": 20, "Env": {"B": "l", "C": "l"}, "Layers": ["l2"], "X": {"Y": 1}})
    assert merged["Timeout"] == 20                                   # primitive replaced
    assert merged["Env"] == {"A": "g", "B": "l", "C": "l"}          # maps merged, resource wins
    assert merged["Layers"] == ["l1", "l2"]                          # lists additive, globals first
    assert merged["X"] == {"Y": 1}                                   # an intrinsic is a primitive


def test_globals_merge_into_functions_and_apis(tmp_path):
    path = write(tmp_path, """\
        Globals:
          Function:
            Timeout: 10
            MemorySize: 512
            Environment:
              Variables:
                A: global-a
                B: global-b
          Api:
            BinaryMediaTypes: ["image~1png"]
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Timeout: 20
              Environment:
                Variables:
                  B: local-b
                  C: local-c
          MyApi:
            Type: AWS::Serverless::Api
            Properties:
              StageName: dev
              BinaryMediaTypes: ["application~1pdf"]
        """)
    template = load_template(path)
    fn = template.functions["Fn"]
    assert fn.timeout_s == 20 and fn.memory_mb == 512
    assert fn.environment == {"A": "global-a", "B": "local-b", "C": "local-c"}
    assert template.apis["MyApi"].binary_media_types == ("image/png", "application/pdf")


def test_api_globals_apply_to_the_implicit_api(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Get:
            Type: Api
            Properties: {Path: /x, Method: get}
        """, header="""\
        Globals:
          Api:
            Variables: {Mode: fast}
            Cors: "'*'"
        """)
    api = load_template(path).apis["ServerlessRestApi"]
    assert api.stage_variables == {"Mode": "fast"}
    assert api.cors is not None and api.cors.allow_origins == ("*",)


def test_ignore_globals(tmp_path):
    path = one_function(tmp_path, "Timeout: 5\n",
                        header="Globals:\n  Function:\n    MemorySize: 1024\n    Timeout: 9\n")
    text = path.read_text().replace("    Type: AWS::Serverless::Function\n",
                                    "    Type: AWS::Serverless::Function\n    IgnoreGlobals: [MemorySize]\n")
    path.write_text(text)
    fn = load_template(path).functions["Fn"]
    assert (fn.memory_mb, fn.timeout_s) == (128, 5)



def test_ephemeral_storage_defaults_to_512(tmp_path):
    assert load_template(one_function(tmp_path)).functions["Fn"].ephemeral_storage_mb == 512


@pytest.mark.parametrize("props, header, size", [
    ("EphemeralStorage: {Size: 2048}\n", "", 2048),                                  # the function's own
    ("EphemeralStorage: {Size: '10240'}\n", "", 10240),                              # a string, the top
    ("", "Globals:\n  Function:\n    EphemeralStorage: {Size: 1024}\n", 1024),      # Globals
    ("EphemeralStorage: {Size: 4096}\n", "Globals:\n  Function:\n    EphemeralStorage: {Size: 1024}\n", 4096),
    ("EphemeralStorage: {Size: !Ref Tmp}\n",
     "Parameters:\n  Tmp: {Type: Number, Default: 512}\n", 512),                     # intrinsics resolved
    ("EphemeralStorage: !If [Big, {Size: 8192}, !Ref AWS::NoValue]\n",
     "Conditions:\n  Big: !Equals [a, a]\n", 8192),
    ("EphemeralStorage: !If [Big, {Size: 8192}, !Ref AWS::NoValue]\n",
     "Conditions:\n  Big: !Equals [a, b]\n", 512),
])
def test_ephemeral_storage_size(tmp_path, props, header, size):
    fn = load_template(one_function(tmp_path, props, header=header)).functions["Fn"]
    assert fn.ephemeral_storage_mb == size and fn.memory_mb == 128


def test_ephemeral_storage_from_globals_can_be_ignored(tmp_path):
    path = one_function(tmp_path, header="Globals:\n  Function:\n    EphemeralStorage: {Size: 1024}\n")
    path.write_text(path.read_text().replace("    Type: AWS::Serverless::Function\n",
                                             "    Type: AWS::Serverless::Function\n"
                                             "    IgnoreGlobals: [EphemeralStorage]\n"))
    assert load_template(path).functions["Fn"].ephemeral_storage_mb == 512


@pytest.mark.parametrize("size", [511, 10241])
def test_ephemeral_storage_out_of_range_in_globals_names_the_function(tmp_path, size):
    path = one_function(tmp_path, header=f"Globals:\n  Function:\n    EphemeralStorage: {{Size: {size}}}\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert (info.value.resource, info.value.prop) == ("Fn", "EphemeralStorage.Size")
    assert str(info.value) == (f"{path}, resource Fn, property EphemeralStorage.Size: "
                               f"must be between 512 and 10240, not {size}")


@pytest.mark.parametrize("globals_yaml, named", [
    ("Function:\n    FunctionName: x\n", "FunctionName"),
    ("Function:\n    Events: {}\n", "Events"),
    ("Api:\n    StageName: dev\n", "StageName"),
    ("Queue:\n    X: 1\n", "Queue"),
])
def test_unsupported_globals_are_rejected(tmp_path, globals_yaml, named):
    path = one_function(tmp_path, header="Globals:\n  " + globals_yaml)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert named in str(info.value)
    assert str(path) in str(info.value)


# --- parameters ------------------------------------------------------------------------------------

def test_parse_parameter_overrides_long_form():
    assert parse_parameter_overrides("ParameterKey=Stage,ParameterValue=dev ParameterKey=X,ParameterValue=y") == \
        {"Stage": "dev", "X": "y"}


def test_parse_parameter_overrides_short_form_and_quotes():
    assert parse_parameter_overrides('Stage=dev Name="two words" Other=\'single q\' Eq=a=b') == \
        {"Stage": "dev", "Name": "two words", "Other": "single q", "Eq": "a=b"}
    assert parse_parameter_overrides('ParameterKey=Msg,ParameterValue="hello world"') == {"Msg": "hello world"}
    assert parse_parameter_overrides("") == {}


def test_parse_parameter_overrides_rejects_garbage():
    with pytest.raises(LambdagateError) as info:
        parse_parameter_overrides("just-words")
    assert "ParameterKey=" in str(info.value)


PARAMS = """\
    Parameters:
      Stage:
        Type: String
        Default: prod
      Size:
        Type: Number
        Default: 256
      Names:
        Type: CommaDelimitedList
        Default: a,b
    """


@pytest.mark.parametrize("overrides, stage", [
    (None, "prod"),
    ({"Stage": "dev"}, "dev"),
    ("ParameterKey=Stage,ParameterValue=qa", "qa"),
    ("Stage=test", "test"),
])
def test_parameters_defaults_and_overrides(tmp_path, overrides, stage):
    env, template = env_of(tmp_path, """\
        STAGE: !Ref Stage
        SECOND: !Select [1, !Ref Names]
        """, header=PARAMS, parameter_overrides=overrides)
    assert env == {"STAGE": stage, "SECOND": "b"}
    text = one_function(tmp_path, "MemorySize: !Ref Size\n", header=PARAMS)
    assert load_template(text, parameter_overrides={"Size": "1024"}).functions["Fn"].memory_mb == 1024


def test_parameter_without_default_needs_an_override(tmp_path):
    header = "Parameters:\n  Table:\n    Type: String\n"
    path = one_function(tmp_path, "Environment: {Variables: {T: !Ref Table}}\n", header=header)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert "Table" in str(info.value) and str(path) in str(info.value)
    assert load_template(path, parameter_overrides={"Table": "t1"}).functions["Fn"].environment == {"T": "t1"}


def test_unknown_override_is_a_warning(tmp_path):
    template = load_template(one_function(tmp_path), parameter_overrides={"Nope": "1"})
    assert any("Nope" in w for w in template.warnings)


# --- intrinsics ------------------------------------------------------------------------------------

INTRINSICS_HEADER = """\
    Parameters:
      Env:
        Type: String
        Default: prod
      Csv:
        Type: String
        Default: "x,y,z"
    Mappings:
      Sizes:
        prod: {Memory: "2048"}
        dev: {Memory: "256"}
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
      IsDev: !Not [!Condition IsProd]
      Both: !And [!Condition IsProd, !Equals [a, a]]
      Either: !Or [!Condition IsDev, !Equals [1, 2]]
    """


def test_every_intrinsic(tmp_path):
    env, _ = env_of(tmp_path, """\
        REF_PARAM: !Ref Env
        REF_RESOURCE: !Ref Other
        ACCOUNT: !Ref AWS::AccountId
        REGION: !Ref AWS::Region
        PARTITION: !Ref AWS::Partition
        STACK: !Ref AWS::StackName
        STACK_ID: !Ref AWS::StackId
        SUFFIX: !Ref AWS::URLSuffix
        SUB: !Sub "${Env}-${AWS::Region}-${!Literal}"
        SUB_LIST: !Sub ["${Greeting}, ${Env}", {Greeting: !Join ["", [he, llo]]}]
        SUB_ATTR: !Sub "${Other.Arn}"
        GETATT: !GetAtt Other.Arn
        GETATT_LIST: !GetAtt [Fn, Arn]
        JOIN: !Join [":", [a, !Ref Env, 3]]
        SELECT_SPLIT: !Select [2, !Split [",", !Ref Csv]]
        BASE64: !Base64 hello
        MAP: !FindInMap [Sizes, !Ref Env, Memory]
        IF: !If [IsProd, yes-prod, not-prod]
        IF_DEV: !If [IsDev, dev, not-dev]
        AND: !If [Both, and-true, and-false]
        OR: !If [Either, or-true, or-false]
        AZ: !Select [0, !GetAZs ""]
        GONE: !If [IsDev, x, !Ref AWS::NoValue]
        """, header=INTRINSICS_HEADER, region="eu-west-1", extra="""\
        Other:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: src/
            Handler: app.handler
            Runtime: python3.12
            FunctionName: !Sub "${AWS::StackName}-other"
        """)
    assert env == {
        "REF_PARAM": "prod",
        "REF_RESOURCE": "Other",
        "ACCOUNT": "123456789012",
        "REGION": "eu-west-1",
        "PARTITION": "aws",
        "STACK": "local",
        "STACK_ID": "arn:aws:cloudformation:eu-west-1:123456789012:stack/local/51af3dc0-da77-11e4-872e-1234567db123",
        "SUFFIX": "amazonaws.com",
        "SUB": "prod-eu-west-1-${Literal}",
        "SUB_LIST": "hello, prod",
        "SUB_ATTR": "arn:aws:lambda:eu-west-1:123456789012:function:local-other",
        "GETATT": "arn:aws:lambda:eu-west-1:123456789012:function:local-other",
        "GETATT_LIST": "arn:aws:lambda:eu-west-1:123456789012:function:Fn",
        "JOIN": "a:prod:3",
        "SELECT_SPLIT": "z",
        "BASE64": base64.b64encode(b"hello").decode(),
        "MAP": "2048",
        "IF": "yes-prod",
        "IF_DEV": "not-dev",
        "AND": "and-true",
        "OR": "or-false",
        "AZ": "eu-west-1a",
    }                                          # GONE: AWS::NoValue removed the variable


def test_intrinsics_follow_parameter_overrides(tmp_path):
    env, _ = env_of(tmp_path, """\
        IF: !If [IsProd, yes-prod, not-prod]
        MAP: !FindInMap [Sizes, !Ref Env, Memory]
        OR: !If [Either, or-true, or-false]
        """, header=INTRINSICS_HEADER, parameter_overrides={"Env": "dev"})
    assert env == {"IF": "not-prod", "MAP": "256", "OR": "or-true"}


def test_getatt_arn_of_a_non_function_is_lambda_style(tmp_path):
    # sam local's quirk: its default Arn resolver assumes a Lambda function for every resource type
    env, _ = env_of(tmp_path, "Q: !GetAtt Queue.Arn\n",
                    extra="Queue:\n  Type: AWS::SQS::Queue\n")
    assert env == {"Q": "arn:aws:lambda:us-east-1:123456789012:function:Queue"}


def test_conditions_remove_resources(tmp_path):
    path = write(tmp_path, """\
        Parameters:
          WithExtra: {Type: String, Default: "false"}
        Conditions:
          Extra: !Equals [!Ref WithExtra, "true"]
        Resources:
          Main:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                Get: {Type: Api, Properties: {Path: /main, Method: get}}
          ExtraFn:
            Type: AWS::Serverless::Function
            Condition: Extra
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                Get: {Type: Api, Properties: {Path: /extra, Method: get}}
        """)
    template = load_template(path)
    assert list(template.functions) == ["Main"]
    assert [r.path for r in template.routes] == ["/main"]
    with_extra = load_template(path, parameter_overrides={"WithExtra": "true"})
    assert list(with_extra.functions) == ["Main", "ExtraFn"]
    assert sorted(r.path for r in with_extra.routes) == ["/extra", "/main"]


def test_condition_that_is_not_defined_names_the_resource(tmp_path):
    path = one_function(tmp_path)
    path.write_text(path.read_text().replace("    Type: AWS::Serverless::Function\n",
                                             "    Type: AWS::Serverless::Function\n    Condition: Missing\n"))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert "resource Fn" in str(info.value) and "property Condition" in str(info.value)
    assert "Missing" in str(info.value)


# --- environment variables -------------------------------------------------------------------------

def test_env_var_typing_and_unresolvable_values(tmp_path):
    env, template = env_of(tmp_path, """\
        INT: 5
        FLOAT: 1.5
        TRUE: true
        FALSE: false
        NULL: null
        IMPORTED: !ImportValue shared-table
        DEEP: !GetAtt Table.StreamArn
        """, extra="Table:\n  Type: AWS::DynamoDB::Table\n")
    assert env == {"INT": "5", "FLOAT": "1.5", "TRUE": "true", "FALSE": "false", "NULL": "",
                   "IMPORTED": "", "DEEP": ""}
    assert any("IMPORTED" in w and "ImportValue" in w for w in template.warnings)
    assert any("DEEP" in w for w in template.warnings)


def test_env_vars_file_overrides(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({
        "Parameters": {"TABLE": "from-parameters", "SHARED": "shared"},
        "Fn": {"TABLE": "from-function", "NUM": 7, "UNDECLARED": "x"},
        "other-name": {"TABLE": "named"},
    }))
    env_vars = load_env_vars(env_file)
    path = write(tmp_path, """\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Environment:
                Variables: {TABLE: t, SHARED: s, NUM: 1, KEEP: k, BROKEN: !ImportValue x}
          Other:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              FunctionName: other-name
              Environment:
                Variables: {TABLE: t, SHARED: s}
        """)
    template = load_template(path, env_vars=env_vars)
    assert template.functions["Fn"].environment == {"TABLE": "from-function", "SHARED": "shared", "NUM": "7",
                                                    "KEEP": "k", "BROKEN": ""}
    assert template.functions["Other"].environment == {"TABLE": "named", "SHARED": "shared"}
    # SAM only overrides variables the template declares; others are ignored (with a warning here)
    assert any("UNDECLARED" in w for w in template.warnings)
    # the path form is accepted too
    assert load_template(path, env_vars=str(env_file)).functions["Fn"].environment["TABLE"] == "from-function"


def test_shell_environment_overrides_declared_variables_only(tmp_path):
    env, _ = env_of(tmp_path, "A: template\nB: template\n", shell_env={"A": "shell", "Z": "z"},
                    env_vars={"Fn": {"B": "file"}})
    assert env == {"A": "shell", "B": "file"}


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    ('{"Fn": {"A": 1},\n  oops}', "line 2"),
    ('["a"]', "JSON object"),
    ('{"Fn": "A=1"}', "'Fn'"),
])
def test_load_env_vars_errors(tmp_path, content, fragment):
    path = tmp_path / "env.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LambdagateError) as info:
        load_env_vars(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


# --- validation errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("props, prop, fragment", [
    ("Runtime: python2.7\n", "Runtime", "python2.7"),
    ("Runtime: cobol\n", "Runtime", "cobol"),
    ("Handler: handler\n", "Handler", "module.function"),
    ("Handler: app.\n", "Handler", "module.function"),
    ("CodeUri: s3://bucket/key.zip\n", "CodeUri", "not supported locally"),
    ("CodeUri: {Bucket: b, Key: k}\n", "CodeUri", "not supported locally"),
    ("CodeUri: missing-dir/\n", "CodeUri", "does not exist"),
    ("InlineCode: ''\n", "InlineCode", "non-empty string"),
    ("PackageType: Image\n", "PackageType", "container engine"),
    ("Timeout: 0\n", "Timeout", "between 1 and 900"),
    ("Timeout: 901\n", "Timeout", "between 1 and 900"),
    ("Timeout: soon\n", "Timeout", "soon"),
    ("MemorySize: 64\n", "MemorySize", "between 128 and 10240"),
    ("MemorySize: 20000\n", "MemorySize", "between 128 and 10240"),
    ("MemorySize: 128.5\n", "MemorySize", "whole number"),
    ("EphemeralStorage: {Size: 511}\n", "EphemeralStorage.Size", "must be between 512 and 10240, not 511"),
    ("EphemeralStorage: {Size: 10241}\n", "EphemeralStorage.Size", "must be between 512 and 10240, not 10241"),
    ("EphemeralStorage: {Size: 1024.5}\n", "EphemeralStorage.Size", "whole number"),
    ("EphemeralStorage: 1024\n", "EphemeralStorage", "mapping with Size"),
    ("EphemeralStorage: {}\n", "EphemeralStorage", "mapping with Size"),
    ("ReservedConcurrentExecutions: -1\n", "ReservedConcurrentExecutions", "at least 0"),
    ("LoggingConfig: {LogFormat: XML}\n", "LoggingConfig.LogFormat", "Text, JSON"),
    ("LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: LOUD}\n", "LoggingConfig.ApplicationLogLevel", "LOUD"),
    ("Architectures: [sparc]\n", "Architectures", "x86_64, arm64"),
    ("FunctionName: 'has spaces'\n", "FunctionName", "has spaces"),
    ("Timeout: !ImportValue shared-timeout\n", "Timeout", "ImportValue"),
    ("EventInvokeConfig: {MaximumRetryAttempts: 3}\n", "EventInvokeConfig.MaximumRetryAttempts", "between 0 and 2"),
    ("EventInvokeConfig: {MaximumEventAgeInSeconds: 30}\n", "EventInvokeConfig.MaximumEventAgeInSeconds",
     "between 60 and 21600"),
    ("EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: Kafka, Destination: x}}}\n",
     "EventInvokeConfig.DestinationConfig.OnFailure.Type", "Kafka"),
    ("EventInvokeConfig: {DestinationConfig: {OnSuccess: {Type: Lambda}}}\n",
     "EventInvokeConfig.DestinationConfig.OnSuccess.Destination", "required"),
    ("Events:\n  E: {Type: Api, Properties: {Path: hello, Method: get}}\n", "Events.E.Path", "must start with /"),
    ("Events:\n  E: {Type: Api, Properties: {Path: /hello, Method: fetch}}\n", "Events.E.Method", "FETCH"),
    ("Events:\n  E: {Type: Api, Properties: {Path: /hello}}\n", "Events.E.Method", "missing"),
    ("Events:\n  E: {Type: HttpApi, Properties: {Method: get}}\n", "Events.E.Path", "missing"),
    ("Events:\n  E: {Type: HttpApi, Properties: {PayloadFormatVersion: '3.0'}}\n",
     "Events.E.PayloadFormatVersion", "3.0"),
    ("Events:\n  E: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref Nope}}\n",
     "Events.E.RestApiId", "Nope"),
])
def test_bad_values_name_file_resource_and_property(tmp_path, props, prop, fragment):
    path = one_function(tmp_path, props)
    text = path.read_text()
    if props.startswith(("Runtime", "Handler", "CodeUri")):     # replace the default rather than repeat the key
        key = props.split(":")[0]
        text = "\n".join(line for line in text.splitlines()
                         if not (line.strip().startswith(key + ":") and line.strip() != props.strip()))
        path.write_text(text + "\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    message = str(info.value)
    assert str(path) in message
    assert "resource Fn" in message
    assert f"property {prop}" in message
    assert fragment in message
    assert info.value.resource == "Fn" and info.value.prop == prop


def test_missing_handler_and_runtime(tmp_path):
    path = write(tmp_path, """\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Runtime: python3.12
        """)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.prop == "Handler" and "resource Fn" in str(info.value)
    path.write_text(path.read_text().replace("Runtime: python3.12", "Handler: app.handler"))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.prop == "Runtime"


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [unclosed\n"
                           "  Other: 1\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert str(path) in str(info.value)
    assert "line 5" in str(info.value)


def test_malformed_yaml_bad_indentation(tmp_path):
    path = write(tmp_path, "Resources:\n  Fn:\n    Type: X\n   Properties: {}\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert "line 4" in str(info.value)


def test_template_without_resources(tmp_path):
    with pytest.raises(TemplateError) as info:
        load_template(write(tmp_path, "Description: nothing\n"))
    assert "Resources" in str(info.value)


def test_duplicate_function_names(tmp_path):
    path = one_function(tmp_path, "FunctionName: same\n", extra="""\
        Two:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, FunctionName: same}
        """)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.resource == "Two" and info.value.prop == "FunctionName"


def test_valid_runtimes_and_handlers(tmp_path):
    (tmp_path / "src" / "pkg" / "sub").mkdir(parents=True)
    for runtime, handler in [("python3.8", "pkg/sub/module.handler"), ("python3.14", "app.handler"),
                             ("nodejs24.x", "src/index.handler"), ("java21", "example.Handler::handleRequest"),
                             ("provided.al2023", "bootstrap"), ("ruby3.3", "app.lambda_handler"),
                             ("dotnet8", "Asm::Ns.Class::Method")]:
        path = one_function(tmp_path)
        path.write_text(path.read_text().replace("python3.12", runtime).replace("app.handler", handler))
        fn = load_template(path).functions["Fn"]
        assert (fn.runtime, fn.handler) == (runtime, handler)


def test_function_properties(tmp_path):
    path = one_function(tmp_path, """\
        FunctionName: my-function
        Timeout: "2.5"
        MemorySize: "1024"
        ReservedConcurrentExecutions: 0
        Architectures: [arm64]
        LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: DEBUG}
        EventInvokeConfig:
          MaximumRetryAttempts: 0
          MaximumEventAgeInSeconds: 60
          DestinationConfig:
            OnSuccess: {Type: SQS, Destination: !GetAtt Queue.Arn}
            OnFailure: {Type: SNS}
        """, extra="Queue:\n  Type: AWS::SQS::Queue\n  Properties: {QueueName: done-queue}\n")
    fn = load_template(path).find_function("my-function")
    assert fn.logical_id == "Fn"
    assert fn.timeout_s == 2.5 and fn.memory_mb == 1024
    assert fn.reserved_concurrency == 0
    assert fn.architecture == "arm64"
    assert (fn.log_format, fn.log_level) == ("JSON", "DEBUG")
    assert fn.event_invoke.maximum_retry_attempts == 0
    assert fn.event_invoke.maximum_event_age_s == 60
    assert fn.event_invoke.on_success == DestinationSpec("SQS", "arn:aws:sqs:us-east-1:123456789012:done-queue")
    # no Destination: the topic SAM would create for it
    assert fn.event_invoke.on_failure == DestinationSpec(
        "SNS", "arn:aws:sns:us-east-1:123456789012:FnEventInvokeConfigOnFailureTopic")


def test_event_invoke_config_from_globals(tmp_path):
    path = one_function(tmp_path, header="""\
        Globals:
          Function:
            EventInvokeConfig: {MaximumRetryAttempts: 1}
        """)
    fn = load_template(path).functions["Fn"]
    assert fn.event_invoke.maximum_retry_attempts == 1 and fn.event_invoke.maximum_event_age_s == 21600


def test_plain_lambda_function(tmp_path):
    path = write(tmp_path, """\
        Resources:
          Plain:
            Type: AWS::Lambda::Function
            Properties:
              Code: src
              Handler: app.handler
              Runtime: python3.11
              Timeout: 30
              Environment: {Variables: {K: v}}
        """)
    fn = load_template(path).functions["Plain"]
    assert (fn.code_dir, fn.timeout_s, fn.environment) == (str(tmp_path / "src"), 30, {"K": "v"})
    path.write_text(path.read_text().replace("Runtime: python3.11", "Runtime: java21"))
    path.write_text(path.read_text().replace("Code: src", "Code: {ZipFile: 'class A {}'}"))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.prop == "Code.ZipFile" and "Python and Node.js" in str(info.value)


def test_code_uri_defaults_to_the_template_directory(tmp_path):
    path = write(tmp_path, """\
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Handler: src/app.handler, Runtime: python3.12}
        """)
    fn = load_template(path).functions["Fn"]
    assert fn.code_dir == str(tmp_path)
    assert load_template(path).warnings == ()


# --- APIs and routes -------------------------------------------------------------------------------

def test_http_api_default_route_and_payload_formats(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Catch:
            Type: HttpApi
          Old:
            Type: HttpApi
            Properties: {Path: /old, Method: any, PayloadFormatVersion: "1.0"}
          New:
            Type: HttpApi
            Properties: {Path: "/items/{id}", Method: Post, OperationName: CreateItem}
        """)
    template = load_template(path)
    api = template.apis["ServerlessHttpApi"]
    assert (api.kind, api.stage_name, api.cors) == ("HTTP", "$default", None)
    routes = {(r.method, r.path): r for r in template.routes}
    assert routes[("ANY", "$default")].payload_format == "2.0"
    assert routes[("ANY", "/old")].payload_format == "1.0"
    assert routes[("POST", "/items/{id}")].payload_format == "2.0"
    assert routes[("POST", "/items/{id}")].operation_name == "CreateItem"
    assert all(r.api is api for r in template.routes)


def test_explicit_rest_api(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Get:
            Type: Api
            Properties:
              Path: /pets/{id}
              Method: GET
              RestApiId: !Ref MyApi
          Any:
            Type: Api
            Properties: {Path: "/{proxy+}", Method: any, RestApiId: MyApi}
        """, header="Parameters:\n  Stage: {Type: String, Default: v1}\n", extra="""\
        MyApi:
          Type: AWS::Serverless::Api
          Properties:
            StageName: !Ref Stage
            Variables: {Backend: blue, Port: 8080, Flag: true}
            BinaryMediaTypes: ["image~1png", "*~1*"]
        """)
    template = load_template(path)
    assert list(template.apis) == ["MyApi"]
    api = template.apis["MyApi"]
    assert (api.kind, api.stage_name) == ("REST", "v1")
    assert api.stage_variables == {"Backend": "blue", "Port": "8080", "Flag": "true"}
    assert api.binary_media_types == ("image/png", "*/*")
    assert {(r.method, r.path, r.payload_format) for r in template.routes} == {
        ("GET", "/pets/{id}", "1.0"), ("ANY", "/{proxy+}", "1.0")}
    assert all(r.api is api for r in template.routes)


def test_explicit_http_api(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Get:
            Type: HttpApi
            Properties: {ApiId: !Ref Http, Path: /h, Method: get}
        """, extra="""\
        Http:
          Type: AWS::Serverless::HttpApi
          Properties:
            StageVariables: {Color: red}
            DefinitionBody: {openapi: "3.0.1", paths: {}}
        Staged:
          Type: AWS::Serverless::HttpApi
          Properties: {StageName: beta}
        """)
    template = load_template(path)
    assert template.apis["Http"].stage_name == "$default"
    assert template.apis["Http"].stage_variables == {"Color": "red"}
    assert template.apis["Staged"].stage_name == "beta"
    assert [(r.api.logical_id, r.method, r.path) for r in template.routes] == [("Http", "GET", "/h")]
    assert not any("not read" in w for w in template.warnings)     # the DefinitionBody is read now


def test_explicit_api_requires_stage_name(tmp_path):
    path = one_function(tmp_path, extra="MyApi:\n  Type: AWS::Serverless::Api\n  Properties: {}\n")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.resource == "MyApi" and info.value.prop == "StageName"


ALL = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@pytest.mark.parametrize("cors_yaml, expected", [
    # no AllowMethods: empty, so the OPTIONS answer lists the resource's own methods (SAM translator)
    ("\"'*'\"", CorsConfig(allow_origins=("*",), allow_methods=())),
    ("{AllowOrigin: \"'https://example.com'\", AllowMethods: \"'get, post'\", "
     "AllowHeaders: \"'Content-Type,X-Api-Key'\", AllowCredentials: true, MaxAge: \"'600'\"}",
     CorsConfig(allow_origins=("https://example.com",), allow_methods=("GET", "OPTIONS", "POST"),
                allow_headers=("Content-Type", "X-Api-Key"), allow_credentials=True, max_age_s=600)),
    ("{AllowOrigin: \"'*'\", AllowMethods: \"'*'\"}", CorsConfig(allow_origins=("*",), allow_methods=ALL)),
])
def test_rest_cors(tmp_path, cors_yaml, expected):
    path = one_function(tmp_path, extra=f"""\
        MyApi:
          Type: AWS::Serverless::Api
          Properties:
            StageName: prod
            Cors: {cors_yaml}
        """)
    assert load_template(path).apis["MyApi"].cors == expected


@pytest.mark.parametrize("cors_yaml, prop", [
    ("'*'", "Cors.AllowOrigin"),                                       # YAML gives *, unquoted for API GW
    ("{AllowOrigin: \"'*'\", AllowHeaders: Content-Type}", "Cors.AllowHeaders"),
    ("{AllowOrigin: \"'*'\", AllowCredentials: true}", "Cors.AllowCredentials"),
    ("{AllowOrigin: \"'*'\", AllowMethods: \"'FETCH'\"}", "Cors.AllowMethods"),
    # CORS values become response headers: a control character would break the HTTP framing
    ("{AllowOrigin: \"'*'\", AllowHeaders: \"'X-A\\r\\nX-Evil: 1'\"}", "Cors.AllowHeaders"),
    ("\"'https://a.example\\nX-Evil: 1'\"", "Cors.AllowOrigin"),
])
def test_rest_cors_errors(tmp_path, cors_yaml, prop):
    path = one_function(tmp_path, extra=f"""\
        MyApi:
          Type: AWS::Serverless::Api
          Properties: {{StageName: prod, Cors: {cors_yaml}}}
        """)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.resource == "MyApi" and info.value.prop == prop
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cors_yaml, expected", [
    ("true", CorsConfig(allow_origins=("*",), allow_methods=ALL)),
    ("false", None),
    ("{AllowOrigins: [https://a.example, https://b.example], AllowMethods: [GET, post], "
     "AllowHeaders: [Authorization], ExposeHeaders: [X-Request-Id], AllowCredentials: true, MaxAge: 300}",
     CorsConfig(allow_origins=("https://a.example", "https://b.example"), allow_methods=("GET", "OPTIONS", "POST"),
                allow_headers=("Authorization",), expose_headers=("X-Request-Id",), allow_credentials=True,
                max_age_s=300)),
])
def test_http_cors_configuration(tmp_path, cors_yaml, expected):
    path = one_function(tmp_path, """\
        Events:
          Catch: {Type: HttpApi}
        """, header=f"Globals:\n  HttpApi:\n    CorsConfiguration: {cors_yaml}\n")
    assert load_template(path).apis["ServerlessHttpApi"].cors == expected


@pytest.mark.parametrize("cors_yaml, prop", [
    ('{AllowOrigins: "*"}', "CorsConfiguration.AllowOrigins"),
    ('{AllowOrigins: ["*"], ExposeHeaders: ["X-A\\r\\nX-Evil: injected"]}', "CorsConfiguration.ExposeHeaders"),
    ('{AllowOrigins: ["https://a.example\\u0000"]}', "CorsConfiguration.AllowOrigins"),
    ('{AllowOrigins: ["*"], AllowHeaders: ["X-A\\nX-B"]}', "CorsConfiguration.AllowHeaders"),
])
def test_http_cors_configuration_errors(tmp_path, cors_yaml, prop):
    path = one_function(tmp_path, extra=f"""\
        Http:
          Type: AWS::Serverless::HttpApi
          Properties:
            CorsConfiguration: {cors_yaml}
        """)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.resource == "Http" and info.value.prop == prop


def test_other_event_types_warn_once_per_function_and_type(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Every: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
          Nightly: {Type: Schedule, Properties: {Schedule: "cron(0 0 * * ? *)"}}
          Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
          Web: {Type: Api, Properties: {Path: /, Method: get}}
        """)
    template = load_template(path)
    assert [r.path for r in template.routes] == ["/"]
    schedule = [w for w in template.warnings if "Schedule" in w]
    assert len(schedule) == 1 and "Every" in schedule[0] and "Nightly" in schedule[0] and "Fn" in schedule[0]
    assert len([w for w in template.warnings if "SQS" in w]) == 1


def test_route_to_an_api_left_out_by_its_condition(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          Get: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi}}
        """, header="Conditions:\n  Never: !Equals [a, b]\n", extra="""\
        MyApi:
          Type: AWS::Serverless::Api
          Condition: Never
          Properties: {StageName: prod}
        """)
    template = load_template(path)
    assert template.routes == () and template.apis == {}
    assert any("MyApi" in w for w in template.warnings)


def test_duplicate_routes_last_wins_with_a_warning(tmp_path):
    path = one_function(tmp_path, """\
        Events:
          A: {Type: Api, Properties: {Path: /x, Method: get}}
        """, extra="""\
        Second:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: src/
            Handler: app.handler
            Runtime: python3.12
            Events:
              B: {Type: Api, Properties: {Path: /x, Method: GET}}
        """)
    template = load_template(path)
    assert [(r.method, r.path, r.function) for r in template.routes] == [("GET", "/x", "Second")]
    assert any("/x" in w for w in template.warnings)
