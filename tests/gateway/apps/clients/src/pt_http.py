"""An unmodified aws-lambda-powertools HTTP API resolver app (behind HttpApi routes, payload 2.0)."""
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

app = APIGatewayHttpResolver()


@app.get("/pt/items/<item_id>")
def get_item(item_id: str):
    event = app.current_event
    return {
        "item_id": item_id,
        "q": event.get_query_string_value("q"),
        "tags": (event.query_string_parameters or {}).get("tag"),
        "cookies": event.cookies,
        "client_header": event.headers.get("x-client"),
        "path": event.path,
        "raw_path": event.raw_path,
        "route_key": event.route_key,
        "source_ip": event.request_context.http.source_ip,
    }


@app.post("/pt/items")
def create_item():
    item = app.current_event.json_body
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body={"created": item},
                    headers={"X-Created-By": "powertools-http"},
                    cookies=[Cookie(name="session", value="s-456", path="/", http_only=True),
                             Cookie(name="theme", value="dark", path="/", secure=False)])


@app.get("/pt/teapot")
def teapot():
    return Response(status_code=418, content_type=content_types.TEXT_PLAIN, body="short and stout")


def handler(event, context):
    return app.resolve(event, context)
