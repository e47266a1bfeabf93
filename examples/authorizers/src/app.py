"""The integrations: each answers with what API Gateway let through."""
import json


def whoami(event, context):
    request_context = event["requestContext"]
    identity = request_context.get("identity") or {}
    body = {
        "path": event.get("rawPath") or event.get("path"),
        "authorizer": request_context.get("authorizer"),
        "apiKey": identity.get("apiKey"),
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def create_pet(event, context):
    # the request validator already checked the body against the Pet model
    pet = json.loads(event["body"])
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"created": pet})}
