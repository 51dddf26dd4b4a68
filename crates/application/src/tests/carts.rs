//! Carts against in-memory fakes: who may open a cart (its owner, or a guest with its token;
//! anyone else, admins included, is told it does not exist), adding by product or variant with
//! the cart's currency checked, a save that lost to another change tried again, and claiming.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeDelta;
use domain::{
    Cart, CartId, CartRepository, CountryCode, LiveVariant, ProductRepository, PromotionCode,
    PromotionRecord, RepositoryError, Role, ShippingOptionRecord, TaxRateRecord, UserId,
};

use super::{fields, validation};
use crate::AppError;
use crate::checkout::{
    CartCaller, Carts, CheckoutCatalog, CreateCartCommand, TokenMaker, UpdateCartCommand,
};
use crate::ordering::OrderItem;
use crate::testing::{FixedClock, MemoryProducts, actor};

/// Carts in memory; `lose_saves` makes that many saves lose as if another change came first.
#[derive(Default)]
struct MemoryCarts {
    carts: Mutex<Vec<Cart>>,
    lose_saves: AtomicUsize,
    saves_tried: AtomicUsize,
    products: Option<Arc<MemoryProducts>>,
    /// What each checkout handed the store.
    written: Mutex<Vec<Written>>,
    /// The events each checkout handed the store: their types and conditions.
    events: Mutex<Vec<Vec<(domain::EventType, domain::EventCondition)>>>,
}

/// A checkout's promotion claim's per-customer part, and its idempotency key's expiry.
type Written = (Option<(UserId, u32)>, Option<chrono::DateTime<chrono::Utc>>);

#[async_trait]
impl CartRepository for MemoryCarts {
    async fn insert(&self, cart: &Cart) -> Result<(), RepositoryError> {
        self.carts.lock().unwrap().push(cart.clone());
        Ok(())
    }

    async fn get(&self, id: CartId) -> Result<Option<Cart>, RepositoryError> {
        Ok(self
            .carts
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.id() == id)
            .cloned())
    }

    async fn get_live(
        &self,
        id: CartId,
    ) -> Result<Option<(Cart, Vec<LiveVariant>)>, RepositoryError> {
        let Some(cart) = self.get(id).await? else {
            return Ok(None);
        };
        let products = self
            .products
            .as_ref()
            .map(|p| p.items.lock().unwrap().clone());
        let live = cart
            .items()
            .iter()
            .filter_map(|i| {
                let p = products
                    .iter()
                    .flatten()
                    .find(|p| p.variants.get(i.variant_id).is_some())?;
                let v = p.variants.get(i.variant_id)?;
                Some(LiveVariant {
                    variant_id: v.id,
                    product_id: p.id,
                    sku: v.sku.clone(),
                    name: p.name.clone(),
                    variant_title: v.title(),
                    price: v.price,
                    stock: v.stock,
                    for_sale: p.status.is_public(),
                })
            })
            .collect();
        Ok(Some((cart, live)))
    }

    async fn save(&self, cart: &Cart) -> Result<bool, RepositoryError> {
        self.saves_tried.fetch_add(1, Ordering::SeqCst);
        if self
            .lose_saves
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(false);
        }
        let mut carts = self.carts.lock().unwrap();
        let Some(stored) = carts.iter_mut().find(|c| c.id() == cart.id()) else {
            return Ok(false);
        };
        if stored.parts().version != cart.parts().version {
            return Ok(false);
        }
        let mut parts = cart.parts().clone();
        parts.version += 1;
        *stored = Cart::restore(parts);
        Ok(true)
    }

    async fn check_out(
        &self,
        write: &domain::CheckoutWrite<'_>,
    ) -> Result<(), domain::CheckoutError> {
        self.written.lock().unwrap().push((
            write.promotion.and_then(|c| c.per_customer),
            write.key.map(|k| k.expires_at),
        ));
        self.events.lock().unwrap().push(
            write
                .events
                .iter()
                .map(|e| (e.event.event_type, e.condition))
                .collect(),
        );
        let mut done = write.cart.clone();
        done.complete()
            .map_err(|_| domain::CheckoutError::CartChanged)?;
        if self.save(&done).await? {
            Ok(())
        } else {
            Err(domain::CheckoutError::CartChanged)
        }
    }

    async fn delete_expired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64, RepositoryError> {
        let mut carts = self.carts.lock().unwrap();
        let doomed: Vec<CartId> = carts
            .iter()
            .filter(|c| c.status() == domain::CartStatus::Open && c.parts().expires_at <= now)
            .take(limit as usize)
            .map(Cart::id)
            .collect();
        carts.retain(|c| !doomed.contains(&c.id()));
        Ok(doomed.len() as u64)
    }
}

