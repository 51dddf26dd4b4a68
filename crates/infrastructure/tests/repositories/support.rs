//! A fresh database per test, its adapters, and the values the tests store.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{
    Address, AddressInput, Currency, Description, Email, Image, ImageId, ImageType, Money, Order,
    OrderId, OrderStatus, PersonName, Product, ProductId, ProductName, Quantity, Role, Roles, Sku,
    Stock, StoredFile, User, UserId, Username, Validator,
};
use infrastructure::db::{Backend, SqlCategories, SqlImages, SqlOrders, SqlProducts, SqlUsers};
use infrastructure::{Database, DatabaseUrl};
use sqlx::Connection as _;
use uuid::Uuid;

/// Runs each named `async fn name(db: TestDb)` of the calling module once on SQLite
/// (`…::sqlite::name`) and once on PostgreSQL (`…::postgres::name`).
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::TestDb::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = crate::support::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )+
        }
    };
}

/// One empty, migrated database and every SQL adapter over it. Dropping it removes the
/// SQLite folder or the PostgreSQL database it created.
pub struct TestDb {
    pub db: Database,
    pub products: SqlProducts,
    pub categories: SqlCategories,
    pub images: SqlImages,
    pub users: SqlUsers,
    pub orders: SqlOrders,
    dir: Option<PathBuf>,
    /// Server URL and database name (PostgreSQL only).
    postgres: Option<(String, String)>,
}

static SKIP_NOTICE: Once = Once::new();

impl TestDb {
    /// The database at `url`, migrated (with the backfills), or with the migrations up to
    /// version `up_to` only (the schema an older release left).
    async fn open(url: &str, up_to: Option<i64>) -> Database {
        let url = DatabaseUrl::parse(url).expect("a database URL");
        let db = Database::connect(&url, 4, Duration::from_secs(10))
            .await
            .expect("cannot connect to the test database");
        match (up_to, &db) {
            (None, _) => db.migrate().await.expect("migrations fail"),
            (Some(v), Database::Sqlite { write, .. }) => sqlx::migrate!("./migrations/sqlite")
                .run_to(v, write)
                .await
                .expect("migrations fail"),
            (Some(v), Database::Postgres(pool)) => sqlx::migrate!("./migrations/postgres")
                .run_to(v, pool)
                .await
                .expect("migrations fail"),
        }
        db
    }

    fn with(db: Database, dir: Option<PathBuf>, postgres: Option<(String, String)>) -> Self {
        Self {
            categories: SqlCategories::new(db.clone()),
            products: SqlProducts::new(db.clone()),
            images: SqlImages::new(db.clone()),
            users: SqlUsers::new(db.clone()),
            orders: SqlOrders::new(db.clone()),
            db,
            dir,
            postgres,
        }
    }

    /// Stores `products`, in order.
    pub async fn insert_products(&self, products: &[&Product]) {
        for p in products {
            domain::ProductRepository::insert(&self.products, p)
                .await
                .unwrap();
        }
    }

    /// Stores `images`, in order.
    pub async fn insert_images(&self, images: &[&Image]) {
        for i in images {
            domain::ImageRepository::insert(&self.images, i)
                .await
                .unwrap();
        }
    }

    /// A SQLite file in a fresh folder.
    pub async fn sqlite() -> Self {
        Self::sqlite_up_to(None).await
    }

