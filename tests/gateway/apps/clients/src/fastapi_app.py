"""An unmodified FastAPI app wrapped with Mangum (served behind an Api and an HttpApi route)."""
from typing import List, Optional

from fastapi import FastAPI, Query, Request, Response
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI()


class Order(BaseModel):
    item: str
    quantity: int


@app.get("/")
def root():
    return {"app": "fastapi"}


@app.get("/users/{user_id}")
def get_user(user_id: int, request: Request, response: Response, verbose: bool = False,
             tag: List[str] = Query(default=[])):
    response.headers["X-App"] = "fastapi"
    return {"user_id": user_id, "verbose": verbose, "tags": tag, "theme": request.cookies.get("theme"),
            "client_header": request.headers.get("x-client"), "url_path": request.url.path}


@app.post("/orders", status_code=201)
def create_order(order: Order, response: Response, coupon: Optional[str] = None):
    response.set_cookie("order_session", "o-42", httponly=True)
    return {"order": order.model_dump(), "coupon": coupon}


handler = Mangum(app, lifespan="off")