/// No promotions, shipping options or tax rates.
struct NoCatalog;

#[async_trait]
impl CheckoutCatalog for NoCatalog {
    async fn promotion_by_code(
        &self,
        _: &PromotionCode,
    ) -> Result<Option<PromotionRecord>, RepositoryError> {
        Ok(None)
    }
    async fn shipping_options_for(
        &self,
        _: CountryCode,
    ) -> Result<Vec<ShippingOptionRecord>, RepositoryError> {
        Ok(Vec::new())
    }
    async fn tax_rates_of(&self, _: CountryCode) -> Result<Vec<TaxRateRecord>, RepositoryError> {
        Ok(Vec::new())
    }
    async fn customer_uses(&self, _: UserId, _: &PromotionCode) -> Result<u32, RepositoryError> {
        Ok(0)
    }
}

struct CountingTokens(AtomicUsize);

impl TokenMaker for CountingTokens {
    fn new_token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(format!("token-{}", self.0.fetch_add(1, Ordering::SeqCst)))
    }
}

fn carts() -> (Carts, Arc<MemoryCarts>, Arc<MemoryProducts>) {
    let products = Arc::new(MemoryProducts::default());
    let store = Arc::new(MemoryCarts {
        products: Some(products.clone()),
        ..MemoryCarts::default()
    });
    let uc = Carts {
        carts: store.clone(),
        products: products.clone() as Arc<dyn ProductRepository>,
        catalog: Arc::new(NoCatalog),
        tokens: Arc::new(CountingTokens(AtomicUsize::new(0))),
        clock: Arc::new(FixedClock),
        ttl: TimeDelta::days(30),
        orders: Arc::new(crate::testing::MemoryOrders::default()),
        users: Arc::new(crate::testing::MemoryUsers::default()),
        events: crate::testing::events(),
        images: products.clone(),
    };
    (uc, store, products)
}

fn guest(token: &str) -> CartCaller {
    CartCaller {
        actor: None,
        token: Some(token.to_owned()),
    }
}

fn signed_in(a: &crate::Actor) -> CartCaller {
    CartCaller {
        actor: Some(a.clone()),
        token: None,
    }
}

#[tokio::test]
async fn a_guest_cart_opens_with_its_token_only_and_a_users_for_its_owner_only() {
    let (uc, _, _) = carts();
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let token = made.token.clone().unwrap();
    let id = made.cart.id();
    // It lives CART_TTL_DAYS from its last change.
    let now = crate::ports::Clock::now(&FixedClock);
    assert_eq!(made.cart.parts().expires_at, now + TimeDelta::days(30));
    assert!(uc.get(id, &guest(&token)).await.is_ok());
    let user = actor(&[Role::User]);
    let admin = actor(&[Role::Admin]);
    for caller in [
        guest("token-1"),
        CartCaller::default(),
        signed_in(&user),
        signed_in(&admin),
    ] {
        assert!(matches!(uc.get(id, &caller).await, Err(AppError::NotFound)));
    }

    let mine = uc
        .create(Some(&user), CreateCartCommand::default())
        .await
        .unwrap();
    assert!(mine.token.is_none());
    let id = mine.cart.id();
    assert!(uc.get(id, &signed_in(&user)).await.is_ok());
    for caller in [
        guest(&token),
        signed_in(&admin),
        signed_in(&actor(&[Role::User])),
    ] {
        assert!(matches!(uc.get(id, &caller).await, Err(AppError::NotFound)));
    }
}

