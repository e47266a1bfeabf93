"""A tiny pets store. State lives in the warm worker only: on AWS, as here, it is
lost when the environment goes away, so real apps keep it in a database."""
import json
import os

PETS = {"1": {"id": "1", "name": "Rex", "kind": "dog"}, "2": {"id": "2", "name": "Tom", "kind": "cat"}}


def _response(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    if event.get("version") == "2.0":  # HTTP API, payload 2.0: a bare dict is turned into JSON by API Gateway
        pet = PETS.get(event["pathParameters"]["petId"])
        return pet if pet else {"statusCode": 404, "body": json.dumps({"message": "no such pet"})}
    method = event["httpMethod"]
    if method == "POST":
        try:
            pet = json.loads(event["body"] or "")
        except ValueError:
            return _response(400, {"message": "body must be JSON"})
        pet["id"] = str(len(PETS) + 1)
        PETS[pet["id"]] = pet
        return _response(201, pet)
    params = event.get("pathParameters") or {}
    if "petId" in params:
        pet = PETS.get(params["petId"])
        return _response(200, pet) if pet else _response(404, {"message": "no such pet"})
    kind = (event.get("queryStringParameters") or {}).get("kind")
    pets = [p for p in PETS.values() if kind is None or p.get("kind") == kind]
    return _response(200, {"greeting": os.environ["GREETING"], "pets": pets,
                           "stage": event["requestContext"]["stage"]})
