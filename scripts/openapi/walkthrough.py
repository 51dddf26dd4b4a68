"""The README's walk-through with nothing but the client openapi-python-client generates from
the served document (scripts/openapi-check.sh generates it as the package `shop_client` and
runs this against the real binary): register, sign in, create a product, place an order with
an idempotency key (twice: the second answers the same order), cancel it, and read an error
as a problem.

Environment: SHOP_BASE_URL (the service), SHOP_CLI (the `shop` binary, for `create-admin`,
as the README does it, with the password in SHOP_ADMIN_PASSWORD). The rest of the environment
(the service's DATABASE_URL, DATA_DIR, ...) is handed on to `create-admin`.
"""

import os
import subprocess
import sys
import uuid

from shop_client import AuthenticatedClient, Client
from shop_client.api.auth import register_user, sign_in
from shop_client.api.orders import cancel_order, get_order, place_order
from shop_client.api.products import create_product, get_product, list_products
from shop_client.api.users import get_current_user
from shop_client.models import (
    CreateProductRequest,
    LoginRequest,
    MoneyWith2MinorDigits,
    MoneyWith2MinorDigitsCurrency,
    OrderItemRequest,
    OrderResponse,
    OrderStatus,
    PlaceOrderRequest,
    Problem,
    ProductPage,
    ProductResponse,
    RegisterRequest,
    Role,
    TokensResponse,
    UserResponse,
)

BASE = os.environ["SHOP_BASE_URL"]


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"walk-through: {what}")
    print(f"  ok: {what}")


def signed_in(username: str, password: str) -> AuthenticatedClient:
    response = sign_in.sync_detailed(
        client=Client(base_url=BASE),
        body=LoginRequest(username=username, password=password),
    )
    check(response.status_code == 200, f"{username} signs in (got {response.status_code})")
    tokens = response.parsed
    assert isinstance(tokens, TokensResponse)
    return AuthenticatedClient(base_url=BASE, token=tokens.access_token)


def main() -> None:
    anonymous = Client(base_url=BASE)
    run = uuid.uuid4().hex[:8]

    # an account (role `user`)
    email, password = f"ann-{run}@example.com", "correct horse battery"
    registered = register_user.sync_detailed(
        client=anonymous, body=RegisterRequest(email=email, password=password)
    )
    check(registered.status_code == 201, f"registers {email} (got {registered.status_code})")
    user = registered.parsed
    assert isinstance(user, UserResponse)
    check(user.roles == [Role.USER], "the new account has the role `user`")
    check(user.first_name is None, "an unset first name comes back as None")
    check(
        registered.headers.get("location") == f"/api/v1/users/{user.id}",
        "Location names the account",
    )

    # an admin, as the README makes one: the password in SHOP_ADMIN_PASSWORD, so it shows in
    # no process list
    admin_email, admin_password = f"admin-{run}@example.com", "change me now"
    subprocess.run(
        [os.environ["SHOP_CLI"], "create-admin", "--email", admin_email],
        env={**os.environ, "SHOP_ADMIN_PASSWORD": admin_password},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    admin = signed_in(admin_email, admin_password)

    # add a product
    created = create_product.sync_detailed(
        client=admin,
        body=CreateProductRequest(
            sku=f"MUG-{run}",
            name="Stoneware mug",
            price=MoneyWith2MinorDigits(amount="14.90", currency=MoneyWith2MinorDigitsCurrency.EUR),
            stock=25,
        ),
    )
    check(created.status_code == 201, f"the admin creates a product (got {created.status_code})")
    product = created.parsed
    assert isinstance(product, ProductResponse)
    check(product.description is None and product.images == [], "no description, no images yet")

    # anyone can browse and search
    found = list_products.sync(client=anonymous, q="stoneware", per_page=10)
    assert isinstance(found, ProductPage)
    check(any(p.id == product.id for p in found.items), "the product is found by search")

    # the user orders two, with an idempotency key, and the retry answers the same order
    ann = signed_in(email, password)
    me = get_current_user.sync(client=ann)
    assert isinstance(me, UserResponse)
    key = f"walkthrough-{run}"
    body = PlaceOrderRequest(items=[OrderItemRequest(product_id=product.id, quantity=2)])
    placed = place_order.sync_detailed(client=ann, body=body, idempotency_key=key)
    check(placed.status_code == 201, f"places an order (got {placed.status_code})")
    order = placed.parsed
    assert isinstance(order, OrderResponse)
    check(order.status == OrderStatus.PENDING and order.user_id == me.id, "pending, and hers")
    check(order.total.amount == "29.80", f"the total is 29.80 (got {order.total.amount})")
    check("idempotent-replayed" not in placed.headers, "the first answer is no replay")
    again = place_order.sync_detailed(client=ann, body=body, idempotency_key=key)
    check(again.status_code == 201, "the retry answers 201")
    check(again.headers.get("idempotent-replayed") == "true", "the retry is a replay")
    assert isinstance(again.parsed, OrderResponse)
    check(again.parsed.id == order.id, "the retry answers the same order")
    stock = get_product.sync(product.id, client=anonymous)
    assert isinstance(stock, ProductResponse)
    check(stock.stock == 23, f"stock was taken once (got {stock.stock})")

    # cancel it: the stock goes back
    cancelled = cancel_order.sync(order.id, client=ann)
    assert isinstance(cancelled, OrderResponse)
    check(cancelled.status == OrderStatus.CANCELLED, "the order is cancelled")
    stock = get_product.sync(product.id, client=anonymous)
    assert isinstance(stock, ProductResponse)
    check(stock.stock == 25, "the stock is back")

    # errors are problems the client reads
    again = cancel_order.sync_detailed(order.id, client=ann)
    check(again.status_code == 409, "cancelling twice is 409")
    problem = again.parsed
    assert isinstance(problem, Problem)
    check(problem.type_ == "/problems/conflict", f"a problem of type conflict ({problem.type_})")
    page = anonymous.get_httpx_client().get(problem.type_)
    check(page.status_code == 200 and "Conflict" in page.text, "its type has a page")
    missing = get_order.sync_detailed(uuid.uuid4(), client=ann)
    check(missing.status_code == 404 and isinstance(missing.parsed, Problem), "404 is a problem")
    print("walk-through: done")


if __name__ == "__main__":
    main()
