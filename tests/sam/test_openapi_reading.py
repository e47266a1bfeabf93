"""Reading an API's OpenAPI document (gateway.sam.openapi): DefinitionBody / DefinitionUri and
Body / BodyS3Location, AWS::Include, intrinsics, the functions its integration URIs name, its
API-level extensions, and the errors that name the file and property when it cannot be read."""
from __future__ import annotations

import pytest

from gateway.errors import TemplateError
from gateway.sam.openapi import api_key_source, binary_media_types
from gateway.sam.template import load_template
from support.openapi_templates import (ONE_FUNCTION, OPENAPI_FIXTURES, loader_for, openapi_api, read_api, row,
                                       write)


def test_inline_definition_resolves_intrinsics_leniently_and_reads_includes():
    routes, _, warnings = read_api(OPENAPI_FIXTURES / "inline-template.yaml", "HelloApi")
    assert [row(r)[:5] for r in routes.values()] == [
        ("GET", "/hello", "HelloFunction", "1.0", "AWS_PROXY"),
        ("GET", "/debug", "HelloFunction", "1.0", "AWS_PROXY"),
        ("GET", "/ping", "HelloFunction", "1.0", "AWS_PROXY"),     # the path item AWS::Include brought in
        ("GET", "/mocked", "", "1.0", "MOCK"),
    ]
    assert "API HelloApi: DefinitionBody at #/info/description: Fn::ImportValue reads another stack's exports, " \
           "which do not exist locally; left unresolved" in warnings

    loader, _ = loader_for(OPENAPI_FIXTURES / "inline-template.yaml", {"Stage": "prod"})
    doc = loader._definition(loader.live["HelloApi"][1], "HelloApi", "DefinitionBody", "DefinitionUri")
    assert doc["info"]["title"] == "hello-prod"
    assert doc["info"]["description"] == {"Fn::ImportValue": "shared-api-description"}
    assert sorted(doc["paths"]) == ["/hello", "/mocked", "/ping"]            # Fn::If gave AWS::NoValue


