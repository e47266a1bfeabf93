"""Returns the event it received as the JSON body, so tests can see exactly what API Gateway sent."""
import json


def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
