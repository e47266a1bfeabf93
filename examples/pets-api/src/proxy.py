"""Greedy proxy: serves every path under /files/ (REST) and the HTTP API's $default route."""


def handler(event, context):
    if event.get("version") == "2.0":
        return {"route": event["routeKey"], "path": event["rawPath"], "method": event["requestContext"]["http"]["method"]}
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
            "body": f"{event['httpMethod']} file {event['pathParameters']['proxy']}\n"}