def test_aws_include_as_a_key_merges_with_its_siblings(tmp_path):
    write(tmp_path, """\
        paths:
          /included:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: !GetAtt Fn.Arn
        """, "paths.yaml")
    template = write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionBody:
            openapi: "3.0.1"
            info: {title: merged, version: "1"}
            Fn::Transform:
              Name: AWS::Include
              Parameters:
                Location: paths.yaml
    """)
    routes, _, warnings = read_api(template, "Api")
    assert [row(r) for r in routes.values()] == [
        ("GET", "/included", "Fn", "2.0", "AWS_PROXY", None, None, (), False)]
    assert warnings == []


def test_definition_uri_file_may_be_json_and_intrinsics_in_it_are_flagged(tmp_path):
    write(tmp_path, """\
        {"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
         "paths": {"/json": {"post": {"x-amazon-apigateway-integration": {
             "type": "aws_proxy", "payloadFormatVersion": "1.0",
             "uri": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Other.Arn}/invocations"}}}}}}
        """, "api.json")
    template = write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionUri: api.json
    """)
    routes, _, warnings = read_api(template, "Api")
    assert [row(r)[:5] for r in routes.values()] == [("POST", "/json", "Other", "1.0", "AWS_PROXY")]
    assert warnings == ["API Api: DefinitionUri holds intrinsic functions, which AWS does not resolve in a file "
                        "(only DefinitionBody, directly or through AWS::Include); lambdagate resolves them"]


@pytest.mark.parametrize("props, prop, words", [
    ({"DefinitionUri": "missing/openapi.yaml"}, "DefinitionUri", ["missing/openapi.yaml", "not found"]),
    ({"DefinitionUri": "s3://my-bucket/specs/openapi.yaml"}, "DefinitionUri",
     ["s3://my-bucket/specs/openapi.yaml", "Amazon S3", "local file"]),
    ({"DefinitionUri": {"Bucket": "my-bucket", "Key": "openapi.yaml", "Version": "3"}}, "DefinitionUri",
     ["s3://my-bucket/openapi.yaml", "Amazon S3"]),
    ({"BodyS3Location": {"Bucket": "my-bucket", "Key": "openapi.yaml"}}, "BodyS3Location", ["Amazon S3"]),
    ({"DefinitionBody": {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "gone.yaml"}}}},
     "DefinitionBody (AWS::Include Location)", ["gone.yaml", "not found"]),
    ({"DefinitionBody": {"Fn::Transform": {"Name": "AWS::Include",
                                           "Parameters": {"Location": "s3://bucket/openapi.yaml"}}}},
     "DefinitionBody (AWS::Include Location)", ["s3://bucket/openapi.yaml", "Amazon S3"]),
    ({"DefinitionBody": {"Fn::Transform": {"Name": "AWS::CodeDeployBlueGreen"}}}, "DefinitionBody",
     ["AWS::CodeDeployBlueGreen", "only AWS::Include"]),
    ({"DefinitionUri": "broken.yaml"}, "DefinitionUri", ["broken.yaml", "malformed YAML at line"]),
    ({"DefinitionUri": "list.yaml"}, "DefinitionUri", ["must be an OpenAPI document"]),
    ({"DefinitionBody": {"openapi": "3.0.1"}, "DefinitionUri": "api.yaml"}, "DefinitionBody",
     ["either 'DefinitionUri' or 'DefinitionBody'"]),
])
def test_a_definition_that_cannot_be_read_is_an_error_naming_the_file_and_property(tmp_path, props, prop, words):
    (tmp_path / "broken.yaml").write_text("openapi: 3.0.1\npaths: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- openapi\n- 3.0.1\n")
    loader, _ = loader_for(write(tmp_path, ONE_FUNCTION))
    body, uri = ("Body", "BodyS3Location") if "BodyS3Location" in props else ("DefinitionBody", "DefinitionUri")
    with pytest.raises(TemplateError) as caught:
        loader._definition(props, "Api", body, uri)
    assert (caught.value.resource, caught.value.prop) == ("Api", prop)
    assert str(tmp_path / "template.yaml") in str(caught.value)
    for word in words:
        assert word in str(caught.value)
    if "not found" in words:          # the file is named where it was looked for: next to the template
        assert str(tmp_path / words[0]) in caught.value.message


# --------------------------------------------------------------------------- integration URIs

URI_CASES = [
    ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
     "arn:aws:lambda:us-east-1:123456789012:function:named-fn/invocations", "Fn"),       # by FunctionName
    ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
     "arn:aws:lambda:us-east-1:123456789012:function:Other/invocations", "Other"),       # by logical id
    ("arn:aws:lambda:us-east-1:123456789012:function:named-fn", "Fn"),                   # HTTP API: bare ARN
    ("arn:aws:lambda:us-east-1:123456789012:function:named-fn:live", "Fn"),              # alias
    ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
     "arn:aws:lambda:us-east-1:123456789012:function:Other:7/invocations", "Other"),     # version
    ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
     "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.target}/invocations", "Other"),
    ("arn:aws:lambda:us-east-1:123456789012:function:named-fn:${stageVariables.alias}", "Fn"),
    ({"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"}, "Fn"),
    ({"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Other.Alias}/invocations"},
     "Other"),                                                                           # SAM's AutoPublishAlias
    ({"Fn::GetAtt": ["Other", "Arn"]}, "Other"),
    ({"Fn::Join": ["", ["arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                        {"Fn::GetAtt": ["Fn", "Arn"]}, "/invocations"]]}, "Fn"),
]


@pytest.mark.parametrize("uri, expected", URI_CASES)
def test_function_for_uri_finds_the_template_function(tmp_path, uri, expected):
    loader, loaded = loader_for(write(tmp_path, ONE_FUNCTION))
    variables = {"target": "Other", "alias": "live"}
    assert loader._function_for_uri(uri, loaded.functions, "API Api: GET /x", variables) == expected
    assert loader.warnings == []


@pytest.mark.parametrize("uri, words", [
    ("arn:aws:lambda:us-east-1:123456789012:function:not-here", ["function:not-here is not a function"]),
    ("https://example.com/backend", ["is not a Lambda function URI"]),
    ("arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.unset}", ["stage variable unset"]),
    ({"Fn::ImportValue": "shared-function-arn"}, ["cannot be resolved locally", "Fn::ImportValue"]),
    (None, ["None is not a Lambda function URI"]),
])
def test_function_for_uri_warns_naming_where_when_no_template_function_runs(tmp_path, uri, words):
    loader, loaded = loader_for(write(tmp_path, ONE_FUNCTION))
    assert loader._function_for_uri(uri, loaded.functions, "API Api: GET /x") is None
    assert len(loader.warnings) == 1
    assert loader.warnings[0].startswith("API Api: GET /x: ")
    assert loader.warnings[0].endswith("lambdagate cannot invoke it, so its requests get API Gateway's 500")
    for word in words:
        assert word in loader.warnings[0]


# --------------------------------------------------------------------------- API-level extensions

def test_api_key_source_and_binary_media_types_read_the_document_extensions(tmp_path):
    loader, _ = loader_for(OPENAPI_FIXTURES / "rest-template.yaml")
    doc = loader._definition(loader.live["PetStoreApi"][1], "PetStoreApi", "DefinitionBody", "DefinitionUri")
    assert api_key_source(doc) == "HEADER"
    assert binary_media_types(doc) == ("image/png", "application/octet-stream")
    assert api_key_source({"x-amazon-apigateway-api-key-source": "authorizer"}) == "AUTHORIZER"
    assert api_key_source({"x-amazon-apigateway-api-key-source": "QUERY"}) is None
    assert api_key_source({"openapi": "3.0.1"}) is None
    assert binary_media_types({"openapi": "3.0.1"}) == ()
    extra = "\n            x-amazon-apigateway-api-key-source: QUERY"
    _, _, warnings = read_api(openapi_api(tmp_path, False, "{}", "{}", extra), "Api")
    assert warnings == ["API Api: x-amazon-apigateway-api-key-source must be HEADER or AUTHORIZER, not 'QUERY'; "
                        "ignored"]


# --------------------------------------------------------------------------- through the template loader

def test_raw_cloudformation_apis_imported_from_body_serve_their_routes():
    template = load_template(OPENAPI_FIXTURES / "cfn-body-template.yaml")
    assert sorted((r.api.logical_id, r.method, r.path, r.function, r.payload_format, r.integration)
                  for r in template.routes) == [
        ("HelloHttpApi", "GET", "/http/hello", "HelloFunction", "2.0", "AWS_PROXY"),
        ("HelloHttpApi", "GET", "/http/status", "", "1.0", "HTTP_PROXY"),
        ("HelloRestApi", "GET", "/hello", "HelloFunction", "1.0", "AWS_PROXY"),
        ("HelloRestApi", "GET", "/mocked", "", "1.0", "MOCK"),
    ]


def test_body_s3_location_of_a_rest_api_is_an_error_naming_the_property(tmp_path):
    template = write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::ApiGateway::RestApi
        Properties:
          BodyS3Location: {Bucket: specs, Key: api.yaml}
    """)
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    assert (caught.value.resource, caught.value.prop) == ("Api", "BodyS3Location")
    assert "s3://specs/api.yaml" in caught.value.message


def test_a_missing_definition_uri_stops_the_template_naming_file_and_property(tmp_path):
    template = write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: v1
          DefinitionUri: specs/openapi.yaml
    """)
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    assert (caught.value.resource, caught.value.prop) == ("Api", "DefinitionUri")
    assert str(tmp_path / "specs" / "openapi.yaml") in caught.value.message