#[tokio::test]
async fn adding_checks_quantity_currency_and_what_is_named_before_touching_the_cart() {
    let (uc, store, products) = carts();
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, token) = (made.cart.id(), made.token.unwrap());
    let p = products.add_sample("MUG-1");
    for q in [0, 1001] {
        let e = validation(
            uc.add_item(id, &guest(&token), OrderItem::Product(p), q)
                .await,
        );
        assert_eq!(fields(&e), ["quantity"]);
    }
    let e = validation(
        uc.add_item(
            id,
            &guest(&token),
            OrderItem::Product(domain::ProductId::new()),
            1,
        )
        .await,
    );
    assert_eq!(fields(&e), ["product_id"]);
    let e = validation(
        uc.add_item(
            id,
            &guest(&token),
            OrderItem::Variant(domain::VariantId::new()),
            1,
        )
        .await,
    );
    assert_eq!(fields(&e), ["variant_id"]);
    // A stranger learns nothing: 404 before the catalog is read.
    assert!(matches!(
        uc.add_item(id, &guest("nope"), OrderItem::Product(p), 1)
            .await,
        Err(AppError::NotFound)
    ));
    assert_eq!(store.saves_tried.load(Ordering::SeqCst), 0);

    let yen = uc
        .create(
            None,
            CreateCartCommand {
                currency: Some("JPY".into()),
                email: None,
            },
        )
        .await
        .unwrap();
    let e = validation(
        uc.add_item(
            yen.cart.id(),
            &guest(yen.token.as_deref().unwrap()),
            OrderItem::Product(p),
            1,
        )
        .await,
    );
    assert_eq!(fields(&e), ["product_id"]);

    let view = uc
        .add_item(id, &guest(&token), OrderItem::Product(p), 2)
        .await
        .unwrap();
    assert_eq!(view.lines.len(), 1);
    assert_eq!(view.subtotal.minor(), 200);
    assert_eq!(view.total.minor(), 200);
}

