"""An unmodified aws-lambda-powertools REST resolver app (behind Api routes)."""
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

app = APIGatewayRestResolver()
ITEMS = {"1": {"id": "1", "name": "lamp"}}


@app.get("/pt/items/<item_id>")
def get_item(item_id: str):
    event = app.current_event
    return {
        "item": ITEMS.get(item_id, {"id": item_id}),
        "q": event.get_query_string_value("q"),
        "tags": (event.multi_value_query_string_parameters or {}).get("tag", []),
        "client_header": event.headers.get("x-client"),
        "stage": event.request_context.stage,
        "source_ip": event.request_context.identity.source_ip,
    }


@app.post("/pt/items")
def create_item():
    item = app.current_event.json_body
    ITEMS[item["id"]] = item
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=item,
                    headers={"X-Created-By": "powertools-rest", "X-Multi": ["a", "b"]},
                    cookies=[Cookie(name="session", value="s-123", path="/", http_only=True)])


@app.get("/pt/boom")
def boom():
    raise RuntimeError("secret failure detail 9876")


def handler(event, context):
    return app.resolve(event, context)
