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
}

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