#[tokio::test]
async fn a_save_that_lost_to_another_change_is_tried_again_then_given_up() {
    let (uc, store, products) = carts();
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, token) = (made.cart.id(), made.token.unwrap());
    let p = products.add_sample("MUG-1");
    store.lose_saves.store(2, Ordering::SeqCst);
    let view = uc
        .add_item(id, &guest(&token), OrderItem::Product(p), 1)
        .await
        .unwrap();
    assert_eq!(view.lines.len(), 1);
    assert_eq!(store.saves_tried.load(Ordering::SeqCst), 3);
    store.lose_saves.store(100, Ordering::SeqCst);
    let e = uc
        .add_item(id, &guest(&token), OrderItem::Product(p), 1)
        .await;
    assert!(matches!(e, Err(AppError::Conflict { .. })), "{e:?}");
    assert_eq!(store.saves_tried.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn claiming_needs_the_token_and_makes_the_cart_the_users() {
    let (uc, _, _) = carts();
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, token) = (made.cart.id(), made.token.unwrap());
    let user = actor(&[Role::User]);
    assert!(matches!(
        uc.claim(id, &user, None).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        uc.claim(id, &user, Some("wrong".into())).await,
        Err(AppError::NotFound)
    ));
    let view = uc.claim(id, &user, Some(token.clone())).await.unwrap();
    assert!(view.cart.is_owned_by(user.user_id));
    assert!(matches!(
        uc.get(id, &guest(&token)).await,
        Err(AppError::NotFound)
    ));
    let other = actor(&[Role::User]);
    assert!(matches!(
        uc.claim(id, &other, Some(token)).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn bad_details_are_each_named_and_an_option_needs_an_address() {
    let (uc, _, _) = carts();
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, token) = (made.cart.id(), made.token.unwrap());
    let e = validation(
        uc.update(
            id,
            &guest(&token),
            UpdateCartCommand {
                email: Some(Some("x".into())),
                discount_code: Some(Some("!!".into())),
                ..UpdateCartCommand::default()
            },
        )
        .await,
    );
    assert_eq!(fields(&e), ["email", "discount_code"]);
    let e = validation(
        uc.update(
            id,
            &guest(&token),
            UpdateCartCommand {
                shipping_option_id: Some(Some(uuid::Uuid::now_v7())),
                ..UpdateCartCommand::default()
            },
        )
        .await,
    );
    assert_eq!(fields(&e), ["shipping_option_id"]);
    let e = validation(
        uc.create(
            None,
            CreateCartCommand {
                currency: Some("XXX".into()),
                email: Some("bad".into()),
            },
        )
        .await,
    );
    assert_eq!(fields(&e), ["currency", "email"]);
}

#[tokio::test]
async fn the_expiry_job_deletes_every_open_cart_past_its_time_in_batches() {
    use crate::jobs::PeriodicWork;
    let (uc, store, _) = carts();
    let now = crate::ports::Clock::now(&FixedClock);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            uc.create(None, CreateCartCommand::default())
                .await
                .unwrap()
                .cart
                .id(),
        );
    }
    let fresh = uc
        .create(None, CreateCartCommand::default())
        .await
        .unwrap()
        .cart
        .id();
    {
        let mut carts = store.carts.lock().unwrap();
        for c in carts.iter_mut() {
            let mut parts = c.parts().clone();
            parts.expires_at = if parts.id == fresh {
                now + TimeDelta::seconds(1)
            } else {
                now
            };
            if parts.id == ids[4] {
                parts.status = domain::CartStatus::Completed;
            }
            *c = Cart::restore(parts);
        }
    }
    let job = crate::checkout::ExpireCarts {
        carts: store.clone(),
        batch: 2,
    };
    assert_eq!(job.run(now).await.unwrap(), 4);
    let left: Vec<CartId> = store.carts.lock().unwrap().iter().map(Cart::id).collect();
    assert_eq!(
        left,
        vec![ids[4], fresh],
        "completed and unexpired carts stay"
    );
    assert_eq!(job.run(now).await.unwrap(), 0);
}

// ---- pricing and checkout -------------------------------------------------------------------

/// One promotion, shipping options and tax rates, as given; `uses` of the code by anyone.
#[derive(Default)]
struct PricingCatalog {
    promotion: Option<PromotionRecord>,
    shipping: Vec<ShippingOptionRecord>,
    taxes: Vec<TaxRateRecord>,
    uses: u32,
}

#[async_trait]
impl CheckoutCatalog for PricingCatalog {
    async fn promotion_by_code(
        &self,
        code: &PromotionCode,
    ) -> Result<Option<PromotionRecord>, RepositoryError> {
        Ok(self
            .promotion
            .clone()
            .filter(|p| p.promotion.code() == code))
    }
    async fn shipping_options_for(
        &self,
        country: CountryCode,
    ) -> Result<Vec<ShippingOptionRecord>, RepositoryError> {
        Ok(self
            .shipping
            .iter()
            .filter(|r| r.option.countries().contains(&country))
            .cloned()
            .collect())
    }
    async fn tax_rates_of(&self, _: CountryCode) -> Result<Vec<TaxRateRecord>, RepositoryError> {
        Ok(self.taxes.clone())
    }
    async fn customer_uses(&self, _: UserId, _: &PromotionCode) -> Result<u32, RepositoryError> {
        Ok(self.uses)
    }
}

fn eur(s: &str) -> domain::Money {
    domain::Money::parse(s, domain::Currency::parse("EUR").unwrap()).unwrap()
}

fn de() -> CountryCode {
    CountryCode::parse("DE").unwrap()
}

/// The limits of the code `TEN`: its uses in all (and how many are spent), per customer (and
/// how many the customer spent).
#[derive(Default, Clone, Copy)]
struct Limits {
    usage_limit: Option<u32>,
    used: u32,
    per_customer_limit: Option<u32>,
    customer_uses: u32,
    min_subtotal: Option<&'static str>,
}

