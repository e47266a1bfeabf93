"""Never run: test_surface.py drives these routes with a fake invoker."""


def handler(event, context):
    return {"statusCode": 200, "body": ""}
