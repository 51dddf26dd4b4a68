use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Address, CountryCode, Currency, IdempotencyRecord, KeyPart, Money, Order, OrderId, OrderLine,
    OrderRepository, OrderStatus, Page, PageRequest, PendingEvent, PlaceOrderError, ProductId,
    ProductName, Quantity, RepositoryError, Sku, Stock, UserId, VariantId,
};
use uuid::Uuid;

use super::events::write_events;
use super::{Database, corrupt, fetch_in, fetch_newest_by_id, map_err, on_db};
use application::ports::{OrderFilter, OrderReadModel};

macro_rules! order_columns {
    () => {
        "id, user_id, status, total_minor, currency, ship_line1, ship_line2, ship_city, \
         ship_postal_code, ship_country, ship_state, created_at, updated_at"
    };
}
/// The columns an order is read from: those it is placed with, and those checkout adds (0013).
macro_rules! order_read_columns {
    () => {
        "id, user_id, status, total_minor, currency, ship_line1, ship_line2, ship_city, \
         ship_postal_code, ship_country, ship_state, created_at, updated_at, email, \
         subtotal_minor, discount_total_minor, shipping_total_minor, tax_total_minor, \
         discount_code, shipping_option, payment_status, token_hash, cart_id"
    };
}
macro_rules! line_columns {
    () => {
        "order_id, line_no, product_id, sku, name, unit_price_minor, currency, quantity, line_total_minor, \
         variant_id, variant_title"
    };
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    user_id: Uuid,
    status: String,
    total_minor: i64,
    currency: String,
    ship_line1: Option<String>,
    ship_line2: Option<String>,
    ship_city: Option<String>,
    ship_postal_code: Option<String>,
    ship_country: Option<String>,
    ship_state: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    email: Option<String>,
    subtotal_minor: i64,
    discount_total_minor: i64,
    shipping_total_minor: i64,
    tax_total_minor: i64,
    discount_code: Option<String>,
    shipping_option: Option<String>,
    payment_status: String,
    token_hash: Option<String>,
    cart_id: Option<Uuid>,
}

/// The `shipping_option` column: the option as the order was checked out with it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredShipping {
    option_id: Uuid,
    name: String,
    amount_minor: i64,
}

fn shipping_json(choice: Option<&domain::ShippingChoice>) -> Option<String> {
    choice.and_then(|c| {
        serde_json::to_string(&StoredShipping {
            option_id: c.option_id.as_uuid(),
            name: c.name.clone(),
            amount_minor: c.amount.minor(),
        })
        .ok()
    })
}

#[derive(sqlx::FromRow)]
struct LineRow {
    order_id: Uuid,
    #[allow(dead_code)]
    line_no: i64,
    product_id: Uuid,
    sku: String,
    name: String,
    unit_price_minor: i64,
    currency: String,
    quantity: i64,
    line_total_minor: i64,
    /// Written on every line (SQLite's column may be null only as far as its schema goes:
    /// the migration filled it in for the lines before variants).
    variant_id: Option<Uuid>,
    variant_title: String,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    user_id: Uuid,
    key: String,
    request_hash: String,
    order_id: Uuid,
    expires_at: DateTime<Utc>,
}

fn money(minor: i64, currency: &str) -> Result<Money, RepositoryError> {
    let c = Currency::parse(currency).map_err(|e| corrupt("currency", e))?;
    Money::from_minor(minor, c).map_err(|e| corrupt("amount", e))
}

fn line_from_row(r: LineRow) -> Result<OrderLine, RepositoryError> {
    Ok(OrderLine {
        product_id: ProductId::from_uuid(r.product_id),
        variant_id: VariantId::from_uuid(r.variant_id.unwrap_or(r.product_id)),
        variant_title: r.variant_title,
        sku: Sku::parse(&r.sku).map_err(|e| corrupt("sku", e))?,
        name: ProductName::parse(&r.name).map_err(|e| corrupt("name", e))?,
        unit_price: money(r.unit_price_minor, &r.currency)?,
        quantity: Quantity::new(r.quantity).map_err(|e| corrupt("quantity", e))?,
        line_total: money(r.line_total_minor, &r.currency)?,
    })
}