/// 10 % off with `TEN` (within `limits`), shipping to Germany 4.90 (free from 100.00), 19 %
/// VAT; and a product of 20.00 with 10 in stock.
fn priced_carts(limits: Limits) -> (Carts, Arc<MemoryCarts>, domain::ProductId, uuid::Uuid) {
    let (mut uc, store, products) = carts();
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let option_id = domain::ShippingOptionId::new();
    uc.catalog = Arc::new(PricingCatalog {
        promotion: Some(PromotionRecord {
            id: domain::PromotionId::new(),
            promotion: domain::Promotion::new(
                domain::PromotionRules {
                    code: PromotionCode::parse("TEN").unwrap(),
                    discount: domain::Discount::Percentage(domain::Percent::parse("10").unwrap()),
                    min_subtotal: limits.min_subtotal.map(eur),
                    starts_at: None,
                    ends_at: None,
                    usage_limit: limits.usage_limit,
                    per_customer_limit: limits.per_customer_limit,
                    active: true,
                },
                limits.used,
            )
            .unwrap(),
            created_at: now,
            updated_at: now,
        }),
        shipping: vec![ShippingOptionRecord {
            id: option_id,
            option: domain::ShippingOption::new(
                domain::ShippingOptionName::parse("Standard").unwrap(),
                vec![de()],
                domain::ShippingPrice::new(eur("4.90"), Some(eur("100.00"))).unwrap(),
                true,
            )
            .unwrap(),
            created_at: now,
            updated_at: now,
        }],
        taxes: vec![TaxRateRecord {
            id: domain::TaxRateId::new(),
            rate: domain::TaxRate::new(de(), None, domain::Percent::parse("19").unwrap(), "VAT")
                .unwrap(),
            created_at: now,
            updated_at: now,
        }],
        uses: limits.customer_uses,
    });
    let p = products.add_sample("TEE-1");
    {
        let mut items = products.items.lock().unwrap();
        let product = items.iter_mut().find(|x| x.id == p).unwrap();
        let v = product.variants.variants()[0].id;
        product.variants = domain::VariantSet::single(
            v,
            domain::Sku::parse("TEE-1").unwrap(),
            eur("20.00"),
            domain::Stock::new(10).unwrap(),
        );
    }
    (uc, store, p, option_id.as_uuid())
}

fn berlin() -> domain::AddressInput {
    domain::AddressInput {
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        postal_code: "10115".into(),
        country: "DE".into(),
        state: None,
    }
}

