// Compiled with `tsc --strict` against the types `openapi-typescript` generates from the
// served document (scripts/openapi-check.sh writes them to ./schema.d.ts): what a storefront
// developer would write. It fails to compile when the document loses a type a client needs
// (the enums, the required fields, the operation names).
import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];
type Product = Schemas["ProductResponse"];
type Order = Schemas["OrderResponse"];
type Problem = Schemas["Problem"];

// The list of products is a page of products, not of orders.
type ProductList =
  operations["list_products"]["responses"][200]["content"]["application/json"];
const firstName = (page: ProductList): string | undefined => page.items[0]?.name;

// Fields that are always sent are required; `description` may be null but is there.
const describe = (p: Product): string => p.description ?? `${p.name} (${p.sku})`;

// Order status and roles are closed sets.
const status: Order["status"] = "pending";
const next: Schemas["OrderStatusRequest"] = { status: "paid" };
const admin: Schemas["UserResponse"]["roles"][number] = "admin";
// @ts-expect-error: not a status
const wrong: Order["status"] = "lost";

// Placing an order: the body, and `Idempotency-Key` as a plain string header.
type Place = operations["place_order"];
const body: Place["requestBody"]["content"]["application/json"] = {
  items: [{ product_id: "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", quantity: 2 }],
};
const headers: NonNullable<Place["parameters"]["header"]> = {
  "Idempotency-Key": "order-42",
};
type Placed = Place["responses"][201];
const location = (r: Placed): string => r.headers.Location;

// Money carries its currency's digits as text.
const price: Schemas["Money"] = { amount: "19.99", currency: "EUR" };

// Every error is a problem with a `type` and a status.
const explain = (p: Problem): string => `${p.status} ${p.type}: ${p.detail}`;
type TooMany = Place["responses"][429];
const retryAfter = (r: TooMany): number => r.headers["Retry-After"];

// The paths as generated clients (openapi-fetch) key them.
type ImageDelete = paths["/api/v1/products/{id}/images/{image_id}"]["delete"];
const deleteImage: ImageDelete["parameters"]["path"] = { id: "p", image_id: "i" };

export {
  firstName, describe, status, next, admin, wrong, body, headers, location, price, explain,
  retryAfter, deleteImage,
};