fn details_of(r: &OrderRow) -> Result<domain::OrderDetails, RepositoryError> {
    let shipping_option = match &r.shipping_option {
        Some(json) => {
            let s: StoredShipping =
                serde_json::from_str(json).map_err(|e| corrupt("shipping option", e))?;
            Some(domain::ShippingChoice {
                option_id: domain::ShippingOptionId::from_uuid(s.option_id),
                name: s.name,
                amount: money(s.amount_minor, &r.currency)?,
            })
        }
        None => None,
    };
    Ok(domain::OrderDetails {
        email: r
            .email
            .as_deref()
            .map(domain::Email::parse)
            .transpose()
            .map_err(|e| corrupt("email", e))?,
        subtotal: money(r.subtotal_minor, &r.currency)?,
        discount_total: money(r.discount_total_minor, &r.currency)?,
        shipping_total: money(r.shipping_total_minor, &r.currency)?,
        tax_total: money(r.tax_total_minor, &r.currency)?,
        discount_code: r.discount_code.clone(),
        shipping_option,
        payment_status: domain::PaymentStatus::parse(&r.payment_status)
            .map_err(|e| corrupt("payment status", e))?,
        guest_token: r
            .token_hash
            .as_deref()
            .map(domain::TokenHash::from_hex)
            .transpose()
            .map_err(|e| corrupt("token hash", e))?,
        cart_id: r.cart_id.map(domain::CartId::from_uuid),
    })
}

fn order_from_rows(r: OrderRow, lines: Vec<LineRow>) -> Result<Order, RepositoryError> {
    let details = details_of(&r)?;
    let shipping_address = match (
        r.ship_line1,
        r.ship_city,
        r.ship_postal_code,
        r.ship_country,
    ) {
        (Some(line1), Some(city), Some(postal_code), Some(country)) => Some(Address {
            line1,
            line2: r.ship_line2,
            city,
            postal_code,
            country: CountryCode::parse(&country).map_err(|e| corrupt("country", e))?,
            state: r.ship_state,
        }),
        _ => None,
    };
    Ok(Order::restore(
        OrderId::from_uuid(r.id),
        UserId::from_uuid(r.user_id),
        OrderStatus::parse(&r.status).map_err(|e| corrupt("status", e))?,
        lines
            .into_iter()
            .map(line_from_row)
            .collect::<Result<_, _>>()?,
        money(r.total_minor, &r.currency)?,
        shipping_address,
        r.created_at,
        r.updated_at,
    )
    .with_details(details))
}

/// Claims an idempotency key: inserts it, or takes over an expired one; no row changes
/// when a live key holds it. Binds: see [`bind_key!`].
const INSERT_KEY: &str = "INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, expires_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) \
     ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
     order_id = excluded.order_id, expires_at = excluded.expires_at, \
     created_at = excluded.created_at, updated_at = excluded.updated_at \
     WHERE idempotency_keys.expires_at <= $6";

/// Returns a line's quantity to its variant's stock, capped at [`Stock::MAX`]. Binds: variant
/// id, quantity, time.
fn restock_sql(db: &Database) -> String {
    let least = match db {
        Database::Sqlite { .. } => "MIN",
        Database::Postgres(_) => "LEAST",
    };
    format!(
        "UPDATE product_variants SET stock = {least}(stock + $2, {}), updated_at = $3 WHERE id = $1",
        Stock::MAX
    )
}

/// Locks a product's row ahead of its variants' (the order every write takes them in).
/// Binds: product id, time.
const TOUCH_PRODUCT: &str = "UPDATE products SET updated_at = $2 WHERE id = $1";

/// Sets a product's stock to the sum of its variants' (those deleted with it too, when it is
/// deleted). Binds: product id.
const SUM_STOCK: &str = "UPDATE products SET stock = (SELECT COALESCE(SUM(v.stock), 0) \
     FROM product_variants v WHERE v.product_id = products.id \
     AND (v.deleted_at IS NULL OR v.deleted_at = products.deleted_at)) WHERE id = $1";

/// Takes the units of a product's lines from its stock (the sum of its variants'), locking
/// its row first; no row changes when the product is gone or holds too little. Binds: see
/// [`bind_product_stock!`].
const TAKE_PRODUCT_STOCK: &str = "UPDATE products SET stock = stock - $2, updated_at = $3 \
     WHERE id = $1 AND deleted_at IS NULL AND stock >= $2";

/// Takes a line's quantity from its variant's stock; no row changes when the variant is gone
/// or holds too little. Binds: see [`bind_stock!`].
const TAKE_STOCK: &str = "UPDATE product_variants SET stock = stock - $2, updated_at = $3 \
     WHERE id = $1 AND deleted_at IS NULL AND stock >= $2";