#[tokio::test]
async fn a_cart_is_priced_with_its_code_shipping_and_tax_and_checks_out_to_those_totals() {
    let (uc, _, p, option) = priced_carts(Limits::default());
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    let view = uc
        .add_item(id, &caller, OrderItem::Product(p), 3)
        .await
        .unwrap();
    assert_eq!(view.lines.len(), 1);
    assert_eq!(view.lines[0].line_total, eur("60.00"));
    assert!(view.lines[0].in_stock, "3 of 10");
    // Without an address nothing ships; with one, the option is offered at its price.
    assert!(uc.shipping_options(id, &caller).await.unwrap().is_empty());
    let view = uc
        .update(
            id,
            &caller,
            UpdateCartCommand {
                email: Some(Some("ada@example.com".into())),
                shipping_address: Some(Some(berlin())),
                shipping_option_id: Some(Some(option)),
                discount_code: Some(Some("ten".into())),
            },
        )
        .await
        .unwrap();
    let offered = uc.shipping_options(id, &caller).await.unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].amount, eur("4.90"));
    // 60.00 - 6.00 + 4.90 = 58.90; 19 % of it is 11.191, so 11.19; 70.09 in all.
    assert_eq!(view.subtotal, eur("60.00"));
    assert_eq!(view.discount.as_ref().unwrap().amount, eur("6.00"));
    assert_eq!(
        view.discount.as_ref().unwrap().code.as_str(),
        "ten",
        "as the customer typed it"
    );
    let shipping = view.shipping.as_ref().unwrap();
    assert_eq!(
        (shipping.name.as_str(), shipping.amount),
        ("Standard", eur("4.90"))
    );
    assert_eq!(view.tax_total, eur("11.19"));
    assert_eq!(view.total, eur("70.09"));
    assert_eq!(uc.get(id, &caller).await.unwrap().total, eur("70.09"));

    let done = uc.check_out(id, &caller, None).await.unwrap();
    let d = done.order.details();
    assert_eq!(
        (d.subtotal, d.discount_total, d.shipping_total, d.tax_total),
        (eur("60.00"), eur("6.00"), eur("4.90"), eur("11.19"))
    );
    assert_eq!(done.order.total(), eur("70.09"));
    assert!(
        d.discount_code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("TEN"))
    );
    assert_eq!(d.shipping_option.as_ref().unwrap().amount, eur("4.90"));
    assert_eq!(done.order.lines().len(), 1);
    assert_eq!(done.order.lines()[0].quantity.get(), 3);
    assert!(done.token.is_some(), "a guest's order carries its token");
    // Completed: a second checkout and any change are conflicts.
    assert!(matches!(
        uc.check_out(id, &caller, None).await,
        Err(AppError::Conflict { .. })
    ));
    assert!(matches!(
        uc.add_item(id, &caller, OrderItem::Product(p), 1).await,
        Err(AppError::Conflict { .. })
    ));
}

#[tokio::test]
async fn shipping_is_free_from_its_threshold_and_the_code_is_dropped_when_cleared() {
    let (uc, _, p, option) = priced_carts(Limits::default());
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    uc.add_item(id, &caller, OrderItem::Product(p), 6)
        .await
        .unwrap();
    let details = UpdateCartCommand {
        shipping_address: Some(Some(berlin())),
        shipping_option_id: Some(Some(option)),
        discount_code: Some(Some("TEN".into())),
        ..UpdateCartCommand::default()
    };
    let view = uc.update(id, &caller, details).await.unwrap();
    // 120.00 - 12.00 = 108.00 reaches 100.00: free shipping; 19 % of 108.00 is 20.52.
    assert_eq!(view.shipping.as_ref().unwrap().amount, eur("0.00"));
    assert_eq!(view.tax_total, eur("20.52"));
    assert_eq!(view.total, eur("128.52"));
    let cleared = UpdateCartCommand {
        discount_code: Some(None),
        ..UpdateCartCommand::default()
    };
    let view = uc.update(id, &caller, cleared).await.unwrap();
    assert!(view.discount.is_none());
    assert_eq!(
        view.total,
        eur("142.80"),
        "120.00 + 19 %, shipping still free"
    );
}