    /// A new database on the test PostgreSQL server; `None` (with a note) when no server is
    /// configured, a panic when none is and `CI=true`.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_up_to(None).await
    }

    /// [`TestDb::sqlite`] or [`TestDb::postgres`] as `like` is, with the migrations up to
    /// version `up_to` only; `t.db.migrate()` runs the rest.
    pub async fn like_up_to(like: &TestDb, up_to: i64) -> Option<Self> {
        match like.db.backend() {
            Backend::Sqlite => Some(Self::sqlite_up_to(Some(up_to)).await),
            Backend::Postgres => Self::postgres_up_to(Some(up_to)).await,
        }
    }

    async fn sqlite_up_to(up_to: Option<i64>) -> Self {
        let dir = std::env::temp_dir().join(format!("shop-repo-test-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("cannot create the test folder");
        let db = Self::open(
            &format!("sqlite://{}", dir.join("shop.db").display()),
            up_to,
        )
        .await;
        assert_eq!(db.backend(), Backend::Sqlite);
        Self::with(db, Some(dir), None)
    }

    async fn postgres_up_to(up_to: Option<i64>) -> Option<Self> {
        let server = match std::env::var("SHOP_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                assert!(
                    std::env::var("CI").map_or(true, |v| v != "true"),
                    "SHOP_TEST_POSTGRES_URL is not set, and CI=true: the PostgreSQL repository \
                     tests must run in CI. Run them through scripts/test.sh (which starts a \
                     throw-away PostgreSQL) or set SHOP_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/postgres \
                     (a user allowed to CREATE DATABASE)."
                );
                SKIP_NOTICE.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: SHOP_TEST_POSTGRES_URL is not set: skipping the PostgreSQL repository \
                         tests (scripts/test.sh starts a throw-away PostgreSQL and sets it)"
                    );
                });
                return None;
            }
        };
        let name = format!("shop_repo_test_{}", Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&server)
            .await
            .expect("cannot connect to SHOP_TEST_POSTGRES_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut conn)
            .await
            .expect("cannot CREATE DATABASE on SHOP_TEST_POSTGRES_URL");
        let _ = conn.close().await;
        let mut url = reqwest::Url::parse(&server).expect("SHOP_TEST_POSTGRES_URL is not a URL");
        url.set_path(&format!("/{name}"));
        let db = Self::open(url.as_str(), up_to).await;
        assert_eq!(db.backend(), Backend::Postgres);
        Some(Self::with(db, None, Some((server, name))))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((server, name)) = self.postgres.take() {
            // Best effort, on a thread of its own: Drop cannot await inside the test's runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                        let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

// --- values -----------------------------------------------------------------------------

/// A fixed instant with microseconds (what both databases keep), `secs` seconds later.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 123_456_000).unwrap()
}

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

/// A product: `price` in euros, `stock` units, created at `at(0)`.
pub fn product(sku: &str, name: &str, price: &str, stock: i64) -> Product {
    let id = ProductId::new();
    Product {
        id,
        name: ProductName::parse(name).unwrap(),
        slug: domain::Slug::from_name(&format!("{name} {sku}"), "product"),
        status: domain::ProductStatus::Active,
        description: None,
        // One variant with the product's id, as the catalog makes them.
        variants: domain::VariantSet::single(
            variant_of(id),
            Sku::parse(sku).unwrap(),
            Money::parse(price, eur()).unwrap(),
            Stock::new(stock).unwrap(),
        ),
        created_at: at(0),
        updated_at: at(0),
    }
}

/// `products.stock` of product `id` as stored: the sum of its variants' stock.
pub async fn summary_stock(t: &TestDb, id: ProductId) -> i64 {
    let sql = "SELECT stock FROM products WHERE id = $1";
    match &t.db {
        Database::Sqlite { write, .. } => sqlx::query_scalar(sql)
            .bind(id.as_uuid())
            .fetch_one(write)
            .await
            .unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql)
            .bind(id.as_uuid())
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// The one variant of a product made by [`product`]: it has the product's id.
pub fn variant_of(id: ProductId) -> domain::VariantId {
    domain::VariantId::from_uuid(id.as_uuid())
}

pub fn described(mut p: Product, description: &str) -> Product {
    p.description = Some(Description::parse(description).unwrap());
    p
}

pub fn user(name: &str, roles: &[Role]) -> User {
    User {
        id: UserId::new(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        first_name: PersonName::parse("Ann").unwrap(),
        last_name: None,
        roles: Roles::new(roles.iter().copied()),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn image(product: ProductId, secs: i64) -> Image {
    let id = ImageId::new();
    Image {
        id,
        product_id: product,
        content_type: ImageType::Png,
        size: 1234,
        sha256: "ab".repeat(32),
        file: StoredFile {
            key: format!("images/{id}"),
            file_id: Some(format!("drive-{id}")),
        },
        created_at: at(secs),
    }
}

pub fn address() -> Address {
    let mut v = Validator::new();
    let a = Address::parse(
        &mut v,
        "shipping_address",
        &AddressInput {
            line1: "Hauptstr. 1".into(),
            line2: Some("Hinterhaus".into()),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country: "DE".into(),
            state: None,
        },
    );
    v.finish().unwrap();
    a.unwrap()
}

/// A pending order of `user` for `lines` (product, quantity) at the products' prices.
pub fn order(user: UserId, lines: &[(&Product, i64)], secs: i64) -> Order {
    order_to(user, lines, secs, None)
}

/// [`order`] with a shipping address.
pub fn order_to(
    user: UserId,
    lines: &[(&Product, i64)],
    secs: i64,
    shipping_address: Option<Address>,
) -> Order {
    Order::place(
        OrderId::new(),
        user,
        lines
            .iter()
            .map(|(p, q)| {
                (
                    (*p).clone(),
                    p.variants.first().id,
                    Quantity::new(*q).unwrap(),
                )
            })
            .collect(),
        shipping_address,
        at(secs),
    )
    .unwrap()
}

// --- reading orders (the aggregate's fields, in one place) --------------------------------

pub fn order_id(o: &Order) -> OrderId {
    o.id()
}

pub fn order_status(o: &Order) -> OrderStatus {
    o.status()
}

pub fn order_updated_at(o: &Order) -> DateTime<Utc> {
    o.updated_at()
}

/// `(product, quantity, line total in minor units)` per line.
pub fn order_lines(o: &Order) -> Vec<(ProductId, u32, i64)> {
    o.lines()
        .iter()
        .map(|l| (l.product_id, l.quantity.get(), l.line_total.minor()))
        .collect()
}

pub fn order_total(o: &Order) -> i64 {
    o.total().minor()
}