/// The units an order takes of each product (summing its lines), by product id: the order in
/// which rows are locked, products before variants, so that concurrent writes queue behind
/// each other instead of deadlocking.
fn taken_by_product(order: &Order) -> Vec<(ProductId, i64)> {
    let mut taken: Vec<(ProductId, i64)> = Vec::new();
    for l in order.lines() {
        let q = i64::from(l.quantity.get());
        match taken.iter_mut().find(|(p, _)| *p == l.product_id) {
            Some((_, sum)) => *sum += q,
            None => taken.push((l.product_id, q)),
        }
    }
    taken.sort_by_key(|(p, _)| *p);
    taken
}

/// Inserts the order row. Binds: see [`bind_order!`]. An order placed without a cart has no
/// discount, shipping or tax: its subtotal is its total (`$4`, bound once).
const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ", subtotal_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $4)"
);

/// Values per order line in [`insert_lines_sql`].
const LINE_VALUES: usize = 13;

/// Inserts `lines` order lines in one statement, numbering its placeholders after `offset`.
fn insert_lines_sql(lines: usize, offset: usize) -> String {
    let mut sql = String::from(concat!(
        "INSERT INTO order_lines (",
        line_columns!(),
        ", created_at, updated_at) VALUES "
    ));
    for i in 0..lines {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for v in 1..=LINE_VALUES {
            if v > 1 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", offset + i * LINE_VALUES + v));
        }
        sql.push(')');
    }
    sql
}

