//! Carts in SQL, for both backends (migration 0013): a cart row and its lines, saved whole by
//! a compare-and-set of `version`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Address, Cart, CartId, CartItem, CartItemId, CartOwner, CartParts, CartRepository, CartStatus,
    CheckoutError, CheckoutWrite, CountryCode, Currency, Email, LiveVariant, Money, ProductId,
    ProductName, PromotionCode, Quantity, RepositoryError, ShippingOptionId, Sku, Stock, TokenHash,
    UserId, VariantId,
};
use uuid::Uuid;

use super::{Database, corrupt, map_err, on_db};

macro_rules! cart_columns {
    () => {
        "id, user_id, token_hash, status, currency, email, ship_line1, ship_line2, ship_city, \
         ship_postal_code, ship_country, ship_state, shipping_option_id, discount_code, version, \
         expires_at, created_at, updated_at"
    };
}

const CART_BY_ID: &str = concat!("SELECT ", cart_columns!(), " FROM carts WHERE id = $1");

const ITEMS_OF_CART: &str =
    "SELECT id, variant_id, quantity FROM cart_items WHERE cart_id = $1 ORDER BY id";

/// A cart's lines and each line's variant and product as they are today, in one statement.
/// The joins are outer so that a line whose variant vanished still reads back.
const LIVE_ITEMS_OF_CART: &str = "SELECT i.id, i.variant_id, i.quantity, \
     v.product_id AS product_id, v.sku AS sku, v.option_values AS option_values, \
     v.price_minor AS price_minor, v.currency AS currency, v.stock AS stock, \
     p.name AS name, \
     CASE WHEN v.deleted_at IS NULL AND p.deleted_at IS NULL AND p.status = 'active' \
          THEN 1 ELSE 0 END AS for_sale \
     FROM cart_items i \
     LEFT JOIN product_variants v ON v.id = i.variant_id \
     LEFT JOIN products p ON p.id = v.product_id \
     WHERE i.cart_id = $1 ORDER BY i.id";

const INSERT_CART: &str = concat!(
    "INSERT INTO carts (",
    cart_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);

/// Saves a cart's fields while its version is still the one read (`$15`); the version
/// becomes one more.
const UPDATE_CART: &str = "UPDATE carts SET user_id = $2, token_hash = $3, status = $4, \
     currency = $5, email = $6, ship_line1 = $7, ship_line2 = $8, ship_city = $9, \
     ship_postal_code = $10, ship_country = $11, ship_state = $12, shipping_option_id = $13, \
     discount_code = $14, version = $15 + 1, expires_at = $16, created_at = $17, \
     updated_at = $18 WHERE id = $1 AND version = $15";

/// Inserts a cart's `n` lines (at least one) in one statement. Binds per line: id, cart id,
/// variant id, quantity, time.
fn insert_items_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO cart_items (id, cart_id, variant_id, quantity, created_at, updated_at) VALUES ",
    );
    for i in 0..n {
        let b = i * 5;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 5
        ));
    }
    sql
}

/// Writes `$cart`'s lines inside `$tx` with one statement (none when it has no lines).
macro_rules! insert_items {
    ($tx:expr, $cart:expr) => {{
        let cart = $cart;
        let mut result: Result<(), RepositoryError> = Ok(());
        if !cart.items().is_empty() {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert_items_sql(cart.items().len())));
            for item in cart.items() {
                q = q
                    .bind(item.id.as_uuid())
                    .bind(cart.id().as_uuid())
                    .bind(item.variant_id.as_uuid())
                    .bind(i64::from(item.quantity.get()))
                    .bind(cart.parts().updated_at);
            }
            result = q.execute(&mut *$tx).await.map(|_| ()).map_err(map_err);
        }
        result
    }};
}

#[derive(sqlx::FromRow)]
struct CartRow {
    id: Uuid,
    user_id: Option<Uuid>,
    token_hash: Option<String>,
    status: String,
    currency: String,
    email: Option<String>,
    ship_line1: Option<String>,
    ship_line2: Option<String>,
    ship_city: Option<String>,
    ship_postal_code: Option<String>,
    ship_country: Option<String>,
    ship_state: Option<String>,
    shipping_option_id: Option<Uuid>,
    discount_code: Option<String>,
    version: i64,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    variant_id: Uuid,
    quantity: i64,
}

#[derive(sqlx::FromRow)]
struct LiveItemRow {
    id: Uuid,
    variant_id: Uuid,
    quantity: i64,
    product_id: Option<Uuid>,
    sku: Option<String>,
    option_values: Option<String>,
    price_minor: Option<i64>,
    currency: Option<String>,
    stock: Option<i64>,
    name: Option<String>,
    for_sale: i32,
}