#[tokio::test]
async fn checkout_names_what_is_missing_and_an_unknown_code_is_refused() {
    let (uc, _, p, _) = priced_carts(Limits::default());
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    let e = validation(uc.check_out(id, &caller, None).await);
    assert_eq!(fields(&e), ["items", "email", "shipping_address"]);
    uc.add_item(id, &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    let e = validation(
        uc.update(
            id,
            &caller,
            UpdateCartCommand {
                discount_code: Some(Some("NOPE".into())),
                ..UpdateCartCommand::default()
            },
        )
        .await,
    );
    assert_eq!(fields(&e), ["discount_code"]);
    // Someone else's: not found, before anything is checked.
    assert!(matches!(
        uc.check_out(id, &guest("wrong"), None).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn a_code_a_customer_has_used_up_is_refused_to_them_but_not_to_a_guest() {
    let limits = Limits {
        per_customer_limit: Some(1),
        customer_uses: 1,
        ..Limits::default()
    };
    let (uc, _, p, _) = priced_carts(limits);
    let ann = actor(&[Role::User]);
    let mine = uc
        .create(Some(&ann), CreateCartCommand::default())
        .await
        .unwrap();
    let code = UpdateCartCommand {
        discount_code: Some(Some("TEN".into())),
        ..UpdateCartCommand::default()
    };
    uc.add_item(mine.cart.id(), &signed_in(&ann), OrderItem::Product(p), 1)
        .await
        .unwrap();
    let e = validation(
        uc.update(mine.cart.id(), &signed_in(&ann), code.clone())
            .await,
    );
    assert_eq!(fields(&e), ["discount_code"]);
    // A guest has no uses counted against them.
    let theirs = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let caller = guest(theirs.token.as_deref().unwrap());
    uc.add_item(theirs.cart.id(), &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    let view = uc.update(theirs.cart.id(), &caller, code).await.unwrap();
    assert_eq!(view.discount.unwrap().amount, eur("2.00"));
}

#[tokio::test]
async fn a_code_used_up_in_all_is_refused_and_a_line_past_the_stock_is_not_in_stock() {
    let limits = Limits {
        usage_limit: Some(1),
        used: 1,
        ..Limits::default()
    };
    let (uc, _, p, _) = priced_carts(limits);
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    let view = uc
        .add_item(id, &caller, OrderItem::Product(p), 10)
        .await
        .unwrap();
    assert!(view.lines[0].in_stock, "10 of 10");
    let view = uc
        .add_item(id, &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    assert!(!view.lines[0].in_stock, "11 of 10");
    let e = validation(
        uc.update(
            id,
            &caller,
            UpdateCartCommand {
                discount_code: Some(Some("TEN".into())),
                ..UpdateCartCommand::default()
            },
        )
        .await,
    );
    assert_eq!(fields(&e), ["discount_code"]);
}

fn messages(errors: &[domain::FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.message.as_str()).collect()
}

#[tokio::test]
async fn a_shipping_option_needs_an_address_it_ships_to_in_the_carts_currency() {
    let (uc, _, p, option) = priced_carts(Limits::default());
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    uc.add_item(id, &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    let choose = |address: Option<domain::AddressInput>| UpdateCartCommand {
        shipping_address: address.map(Some),
        shipping_option_id: Some(Some(option)),
        ..UpdateCartCommand::default()
    };
    let e = validation(uc.update(id, &caller, choose(None)).await);
    assert_eq!(fields(&e), ["shipping_option_id"]);
    assert!(
        messages(&e)[0].starts_with("set a shipping_address first"),
        "{e:?}"
    );
    let abroad = domain::AddressInput {
        country: "AT".into(),
        ..berlin()
    };
    let e = validation(uc.update(id, &caller, choose(Some(abroad.clone()))).await);
    assert!(
        messages(&e)[0].starts_with("no active shipping option"),
        "{e:?}"
    );
    // Chosen with an address it serves, then the address moves where it does not: the option
    // is dropped, not refused.
    let view = uc
        .update(id, &caller, choose(Some(berlin())))
        .await
        .unwrap();
    assert_eq!(view.shipping.unwrap().amount, eur("4.90"));
    let moved = UpdateCartCommand {
        shipping_address: Some(Some(abroad)),
        ..UpdateCartCommand::default()
    };
    let view = uc.update(id, &caller, moved).await.unwrap();
    assert!(view.shipping.is_none());
    assert_eq!(view.cart.parts().shipping_option_id, None);
    // A cart in dollars cannot take an option priced in euros.
    let usd = uc
        .create(
            None,
            CreateCartCommand {
                currency: Some("USD".into()),
                email: None,
            },
        )
        .await
        .unwrap();
    let caller = guest(usd.token.as_deref().unwrap());
    let e = validation(
        uc.update(usd.cart.id(), &caller, choose(Some(berlin())))
            .await,
    );
    assert!(messages(&e)[0].contains("another currency"), "{e:?}");
}

#[tokio::test]
async fn checkout_refuses_a_line_no_longer_for_sale_and_wants_an_option_where_one_ships() {
    let (uc, store, p, option) = priced_carts(Limits::default());
    let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
    let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
    uc.add_item(id, &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    let details = UpdateCartCommand {
        email: Some(Some("ada@example.com".into())),
        shipping_address: Some(Some(berlin())),
        ..UpdateCartCommand::default()
    };
    uc.update(id, &caller, details).await.unwrap();
    let e = validation(uc.check_out(id, &caller, None).await);
    assert_eq!(fields(&e), ["shipping_option_id"]);
    let chosen = UpdateCartCommand {
        shipping_option_id: Some(Some(option)),
        ..UpdateCartCommand::default()
    };
    uc.update(id, &caller, chosen).await.unwrap();
    {
        let products = store.products.as_ref().unwrap();
        let mut items = products.items.lock().unwrap();
        items.iter_mut().find(|x| x.id == p).unwrap().status = domain::ProductStatus::Draft;
    }
    let e = validation(uc.check_out(id, &caller, None).await);
    assert_eq!(fields(&e), ["items[0]"]);
}

#[tokio::test]
async fn checkout_hands_the_store_the_customers_claim_and_a_key_for_a_day() {
    let limits = Limits {
        per_customer_limit: Some(2),
        min_subtotal: Some("15.00"),
        ..Limits::default()
    };
    let (uc, store, p, option) = priced_carts(limits);
    let ann = actor(&[Role::User]);
    let caller = signed_in(&ann);
    let made = uc
        .create(Some(&ann), CreateCartCommand::default())
        .await
        .unwrap();
    let id = made.cart.id();
    uc.add_item(id, &caller, OrderItem::Product(p), 1)
        .await
        .unwrap();
    let details = UpdateCartCommand {
        email: Some(Some("ann@example.com".into())),
        shipping_address: Some(Some(berlin())),
        shipping_option_id: Some(Some(option)),
        discount_code: Some(Some("TEN".into())),
    };
    // 20.00 reaches the code's 15.00 minimum.
    let view = uc.update(id, &caller, details).await.unwrap();
    assert_eq!(view.discount.unwrap().amount, eur("2.00"));
    let key = crate::ordering::IdempotencyKey::parse("checkout-1").unwrap();
    let done = uc.check_out(id, &caller, Some(key)).await.unwrap();
    assert!(done.token.is_none(), "a customer's order needs no token");
    let written = store.written.lock().unwrap().clone();
    assert_eq!(
        written,
        [(
            Some((ann.user_id, 2)),
            Some(done.order.created_at() + crate::ordering::IDEMPOTENCY_WINDOW)
        )]
    );
}

#[tokio::test]
async fn checkout_raises_order_placed_and_low_stock_for_a_variant_it_may_leave_low() {
    use domain::{EventCondition, EventType};
    // 10 in stock (the fake store takes none) and a threshold of 5: taking 4 would leave 6,
    // taking 5 would leave 5, which is low.
    let (uc, store, p, option) = priced_carts(Limits::default());
    let variant = {
        let products = uc.products.get_many(&[p]).await.unwrap();
        products[0].variants.first().id
    };
    for quantity in [4, 5] {
        let made = uc.create(None, CreateCartCommand::default()).await.unwrap();
        let (id, caller) = (made.cart.id(), guest(made.token.as_deref().unwrap()));
        uc.add_item(id, &caller, OrderItem::Product(p), quantity)
            .await
            .unwrap();
        let details = UpdateCartCommand {
            email: Some(Some("guest@example.com".into())),
            shipping_address: Some(Some(berlin())),
            shipping_option_id: Some(Some(option)),
            discount_code: None,
        };
        uc.update(id, &caller, details).await.unwrap();
        uc.check_out(id, &caller, None).await.unwrap();
    }
    let events = store.events.lock().unwrap().clone();
    assert_eq!(
        events[0],
        [(EventType::OrderPlaced, EventCondition::Always)]
    );
    assert_eq!(
        events[1],
        [
            (EventType::OrderPlaced, EventCondition::Always),
            (
                EventType::VariantLowStock,
                EventCondition::StockFell {
                    product: variant,
                    taken: 5,
                    threshold: 5,
                }
            )
        ]
    );
}