/// `sql` with each `$N` placeholder renumbered to `$(N + offset)`.
fn shift_placeholders(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

macro_rules! bind_key {
    ($q:expr, $k:expr, $now:expr) => {
        $q.bind($k.user_id.as_uuid())
            .bind(&$k.key)
            .bind(&$k.request_hash)
            .bind($k.order_id.as_uuid())
            .bind($k.expires_at)
            .bind($now)
    };
}

macro_rules! bind_stock {
    ($q:expr, $line:expr, $now:expr) => {
        $q.bind($line.variant_id.as_uuid())
            .bind(i64::from($line.quantity.get()))
            .bind($now)
    };
}

macro_rules! bind_product_stock {
    ($q:expr, $taken:expr, $now:expr) => {
        $q.bind($taken.0.as_uuid()).bind($taken.1).bind($now)
    };
}

macro_rules! bind_order {
    ($q:expr, $order:expr) => {{
        let address = $order.shipping_address();
        $q.bind($order.id().as_uuid())
            .bind($order.user_id().as_uuid())
            .bind($order.status().as_str())
            .bind($order.total().minor())
            .bind($order.total().currency().code())
            .bind(address.map(|a| a.line1.as_str()))
            .bind(address.and_then(|a| a.line2.as_deref()))
            .bind(address.map(|a| a.city.as_str()))
            .bind(address.map(|a| a.postal_code.as_str()))
            .bind(address.map(|a| a.country.as_str()))
            .bind(address.and_then(|a| a.state.as_deref()))
            .bind($order.created_at())
            .bind($order.updated_at())
    }};
}

macro_rules! bind_lines {
    ($q:expr, $order:expr) => {{
        let mut q = $q;
        for (i, l) in $order.lines().iter().enumerate() {
            q = q
                .bind($order.id().as_uuid())
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(l.product_id.as_uuid())
                .bind(l.sku.as_str())
                .bind(l.name.as_str())
                .bind(l.unit_price.minor())
                .bind(l.unit_price.currency().code())
                .bind(i64::from(l.quantity.get()))
                .bind(l.line_total.minor())
                .bind(l.variant_id.as_uuid())
                .bind(l.variant_title.as_str())
                .bind($order.created_at())
                .bind($order.created_at());
        }
        q
    }};
}

/// Why [`take_stock!`] took nothing.
enum StockRefusal {
    /// The product (or the variant) is gone; `variant` names the line's variant.
    Gone {
        product: ProductId,
        variant: VariantId,
    },
    /// The variant holds fewer units than its line asks for.
    Short(VariantId),
}

/// Takes the stock of an order's lines inside the transaction `$tx`, in the one order every
/// write locks rows in: each product's sum (`products`, by product id), then each variant
/// (`by_variant`, by variant id). Evaluates to `Result<Result<(), StockRefusal>, RepositoryError>`:
/// a conditional update that wrote nothing is looked into, to name the product that is gone
/// or the variant that is short. The order path and checkout share it.
macro_rules! take_stock {
    ($tx:expr, $products:expr, $by_variant:expr, $now:expr) => {{
        let result: Result<Result<(), StockRefusal>, RepositoryError> = async {
            for taken in $products {
                let written = bind_product_stock!(sqlx::query(TAKE_PRODUCT_STOCK), taken, $now)
                    .execute(&mut *$tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                if written > 0 {
                    continue;
                }
                // The product is gone, or all its variants together hold too little: name the
                // first of its lines whose variant is gone or short.
                let mut short = None;
                for line in $by_variant.iter().filter(|l| l.product_id == taken.0) {
                    let stock: Option<i64> = sqlx::query_scalar(VARIANT_STOCK)
                        .bind(line.variant_id.as_uuid())
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err(map_err)?;
                    match stock {
                        None => {
                            return Ok(Err(StockRefusal::Gone {
                                product: line.product_id,
                                variant: line.variant_id,
                            }));
                        }
                        Some(s) if s < i64::from(line.quantity.get()) => {
                            short = Some(line.variant_id);
                            break;
                        }
                        Some(_) => {}
                    }
                }
                let variant = short.unwrap_or_else(|| {
                    $by_variant
                        .iter()
                        .find(|l| l.product_id == taken.0)
                        .map_or(VariantId::from_uuid(taken.0.as_uuid()), |l| l.variant_id)
                });
                let exists: Option<i64> = sqlx::query_scalar(
                    "SELECT stock FROM products WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(taken.0.as_uuid())
                .fetch_optional(&mut *$tx)
                .await
                .map_err(map_err)?;
                return Ok(Err(match exists {
                    None => StockRefusal::Gone {
                        product: taken.0,
                        variant,
                    },
                    Some(_) => StockRefusal::Short(variant),
                }));
            }
            for line in $by_variant {
                let written = bind_stock!(sqlx::query(TAKE_STOCK), line, $now)
                    .execute(&mut *$tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                if written > 0 {
                    continue;
                }
                let exists: Option<i64> = sqlx::query_scalar(VARIANT_STOCK)
                    .bind(line.variant_id.as_uuid())
                    .fetch_optional(&mut *$tx)
                    .await
                    .map_err(map_err)?;
                return Ok(Err(match exists {
                    Some(_) => StockRefusal::Short(line.variant_id),
                    None => StockRefusal::Gone {
                        product: line.product_id,
                        variant: line.variant_id,
                    },
                }));
            }
            Ok(Ok(()))
        }
        .await;
        result
    }};
}

/// A live variant's stock. Binds: variant id.
const VARIANT_STOCK: &str =
    "SELECT stock FROM product_variants WHERE id = $1 AND deleted_at IS NULL";

/// Places `order` on SQLite with one multi-statement query inside `BEGIN IMMEDIATE`: the key,
/// every stock update (the products' sums in product-id order, then the variants' in
/// variant-id order), the order and its lines. Each statement changes
/// at most its own number of rows, so the total equals their sum exactly when every one of
/// them wrote: then the transaction commits and this answers the types of the events written.
/// Anything less (a live key, a product gone or short of stock) is rolled back and answers
/// `None`, and the caller
/// places step by step to learn which. Three hand-offs to SQLite's connection thread instead
/// of one per statement.
async fn place_in_one_statement(
    pool: &sqlx::SqlitePool,
    order: &Order,
    key: Option<&IdempotencyRecord>,
    events: &[PendingEvent],
) -> Result<Option<Vec<domain::EventType>>, PlaceOrderError> {
    let mut by_variant: Vec<&OrderLine> = order.lines().iter().collect();
    by_variant.sort_by_key(|l| l.variant_id);
    let products = taken_by_product(order);
    let now = order.created_at();
    let mut sql = String::new();
    let mut offset = 0;
    let mut expected = 0u64;
    if key.is_some() {
        sql.push_str(INSERT_KEY);
        sql.push_str(";\n");
        offset += 6;
        expected += 1;
    }
    for _ in &products {
        sql.push_str(&shift_placeholders(TAKE_PRODUCT_STOCK, offset));
        sql.push_str(";\n");
        offset += 3;
        expected += 1;
    }
    for _ in &by_variant {
        sql.push_str(&shift_placeholders(TAKE_STOCK, offset));
        sql.push_str(";\n");
        offset += 3;
        expected += 1;
    }
    sql.push_str(&shift_placeholders(INSERT_ORDER, offset));
    sql.push_str(";\n");
    offset += 13;
    sql.push_str(&insert_lines_sql(order.lines().len(), offset));
    expected += 1 + order.lines().len() as u64;

    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(k) = key {
        q = bind_key!(q, k, now);
    }
    for taken in &products {
        q = bind_product_stock!(q, taken, now);
    }
    for line in &by_variant {
        q = bind_stock!(q, line, now);
    }
    q = bind_order!(q, order);
    q = bind_lines!(q, order);

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    let written = q.execute(&mut *tx).await.map_err(map_err)?.rows_affected();
    if written == expected {
        let events = write_events!(tx, events)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(events))
    } else {
        tx.rollback().await.map_err(map_err)?;
        Ok(None)
    }
}

/// Orders in SQL, for both backends: the aggregate's atomic writes and the list read model.
pub struct SqlOrders {
    db: Database,
    /// Told of the events each committed transaction wrote.
    events_written: super::EventCounter,
}

super::counting_events!(SqlOrders);

impl SqlOrders {
    /// Orders in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            events_written: super::EventCounter::default(),
        }
    }

    /// Places `order` one statement at a time, telling exactly which step refused: the only
    /// path on PostgreSQL, and SQLite's when the one-statement path did not write everything.
    async fn place_step_by_step(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
        events: &[PendingEvent],
    ) -> Result<Vec<domain::EventType>, PlaceOrderError> {
        // Stock rows are locked in one global order (products by id, then variants by id) so
        // that concurrent orders over the same products queue behind each other instead of
        // deadlocking.
        let mut by_variant: Vec<&OrderLine> = order.lines().iter().collect();
        by_variant.sort_by_key(|l| l.variant_id);
        let products = taken_by_product(order);
        let now = order.created_at();
        let line_sql = insert_lines_sql(order.lines().len(), 0);
        let result: Result<Vec<domain::EventType>, PlaceOrderError> = on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(k) = key {
                // The key goes first: a racing twin stops here, before touching any stock.
                let taken = bind_key!(sqlx::query(INSERT_KEY), k, now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                    == 0;
                if taken {
                    return Err(PlaceOrderError::KeyTaken);
                }
            }
            match take_stock!(tx, &products, &by_variant, now)? {
                Ok(()) => {}
                Err(StockRefusal::Gone { product, .. }) => {
                    return Err(PlaceOrderError::UnknownProduct(product));
                }
                Err(StockRefusal::Short(variant)) => {
                    return Err(PlaceOrderError::InsufficientStock(variant));
                }
            }
            bind_order!(sqlx::query(INSERT_ORDER), order)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            bind_lines!(sqlx::query(sqlx::AssertSqlSafe(line_sql.clone())), order)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let written = write_events!(tx, events)?;
            tx.commit().await.map_err(map_err)?;
            Ok(written)
        });
        result
    }

    /// Lines of `orders`, in one query.
    async fn lines_of(&self, orders: &[Uuid]) -> Result<Vec<LineRow>, RepositoryError> {
        const SQL: &str = concat!(
            "SELECT ",
            line_columns!(),
            " FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, line_no"
        );
        fetch_in(&self.db, SQL, orders).await
    }
}