fn item_of(r: &ItemRow) -> Result<CartItem, RepositoryError> {
    Ok(CartItem {
        id: CartItemId::from_uuid(r.id),
        variant_id: VariantId::from_uuid(r.variant_id),
        quantity: Quantity::new(r.quantity).map_err(|e| corrupt("cart quantity", e))?,
    })
}

/// The variant's title from its stored option values (`["M", "Blue"]`): as
/// [`domain::OptionValues::title`] makes it.
fn title_of(option_values: &str) -> Result<String, RepositoryError> {
    let values: Vec<String> =
        serde_json::from_str(option_values).map_err(|e| corrupt("option values", e))?;
    Ok(if values.is_empty() {
        domain::variant::DEFAULT_TITLE.to_owned()
    } else {
        values.join(" / ")
    })
}

fn live_of(r: &LiveItemRow) -> Result<Option<LiveVariant>, RepositoryError> {
    let (
        Some(product_id),
        Some(sku),
        Some(option_values),
        Some(price_minor),
        Some(currency),
        Some(stock),
        Some(name),
    ) = (
        r.product_id,
        &r.sku,
        &r.option_values,
        r.price_minor,
        &r.currency,
        r.stock,
        &r.name,
    )
    else {
        return Ok(None);
    };
    let currency = Currency::parse(currency).map_err(|e| corrupt("currency", e))?;
    Ok(Some(LiveVariant {
        variant_id: VariantId::from_uuid(r.variant_id),
        product_id: ProductId::from_uuid(product_id),
        sku: Sku::parse(sku).map_err(|e| corrupt("sku", e))?,
        name: ProductName::parse(name).map_err(|e| corrupt("name", e))?,
        variant_title: title_of(option_values)?,
        price: Money::from_minor(price_minor, currency).map_err(|e| corrupt("price", e))?,
        stock: Stock::new(stock).map_err(|e| corrupt("stock", e))?,
        for_sale: r.for_sale != 0,
    }))
}

fn cart_of(r: CartRow, items: Vec<CartItem>) -> Result<Cart, RepositoryError> {
    let owner = match (r.user_id, r.token_hash) {
        (Some(u), None) => CartOwner::User(UserId::from_uuid(u)),
        (None, Some(h)) => {
            CartOwner::Guest(TokenHash::from_hex(&h).map_err(|e| corrupt("token hash", e))?)
        }
        _ => return Err(corrupt("cart owner", "neither or both of user and token")),
    };
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
    Ok(Cart::restore(CartParts {
        id: CartId::from_uuid(r.id),
        owner,
        status: CartStatus::parse(&r.status).map_err(|e| corrupt("cart status", e))?,
        currency: Currency::parse(&r.currency).map_err(|e| corrupt("currency", e))?,
        items,
        email: r
            .email
            .map(|e| Email::parse(&e))
            .transpose()
            .map_err(|e| corrupt("email", e))?,
        shipping_address,
        shipping_option_id: r.shipping_option_id.map(ShippingOptionId::from_uuid),
        discount_code: r
            .discount_code
            .map(|c| PromotionCode::parse(&c))
            .transpose()
            .map_err(|e| corrupt("discount code", e))?,
        version: r.version,
        expires_at: r.expires_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }))
}

/// Binds the 18 values of [`INSERT_CART`] / [`UPDATE_CART`], in `cart_columns!` order.
macro_rules! bind_cart {
    ($q:expr, $cart:expr) => {{
        let c: &CartParts = $cart.parts();
        let (user, token) = match c.owner {
            CartOwner::User(u) => (Some(u.as_uuid()), None),
            CartOwner::Guest(h) => (None, Some(h.to_hex())),
        };
        let a = c.shipping_address.as_ref();
        $q.bind(c.id.as_uuid())
            .bind(user)
            .bind(token)
            .bind(c.status.as_str())
            .bind(c.currency.code())
            .bind(c.email.as_ref().map(|e| e.as_str().to_owned()))
            .bind(a.map(|a| a.line1.clone()))
            .bind(a.and_then(|a| a.line2.clone()))
            .bind(a.map(|a| a.city.clone()))
            .bind(a.map(|a| a.postal_code.clone()))
            .bind(a.map(|a| a.country.as_str().to_owned()))
            .bind(a.and_then(|a| a.state.clone()))
            .bind(c.shipping_option_id.map(|o| o.as_uuid()))
            .bind(c.discount_code.as_ref().map(|d| d.as_str().to_owned()))
            .bind(c.version)
            .bind(c.expires_at)
            .bind(c.created_at)
            .bind(c.updated_at)
    }};
}

/// Carts in SQL.
pub struct SqlCarts {
    db: Database,
    /// Told of the events each committed checkout wrote.
    events_written: super::EventCounter,
}

super::counting_events!(SqlCarts);

impl SqlCarts {
    /// Carts in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            events_written: super::EventCounter::default(),
        }
    }
}

#[async_trait]
impl CartRepository for SqlCarts {
    #[tracing::instrument(name = "db.carts.insert", skip_all)]
    async fn insert(&self, cart: &Cart) -> Result<(), RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            bind_cart!(sqlx::query(INSERT_CART), cart)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            insert_items!(tx, cart)?;
            tx.commit().await.map_err(map_err)
        })
    }

    #[tracing::instrument(name = "db.carts.get", skip_all)]
    async fn get(&self, id: CartId) -> Result<Option<Cart>, RepositoryError> {
        let (row, items): (Option<CartRow>, Vec<ItemRow>) = on_db!(&self.db, read, pool => {
            let row = sqlx::query_as(CART_BY_ID).bind(id.as_uuid()).fetch_optional(pool).await;
            match row {
                Ok(None) => Ok((None, Vec::new())),
                Ok(Some(row)) => sqlx::query_as(ITEMS_OF_CART)
                    .bind(id.as_uuid())
                    .fetch_all(pool)
                    .await
                    .map(|items| (Some(row), items)),
                Err(e) => Err(e),
            }
        })
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let items = items.iter().map(item_of).collect::<Result<_, _>>()?;
        cart_of(row, items).map(Some)
    }

    #[tracing::instrument(name = "db.carts.get_live", skip_all)]
    async fn get_live(
        &self,
        id: CartId,
    ) -> Result<Option<(Cart, Vec<LiveVariant>)>, RepositoryError> {
        let (row, items): (Option<CartRow>, Vec<LiveItemRow>) = on_db!(&self.db, read, pool => {
            let row = sqlx::query_as(CART_BY_ID).bind(id.as_uuid()).fetch_optional(pool).await;
            match row {
                Ok(None) => Ok((None, Vec::new())),
                Ok(Some(row)) => sqlx::query_as(LIVE_ITEMS_OF_CART)
                    .bind(id.as_uuid())
                    .fetch_all(pool)
                    .await
                    .map(|items| (Some(row), items)),
                Err(e) => Err(e),
            }
        })
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let mut cart_items = Vec::with_capacity(items.len());
        let mut live = Vec::with_capacity(items.len());
        for r in &items {
            cart_items.push(item_of(&ItemRow {
                id: r.id,
                variant_id: r.variant_id,
                quantity: r.quantity,
            })?);
            if let Some(v) = live_of(r)? {
                live.push(v);
            }
        }
        Ok(Some((cart_of(row, cart_items)?, live)))
    }

    #[tracing::instrument(name = "db.carts.save", skip_all)]
    async fn save(&self, cart: &Cart) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            let saved = bind_cart!(sqlx::query(UPDATE_CART), cart)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 1;
            if !saved {
                tx.rollback().await.map_err(map_err)?;
                return Ok(false);
            }
            // The lines are few (at most 100): they are written again whole, in one statement.
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
                .bind(cart.id().as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            insert_items!(tx, cart)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    #[tracing::instrument(name = "db.carts.check_out", skip_all, fields(cart_id = %write.cart.id()))]
    async fn check_out(&self, write: &CheckoutWrite<'_>) -> Result<(), CheckoutError> {
        let written = super::orders::check_out(&self.db, write).await?;
        self.events_written.0.written(&written);
        Ok(())
    }

    #[tracing::instrument(name = "db.carts.delete_expired", skip_all)]
    async fn delete_expired(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError> {
        // Lines first, so the delete does not lean on SQLite's foreign-key setting.
        const DOOMED: &str = "SELECT id FROM carts WHERE status = 'open' AND expires_at <= $1 \
             ORDER BY expires_at, id LIMIT $2";
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM cart_items WHERE cart_id IN ({DOOMED})"
            )))
            .bind(now)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM carts WHERE id IN ({DOOMED})"
            )))
            .bind(now)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            tx.commit().await.map_err(map_err)?;
            Ok(deleted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::insert_items_sql;

    #[test]
    fn line_inserts_number_five_values_per_line_the_time_twice() {
        assert_eq!(
            insert_items_sql(2),
            "INSERT INTO cart_items (id, cart_id, variant_id, quantity, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5), ($6, $7, $8, $9, $10, $10)"
        );
    }
}