#[async_trait]
impl OrderRepository for SqlOrders {
    #[tracing::instrument(name = "db.orders.place", skip_all, fields(order_id = %order.id(), lines = order.lines().len()))]
    async fn place_with_events(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
        events: &[PendingEvent],
    ) -> Result<(), PlaceOrderError> {
        let placed = match &self.db {
            Database::Sqlite { write, .. } => {
                place_in_one_statement(write, order, key, events).await?
            }
            Database::Postgres(_) => None,
        };
        let written = match placed {
            Some(written) => written,
            None => self.place_step_by_step(order, key, events).await?,
        };
        self.events_written.0.written(&written);
        Ok(())
    }

    #[tracing::instrument(name = "db.orders.get", skip_all, fields(order_id = %id))]
    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepositoryError> {
        let (row, lines): (Option<OrderRow>, Vec<LineRow>) = on_db!(&self.db, read, pool => {
            let row = sqlx::query_as(concat!("SELECT ", order_read_columns!(), " FROM orders WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(pool);
            let lines = sqlx::query_as(concat!("SELECT ", line_columns!(), " FROM order_lines WHERE order_id = $1 ORDER BY line_no"))
                .bind(id.as_uuid())
                .fetch_all(pool);
            tokio::try_join!(row, lines)
        })
        .map_err(map_err)?;
        row.map(|r| order_from_rows(r, lines)).transpose()
    }

    #[tracing::instrument(name = "db.orders.change_status", skip_all, fields(order_id = %id, to = %to))]
    async fn change_status_with_events(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            // The payment status follows the order's as `PaymentStatus::after_status_change` says.
            let changed = sqlx::query(
                "UPDATE orders SET status = $3, updated_at = $4, payment_status = CASE \
                 WHEN $3 = 'paid' AND payment_status = 'unpaid' THEN 'paid' \
                 WHEN $3 = 'cancelled' AND payment_status = 'paid' THEN 'refunded' \
                 ELSE payment_status END WHERE id = $1 AND status = $2",
            )
                .bind(id.as_uuid())
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if changed == 0 {
                return Ok(false);
            }
            if to == OrderStatus::Cancelled {
                // Only the request whose compare-and-set won gets here: stock returns once.
                let mut lines: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
                    "SELECT product_id, COALESCE(variant_id, product_id), quantity FROM order_lines WHERE order_id = $1",
                )
                .bind(id.as_uuid())
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                // Rows are locked as placing takes them: products by id, then variants by id.
                let mut products: Vec<Uuid> = lines.iter().map(|(p, _, _)| *p).collect();
                products.sort();
                products.dedup();
                for product_id in &products {
                    sqlx::query(TOUCH_PRODUCT)
                        .bind(product_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                lines.sort_by_key(|(_, v, _)| *v);
                // Stock comes back up to its maximum and no further (an admin may have set it
                // there since the order): a row past it would be unreadable.
                for (_, variant_id, quantity) in lines {
                    sqlx::query(sqlx::AssertSqlSafe(restock_sql(&self.db)))
                        .bind(variant_id)
                        .bind(quantity)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                // Each product's stock is the sum of its variants' again.
                for product_id in &products {
                    sqlx::query(SUM_STOCK)
                        .bind(product_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
            }
            let written = write_events!(tx, events)?;
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(true)
        })
    }

    #[tracing::instrument(name = "db.orders.find_key", skip_all)]
    async fn find_key(
        &self,
        user_id: UserId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, RepositoryError> {
        let row: Option<KeyRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(
                "SELECT user_id, key, request_hash, order_id, expires_at FROM idempotency_keys \
                 WHERE user_id = $1 AND key = $2 AND expires_at > $3",
            )
            .bind(user_id.as_uuid())
            .bind(key)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
        .map_err(map_err)?;
        Ok(row.map(|r| IdempotencyRecord {
            user_id: UserId::from_uuid(r.user_id),
            key: r.key,
            request_hash: r.request_hash,
            order_id: OrderId::from_uuid(r.order_id),
            expires_at: r.expires_at,
        }))
    }
}

#[async_trait]
impl OrderReadModel for SqlOrders {
    #[tracing::instrument(name = "db.orders.list", skip_all)]
    async fn list(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepositoryError> {
        // Newest first by id (UUID v7); `orders_user_newest (user_id, id)` and
        // `orders_status_newest (status, id)` answer a filtered page and a cursor's range.
        let mut filters = Vec::new();
        if let Some(u) = filter.user_id {
            filters.push(("user_id = $?", KeyPart::Id(u.as_uuid())));
        }
        if let Some(s) = filter.status {
            filters.push(("status = $?", KeyPart::Text(s.as_str().to_owned())));
        }
        let Page {
            items: rows,
            request: page,
            total,
            total_is_estimate,
            next,
        } = fetch_newest_by_id::<OrderRow>(
            &self.db,
            order_read_columns!(),
            "orders",
            filters,
            page,
            |r| r.id,
        )
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut lines = self.lines_of(&ids).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let (mine, rest): (Vec<LineRow>, Vec<LineRow>) =
                lines.into_iter().partition(|l| l.order_id == row.id);
            lines = rest;
            items.push(order_from_rows(row, mine)?);
        }
        Ok(Page {
            items,
            request: page,
            total,
            total_is_estimate,
            next,
        })
    }
}

/// Inserts a checked-out order's row with every column of 0013. Binds: the 13 of
/// [`bind_order!`], then email, subtotal, discount, shipping, tax, discount code, shipping
/// option, payment status, token hash, cart id.
const INSERT_CHECKED_OUT: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ", email, subtotal_minor, discount_total_minor, shipping_total_minor, tax_total_minor, \
     discount_code, shipping_option, payment_status, token_hash, cart_id) VALUES ($1, $2, $3, \
     $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
);

/// Checks a cart out in one transaction (see [`domain::CartRepository::check_out`]): the key,
/// the cart's completion (compare-and-set of its version), the promotion's use (a conditional
/// update, then the customer's uses counted under that row's lock), the stock (products by id,
/// then variants by id, the order every write locks them in), the order, its lines and the
/// events. Any refusal rolls everything back.
pub(super) async fn check_out(
    db: &Database,
    w: &domain::CheckoutWrite<'_>,
) -> Result<Vec<domain::EventType>, domain::CheckoutError> {
    use domain::CheckoutError;
    let order = w.order;
    let cart = w.cart;
    let details = order.details();
    let mut by_variant: Vec<&OrderLine> = order.lines().iter().collect();
    by_variant.sort_by_key(|l| l.variant_id);
    let products = taken_by_product(order);
    let now = order.created_at();
    let line_sql = insert_lines_sql(order.lines().len(), 0);
    on_db!(db, write, pool, begin => {
        let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
        if let Some(k) = w.key {
            let taken = bind_key!(sqlx::query(INSERT_KEY), k, now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 0;
            if taken {
                return Err(CheckoutError::KeyTaken);
            }
        }
        let completed = sqlx::query(
            "UPDATE carts SET status = 'completed', version = version + 1, updated_at = $3 \
             WHERE id = $1 AND version = $2 AND status = 'open'",
        )
        .bind(cart.id().as_uuid())
        .bind(cart.parts().version)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if completed == 0 {
            return Err(CheckoutError::CartChanged);
        }
        if let Some(p) = w.promotion {
            let counted = sqlx::query(
                "UPDATE promotions SET times_used = times_used + 1 \
                 WHERE id = $1 AND active AND (usage_limit IS NULL OR times_used < usage_limit)",
            )
            .bind(p.id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            if counted == 0 {
                return Err(CheckoutError::PromotionUsedUp);
            }
            if let Some((user, limit)) = p.per_customer {
                // Counted under the promotion row's lock: two checkouts of one customer queue
                // here, and the second sees the first's order once it committed.
                let used: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM orders WHERE user_id = $1 AND upper(discount_code) = $2 \
                     AND status <> 'cancelled'",
                )
                .bind(user.as_uuid())
                .bind(p.code.to_ascii_uppercase())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                if used >= i64::from(limit) {
                    return Err(CheckoutError::PromotionUsedUp);
                }
            }
        }
        // A line whose variant or product went away since the cart was read is short too:
        // the customer sees which variant to take out.
        if let Err(StockRefusal::Gone { variant, .. } | StockRefusal::Short(variant)) =
            take_stock!(tx, &products, &by_variant, now)?
        {
            return Err(CheckoutError::InsufficientStock(variant));
        }
        bind_order!(sqlx::query(INSERT_CHECKED_OUT), order)
            .bind(details.email.as_ref().map(|e| e.as_str().to_owned()))
            .bind(details.subtotal.minor())
            .bind(details.discount_total.minor())
            .bind(details.shipping_total.minor())
            .bind(details.tax_total.minor())
            .bind(details.discount_code.clone())
            .bind(shipping_json(details.shipping_option.as_ref()))
            .bind(details.payment_status.as_str())
            .bind(details.guest_token.map(|h| h.to_hex()))
            .bind(details.cart_id.map(|c| c.as_uuid()))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        bind_lines!(sqlx::query(sqlx::AssertSqlSafe(line_sql.clone())), order)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let written = write_events!(tx, w.events)?;
        tx.commit().await.map_err(map_err)?;
        Ok(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_shift_by_the_offset_and_nothing_else_changes() {
        assert_eq!(
            shift_placeholders("a = $1 AND b >= $12, c = '$'", 10),
            "a = $11 AND b >= $22, c = '$'"
        );
        assert_eq!(shift_placeholders(TAKE_STOCK, 0), TAKE_STOCK);
    }

    #[test]
    fn line_inserts_number_their_values_after_the_offset() {
        let sql = insert_lines_sql(2, 3);
        assert!(sql.ends_with(
            "VALUES ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16), \
             ($17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)"
        ));
    }
}
