//! Carts: made by anyone, reached by their owner or with their guest token (anyone else gets
//! `NotFound`, exactly like a missing cart), filled with variants, priced live by
//! [`domain::price_cart`] with the discount code, shipping option and tax rate that apply.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    Address, AddressInput, Cart, CartError, CartId, CartItem, CartItemId, CartOwner, CartPricing,
    CartRepository, CountryCode, Currency, DomainError, Email, LiveVariant, Money, Percent,
    ProductRepository, PromotionCode, PromotionRecord, PromotionUse, Quantity, RepositoryError,
    ShippingOptionId, ShippingOptionRecord, TaxRateRecord, Totals, UserId, Validator,
    choose_tax_rate, price_cart,
};
use domain::{
    CheckoutError, CheckoutWrite, IdempotencyRecord, ImageRepository, Order, OrderDetails, OrderId,
    OrderLine, OrderRepository, ProductId, PromotionClaim, ShippingChoice, UserRepository,
    VariantId,
};

use crate::events::Events;
use crate::ordering::{IDEMPOTENCY_WINDOW, IdempotencyKey, OrderItem};
use crate::ports::Clock;
use crate::{Actor, AppError};

/// Currency of a cart made without one.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// How many times a change is tried again when another change of the same cart was saved
/// between its read and its write.
const SAVE_ATTEMPTS: usize = 5;

/// What checkout pricing needs to look up besides the cart: promotions by code, the shipping
/// options and tax rates of a country, and a customer's uses of a code.
#[async_trait]
pub trait CheckoutCatalog: Send + Sync {
    /// The promotion whose code is `code` in any case.
    async fn promotion_by_code(
        &self,
        code: &PromotionCode,
    ) -> Result<Option<PromotionRecord>, RepositoryError>;

    /// The active shipping options that ship to `country`, oldest first.
    async fn shipping_options_for(
        &self,
        country: CountryCode,
    ) -> Result<Vec<ShippingOptionRecord>, RepositoryError>;

    /// The tax rates of `country` (its own and its states').
    async fn tax_rates_of(
        &self,
        country: CountryCode,
    ) -> Result<Vec<TaxRateRecord>, RepositoryError>;

    /// How many of `user`'s orders, not cancelled, used `code` (in any case).
    async fn customer_uses(
        &self,
        user: UserId,
        code: &PromotionCode,
    ) -> Result<u32, RepositoryError>;
}

/// Makes the random tokens of guest carts and orders.
pub trait TokenMaker: Send + Sync {
    /// A new token: at least 32 random bytes, URL-safe.
    ///
    /// # Errors
    /// When the system's randomness is not available.
    fn new_token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

/// Who calls: a signed-in user, and the `X-Cart-Token` sent, either or both.
#[derive(Debug, Clone, Default)]
pub struct CartCaller {
    /// The verified bearer's account.
    pub actor: Option<Actor>,
    /// The `X-Cart-Token` header, as sent.
    pub token: Option<String>,
}

/// A new cart as sent.
#[derive(Debug, Clone, Default)]
pub struct CreateCartCommand {
    /// ISO 4217; [`DEFAULT_CURRENCY`] when absent.
    pub currency: Option<String>,
    /// Where the confirmation goes.
    pub email: Option<String>,
}

/// Changes to a cart's details: an absent field stays, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateCartCommand {
    /// E-mail address.
    pub email: Option<Option<String>>,
    /// Shipping address.
    pub shipping_address: Option<Option<AddressInput>>,
    /// Shipping option id.
    pub shipping_option_id: Option<Option<uuid::Uuid>>,
    /// Discount code.
    pub discount_code: Option<Option<String>>,
}

/// One cart line as shown: the line, its variant today, and its price.
#[derive(Debug, Clone)]
pub struct CartLineView {
    /// The line.
    pub item: CartItem,
    /// Its variant as it is today.
    pub variant: LiveVariant,
    /// `unit price × quantity`.
    pub line_total: Money,
    /// Whether it can be bought now: for sale and enough stock for the quantity.
    pub in_stock: bool,
}

/// The discount applied, as shown.
#[derive(Debug, Clone)]
pub struct AppliedDiscount {
    /// The code as the cart holds it.
    pub code: PromotionCode,
    /// What it takes off.
    pub amount: Money,
}

/// The shipping chosen, as shown.
#[derive(Debug, Clone)]
pub struct AppliedShipping {
    /// The option.
    pub option_id: ShippingOptionId,
    /// Its name.
    pub name: String,
    /// What it charges this cart.
    pub amount: Money,
}

/// A cart as shown: its lines at today's prices and its totals.
#[derive(Debug, Clone)]
pub struct CartView {
    /// The cart.
    pub cart: Cart,
    /// Its lines whose variants still exist, in the order added.
    pub lines: Vec<CartLineView>,
    /// Sum of the lines.
    pub subtotal: Money,
    /// The discount, when the code applies.
    pub discount: Option<AppliedDiscount>,
    /// The shipping, when an option is chosen and serves the address.
    pub shipping: Option<AppliedShipping>,
    /// Tax on subtotal - discount + shipping.
    pub tax_total: Money,
    /// What checkout would charge.
    pub total: Money,
    /// The guest token: only in the answer that made the cart.
    pub token: Option<String>,
}

/// A shipping option as offered to one cart: its price for that cart.
#[derive(Debug, Clone)]
pub struct OfferedShipping {
    /// The option.
    pub record: ShippingOptionRecord,
    /// What it would charge this cart (zero over its `free_over`).
    pub amount: Money,
}

/// Carts: every operation of the cart routes, authorized here.
pub struct Carts {
    /// Stored carts.
    pub carts: Arc<dyn CartRepository>,
    /// The catalog, to resolve what is added.
    pub products: Arc<dyn ProductRepository>,
    /// Promotions, shipping options, tax rates.
    pub catalog: Arc<dyn CheckoutCatalog>,
    /// Guest tokens.
    pub tokens: Arc<dyn TokenMaker>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How long an open cart lives untouched (`CART_TTL_DAYS`).
    pub ttl: TimeDelta,
    /// Orders (idempotency keys and replays).
    pub orders: Arc<dyn OrderRepository>,
    /// Accounts (a signed-in customer's e-mail address is the default).
    pub users: Arc<dyn UserRepository>,
    /// The events an order writes.
    pub events: Arc<Events>,
    /// Product image rows (for the low-stock events' products).
    pub images: Arc<dyn ImageRepository>,
}

/// What checkout answered: the order, and for a guest's order its token (shown once).
#[derive(Debug, Clone)]
pub struct CheckedOut {
    /// The order.
    pub order: Order,
    /// A guest's order token: only in the answer that placed it.
    pub token: Option<String>,
    /// Whether this answers an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

impl From<CartError> for AppError {
    fn from(e: CartError) -> Self {
        match e {
            CartError::Completed => AppError::Conflict {
                field: None,
                message: "the cart is completed and can no longer change".into(),
            },
            CartError::NoSuchItem | CartError::NotYours => AppError::NotFound,
            CartError::Invalid(e) => e.into(),
        }
    }
}

/// Whether `caller` may see and change `cart`: its owner, or a guest cart with its token.
/// Anyone else (an admin too) is told it does not exist.
fn may_open(cart: &Cart, caller: &CartCaller) -> bool {
    match cart.owner() {
        CartOwner::User(u) => caller.actor.as_ref().is_some_and(|a| a.user_id == u),
        CartOwner::Guest(_) => caller.token.as_deref().is_some_and(|t| cart.opens_with(t)),
    }
}

fn invalid(e: DomainError) -> AppError {
    e.into()
}

impl Carts {
    fn expires(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(self.ttl).unwrap_or(now)
    }

    /// Makes a cart: the signed-in caller's, or a guest's with a new token (answered once).
    ///
    /// # Errors
    /// `Validation` on `currency` or `email`.
    #[tracing::instrument(name = "create_cart", skip_all)]
    pub async fn create(
        &self,
        actor: Option<&Actor>,
        cmd: CreateCartCommand,
    ) -> Result<CartView, AppError> {
        let mut v = Validator::new();
        let currency = v.check(
            "currency",
            Currency::parse(cmd.currency.as_deref().unwrap_or(DEFAULT_CURRENCY)),
        );
        let email = match cmd.email.as_deref() {
            None => Some(None),
            Some(e) => v.check("email", Email::parse(e)).map(Some),
        };
        v.finish()?;
        let (Some(currency), Some(email)) = (currency, email) else {
            return Err(AppError::invalid("currency", "is invalid"));
        };
        let (owner, token) = match actor {
            Some(a) => (CartOwner::User(a.user_id), None),
            None => {
                let token = self.tokens.new_token().map_err(AppError::Internal)?;
                (CartOwner::Guest(domain::TokenHash::of(&token)), Some(token))
            }
        };
        let now = self.clock.now();
        let cart = Cart::new(owner, currency, email, now, self.expires(now));
        self.carts.insert(&cart).await?;
        let mut view = self.view_of(cart.id(), actor.map(|a| a.user_id)).await?;
        view.token = token;
        Ok(view)
    }

    /// The cart, if `caller` may open it.
    async fn open(&self, id: CartId, caller: &CartCaller) -> Result<Cart, AppError> {
        match self.carts.get(id).await? {
            Some(c) if may_open(&c, caller) => Ok(c),
            _ => Err(AppError::NotFound),
        }
    }

    /// The cart priced at today's prices.
    ///
    /// # Errors
    /// `NotFound` unless the caller is its owner or holds its token.
    #[tracing::instrument(name = "get_cart", skip_all, fields(cart_id = %id))]
    pub async fn get(&self, id: CartId, caller: &CartCaller) -> Result<CartView, AppError> {
        let (cart, live) = self.carts.get_live(id).await?.ok_or(AppError::NotFound)?;
        if !may_open(&cart, caller) {
            return Err(AppError::NotFound);
        }
        self.price(cart, live, caller.actor.as_ref().map(|a| a.user_id))
            .await
    }

    async fn view_of(&self, id: CartId, user: Option<UserId>) -> Result<CartView, AppError> {
        let (cart, live) = self.carts.get_live(id).await?.ok_or(AppError::NotFound)?;
        self.price(cart, live, user).await
    }

    /// Reads, changes with `change` and saves the cart, again from a fresh read when another
    /// change was saved in between; answers the cart priced as saved.
    async fn change<F>(
        &self,
        id: CartId,
        caller: &CartCaller,
        change: F,
    ) -> Result<CartView, AppError>
    where
        F: Fn(&mut Cart) -> Result<(), AppError> + Send + Sync,
    {
        self.change_from(None, id, caller, change).await
    }

    /// [`Self::change`], its first try on `read` when the caller has just read the cart.
    async fn change_from<F>(
        &self,
        mut read: Option<Cart>,
        id: CartId,
        caller: &CartCaller,
        change: F,
    ) -> Result<CartView, AppError>
    where
        F: Fn(&mut Cart) -> Result<(), AppError> + Send + Sync,
    {
        for _ in 0..SAVE_ATTEMPTS {
            let mut cart = match read.take() {
                Some(c) => c,
                None => self.open(id, caller).await?,
            };
            change(&mut cart)?;
            let now = self.clock.now();
            cart.touch(now, self.expires(now));
            if self.carts.save(&cart).await? {
                return self
                    .view_of(id, caller.actor.as_ref().map(|a| a.user_id))
                    .await;
            }
        }
        Err(AppError::Conflict {
            field: None,
            message: "the cart kept changing meanwhile; try again".into(),
        })
    }

    /// Adds `quantity` of a variant (or of a product of one variant); a variant already in
    /// the cart adds to its line.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` once completed; `Validation` on `quantity` (1..=1000, and the
    /// line's sum), `items` (100 lines), `variant_id`/`product_id` (unknown, not for sale, a
    /// product of several variants, another currency than the cart's).
    #[tracing::instrument(name = "add_cart_item", skip_all, fields(cart_id = %id))]
    pub async fn add_item(
        &self,
        id: CartId,
        caller: &CartCaller,
        item: OrderItem,
        quantity: i64,
    ) -> Result<CartView, AppError> {
        let quantity = Quantity::new(quantity).map_err(|e| AppError::Validation(vec![e]))?;
        // Checked before the catalog is read, so a stranger learns nothing of it.
        let cart = self.open(id, caller).await?;
        let (field, product) = match item {
            OrderItem::Variant(v) => (
                "variant_id",
                self.products.of_variants(&[v]).await?.into_iter().next(),
            ),
            OrderItem::Product(p) => ("product_id", self.products.get(p).await?),
        };
        let Some(product) = product else {
            return Err(AppError::invalid(field, format!("{item} does not exist")));
        };
        if !product.status.is_public() {
            return Err(AppError::invalid(
                field,
                format!("product {} is not for sale", product.id),
            ));
        }
        let variant = match item {
            OrderItem::Variant(v) => product.variants.get(v),
            OrderItem::Product(_) if product.variants.variants().len() == 1 => {
                Some(product.variants.first())
            }
            OrderItem::Product(p) => {
                return Err(AppError::invalid(
                    "variant_id",
                    format!(
                        "product {p} has {} variants: name the one to buy by variant_id",
                        product.variants.variants().len()
                    ),
                ));
            }
        }
        .ok_or_else(|| AppError::invalid(field, format!("{item} does not exist")))?;
        if variant.price.currency() != cart.currency() {
            return Err(AppError::invalid(
                field,
                format!(
                    "it is priced in {}, the cart in {}",
                    variant.price.currency().code(),
                    cart.currency().code()
                ),
            ));
        }
        let variant_id = variant.id;
        // The cart just read is the first try's.
        self.change_from(Some(cart), id, caller, |c| {
            c.add(variant_id, quantity)?;
            Ok(())
        })
        .await
    }

    /// Sets a line's quantity; 0 removes it.
    ///
    /// # Errors
    /// `NotFound` (also for a line not in the cart); `Conflict` once completed;
    /// `Validation` on `quantity` outside 0..=1000.
    #[tracing::instrument(name = "set_cart_item", skip_all, fields(cart_id = %id))]
    pub async fn set_quantity(
        &self,
        id: CartId,
        caller: &CartCaller,
        item: CartItemId,
        quantity: i64,
    ) -> Result<CartView, AppError> {
        self.change(id, caller, |c| Ok(c.set_quantity(item, quantity)?))
            .await
    }

    /// Removes a line.
    ///
    /// # Errors
    /// `NotFound` (also for a line not in the cart); `Conflict` once completed.
    #[tracing::instrument(name = "remove_cart_item", skip_all, fields(cart_id = %id))]
    pub async fn remove_item(
        &self,
        id: CartId,
        caller: &CartCaller,
        item: CartItemId,
    ) -> Result<CartView, AppError> {
        self.change(id, caller, |c| Ok(c.remove(item)?)).await
    }

    /// Sets or clears the details: e-mail, shipping address, shipping option (which must be
    /// active, in the cart's currency and ship to the address), discount code (which must
    /// apply to the cart now). A new address that the chosen option does not serve clears the
    /// option.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` once completed; `Validation` naming each bad field.
    #[tracing::instrument(name = "update_cart", skip_all, fields(cart_id = %id))]
    pub async fn update(
        &self,
        id: CartId,
        caller: &CartCaller,
        cmd: UpdateCartCommand,
    ) -> Result<CartView, AppError> {
        let cart = self.open(id, caller).await?;
        let mut v = Validator::new();
        let email = match &cmd.email {
            Some(Some(e)) => v.check("email", Email::parse(e)).map(|e| Some(Some(e))),
            Some(None) => Some(Some(None)),
            None => Some(None),
        };
        let address = match &cmd.shipping_address {
            Some(Some(a)) => Address::parse(&mut v, "shipping_address", a).map(|a| Some(Some(a))),
            Some(None) => Some(Some(None)),
            None => Some(None),
        };
        let code = match &cmd.discount_code {
            Some(Some(c)) => v
                .check("discount_code", PromotionCode::parse(c))
                .map(|c| Some(Some(c))),
            Some(None) => Some(Some(None)),
            None => Some(None),
        };
        v.finish()?;
        let (Some(email), Some(address), Some(code)) = (email, address, code) else {
            return Err(AppError::invalid("body", "is invalid"));
        };
        let option = cmd
            .shipping_option_id
            .map(|o| o.map(ShippingOptionId::from_uuid));
        // Where the cart will ship once changed, to check the option against.
        let ship_to = match &address {
            Some(a) => a.clone(),
            None => cart.parts().shipping_address.clone(),
        };
        let mut keep_option = true;
        let chosen = match option {
            Some(o) => o,
            None => cart.parts().shipping_option_id,
        };
        if let Some(o) = chosen {
            let explicit = option.is_some();
            let served = match &ship_to {
                Some(a) => self
                    .catalog
                    .shipping_options_for(a.country)
                    .await?
                    .into_iter()
                    .find(|r| r.id == o),
                None => None,
            };
            match served {
                Some(r) if r.option.price().price().currency() == cart.currency() => {}
                Some(_) if explicit => {
                    return Err(AppError::invalid(
                        "shipping_option_id",
                        "the option is priced in another currency than the cart",
                    ));
                }
                None if explicit && ship_to.is_none() => {
                    return Err(AppError::invalid(
                        "shipping_option_id",
                        "set a shipping_address first: options depend on the country",
                    ));
                }
                None if explicit => {
                    return Err(AppError::invalid(
                        "shipping_option_id",
                        format!("no active shipping option {o} ships to this address"),
                    ));
                }
                _ => keep_option = false,
            }
        }
        if let Some(Some(c)) = &code {
            let record = self.catalog.promotion_by_code(c).await?.ok_or_else(|| {
                AppError::invalid(
                    "discount_code",
                    format!("no promotion has the code {}", c.as_str()),
                )
            })?;
            // The code must apply to the cart as it is now.
            let (_, live) = self.carts.get_live(id).await?.ok_or(AppError::NotFound)?;
            let lines = self.lines(&cart, &live);
            let subtotal = domain::pricing::subtotal(
                cart.currency(),
                &lines
                    .iter()
                    .filter(|l| l.line_total.currency() == cart.currency())
                    .map(|l| l.line_total)
                    .collect::<Vec<_>>(),
            )
            .map_err(invalid)?;
            let uses = self
                .uses(caller.actor.as_ref().map(|a| a.user_id), c)
                .await?;
            record
                .promotion
                .check(subtotal, self.clock.now(), uses)
                .map_err(|r| invalid(r.into()))?;
        }
        self.change(id, caller, |c| {
            if let Some(e) = &email {
                c.set_email(e.clone())?;
            }
            if let Some(a) = &address {
                c.set_shipping_address(a.clone())?;
            }
            if let Some(o) = option {
                c.set_shipping_option(o)?;
            } else if !keep_option {
                c.set_shipping_option(None)?;
            }
            if let Some(code) = &code {
                c.set_discount_code(code.clone())?;
            }
            Ok(())
        })
        .await
    }

    /// The active shipping options that ship to the cart's address, each with its price for
    /// this cart; none before an address is set.
    ///
    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(name = "cart_shipping_options", skip_all, fields(cart_id = %id))]
    pub async fn shipping_options(
        &self,
        id: CartId,
        caller: &CartCaller,
    ) -> Result<Vec<OfferedShipping>, AppError> {
        let view = self.get(id, caller).await?;
        let Some(address) = view.cart.parts().shipping_address.clone() else {
            return Ok(Vec::new());
        };
        let discount = view
            .discount
            .as_ref()
            .map_or(Money::zero(view.cart.currency()), |d| d.amount);
        let after_discount = view.subtotal.checked_sub(discount).map_err(invalid)?;
        let mut offered = Vec::new();
        for record in self.catalog.shipping_options_for(address.country).await? {
            if let Ok(amount) =
                domain::pricing::shipping_amount(record.option.price(), after_discount)
            {
                offered.push(OfferedShipping { record, amount });
            }
        }
        Ok(offered)
    }

    /// Makes a guest's cart the signed-in caller's; the token no longer opens it. Claiming
    /// one's own cart again changes nothing.
    ///
    /// # Errors
    /// `NotFound` without the cart's token (or for another customer's cart); `Conflict` once
    /// completed.
    #[tracing::instrument(name = "claim_cart", skip_all, fields(cart_id = %id))]
    pub async fn claim(
        &self,
        id: CartId,
        actor: &Actor,
        token: Option<String>,
    ) -> Result<CartView, AppError> {
        let caller = CartCaller {
            actor: Some(actor.clone()),
            token,
        };
        let user = actor.user_id;
        self.change(id, &caller, |c| Ok(c.claim(user)?)).await
    }

    /// Checks the cart out into an order, all or nothing: every line's stock, the discount's
    /// use, the order, the cart completed, `order.placed`. With `key`, a repeat answers the
    /// first order again (also when the two race).
    ///
    /// # Errors
    /// `NotFound`; `Validation` naming what is missing or wrong (`items`, `email`,
    /// `shipping_address`, `shipping_option_id`, `discount_code`); `Conflict` for a completed
    /// cart, a variant short of stock (named), a promotion whose last use went elsewhere, a key
    /// reused for another cart.
    #[tracing::instrument(name = "check_out", skip_all, fields(cart_id = %id))]
    pub async fn check_out(
        &self,
        id: CartId,
        caller: &CartCaller,
        key: Option<IdempotencyKey>,
    ) -> Result<CheckedOut, AppError> {
        let (cart, live) = self.carts.get_live(id).await?.ok_or(AppError::NotFound)?;
        if !may_open(&cart, caller) {
            return Err(AppError::NotFound);
        }
        let now = self.clock.now();
        // Keys are per customer; a guest's are per cart.
        let key_owner = match cart.owner() {
            CartOwner::User(u) => u,
            CartOwner::Guest(_) => UserId::from_uuid(id.as_uuid()),
        };
        let fingerprint = format!("checkout {id}");
        if let Some(k) = &key
            && let Some(found) = self.replay(key_owner, k.as_str(), &fingerprint).await?
        {
            return Ok(found);
        }
        if cart.status() == domain::CartStatus::Completed {
            return Err(AppError::Conflict {
                field: None,
                message: "the cart is already checked out".into(),
            });
        }
        let user = match cart.owner() {
            CartOwner::User(u) => Some(u),
            CartOwner::Guest(_) => None,
        };
        let mut v = Validator::new();
        if cart.items().is_empty() {
            v.push(domain::FieldError::new("items", "the cart is empty"));
        }
        let mut lines = Vec::with_capacity(cart.items().len());
        for (i, item) in cart.items().iter().enumerate() {
            match live.iter().find(|l| l.variant_id == item.variant_id) {
                Some(l) if l.for_sale && l.price.currency() == cart.currency() => {
                    let line_total = l.price.checked_mul(item.quantity.get()).map_err(invalid)?;
                    lines.push(OrderLine {
                        product_id: l.product_id,
                        variant_id: l.variant_id,
                        variant_title: l.variant_title.clone(),
                        sku: l.sku.clone(),
                        name: l.name.clone(),
                        unit_price: l.price,
                        quantity: item.quantity,
                        line_total,
                    });
                }
                _ => v.push(domain::FieldError::new(
                    format!("items[{i}]"),
                    format!("variant {} is no longer for sale", item.variant_id),
                )),
            }
        }
        let email = match (&cart.parts().email, user) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(u)) => self.users.get(u).await?.map(|a| a.email),
            (None, None) => None,
        };
        if email.is_none() {
            v.push(domain::FieldError::new(
                "email",
                "checkout needs an e-mail address",
            ));
        }
        let address = cart.parts().shipping_address.clone();
        let mut shipping = None;
        let mut tax_rate = None;
        match &address {
            None => v.push(domain::FieldError::new(
                "shipping_address",
                "checkout needs a shipping address",
            )),
            Some(a) => {
                let options = self.catalog.shipping_options_for(a.country).await?;
                let chosen = cart
                    .parts()
                    .shipping_option_id
                    .and_then(|o| options.iter().find(|r| r.id == o).cloned());
                if chosen.is_none() && !options.is_empty() {
                    v.push(domain::FieldError::new(
                        "shipping_option_id",
                        "choose one of the shipping options for this address",
                    ));
                }
                shipping = chosen;
                let rates: Vec<domain::TaxRate> = self
                    .catalog
                    .tax_rates_of(a.country)
                    .await?
                    .into_iter()
                    .map(|r| r.rate)
                    .collect();
                tax_rate = choose_tax_rate(&rates, a.country, a.state.as_deref()).map(|r| r.rate());
            }
        }
        let promotion = match &cart.parts().discount_code {
            Some(code) => match self.catalog.promotion_by_code(code).await? {
                Some(p) => Some(p),
                None => {
                    v.push(domain::FieldError::new(
                        "discount_code",
                        format!("no promotion has the code {}", code.as_str()),
                    ));
                    None
                }
            },
            None => None,
        };
        v.finish()?;
        let uses = match &cart.parts().discount_code {
            Some(code) if promotion.is_some() => self.uses(user, code).await?,
            _ => 0,
        };
        let priced: Vec<domain::CartLine> = lines
            .iter()
            .map(|l| domain::CartLine {
                unit_price: l.unit_price,
                quantity: l.quantity,
            })
            .collect();
        // A code that was good when it was set and is used up now lost its last use to another
        // checkout: a conflict, like losing the race inside the transaction, not a bad input.
        if let Some(p) = &promotion {
            let subtotal = domain::pricing::subtotal(
                cart.currency(),
                &lines.iter().map(|l| l.line_total).collect::<Vec<_>>(),
            )
            .map_err(invalid)?;
            if let Err(
                domain::PromotionRefusal::UsedUp | domain::PromotionRefusal::UsedUpByCustomer,
            ) = p.promotion.check(subtotal, now, uses)
            {
                return Err(AppError::Conflict {
                    field: Some("discount_code"),
                    message: "the promotion's last use went to another checkout".into(),
                });
            }
        }
        let totals = price_cart(&CartPricing {
            currency: cart.currency(),
            lines: &priced,
            promotion: promotion.as_ref().map(|p| PromotionUse {
                promotion: &p.promotion,
                now,
                customer_uses: uses,
            }),
            shipping: shipping.as_ref().map(|r| r.option.price()),
            tax_rate,
        })
        .map_err(invalid)?;
        let token = match cart.owner() {
            CartOwner::Guest(_) => Some(self.tokens.new_token().map_err(AppError::Internal)?),
            CartOwner::User(_) => None,
        };
        let details = OrderDetails {
            email,
            subtotal: totals.subtotal(),
            discount_total: totals.discount(),
            shipping_total: totals.shipping(),
            tax_total: totals.tax(),
            discount_code: cart
                .parts()
                .discount_code
                .as_ref()
                .map(|c| c.as_str().to_owned()),
            shipping_option: shipping.as_ref().map(|r| ShippingChoice {
                option_id: r.id,
                name: r.option.name().as_str().to_owned(),
                amount: totals.shipping(),
            }),
            payment_status: domain::PaymentStatus::Unpaid,
            guest_token: token.as_deref().map(domain::TokenHash::of),
            cart_id: Some(id),
        };
        let order = Order::check_out(
            OrderId::new(),
            user.unwrap_or_else(domain::order::guest_user),
            lines,
            address,
            details,
            now,
        )?;
        let claim = promotion.as_ref().map(|p| PromotionClaim {
            id: p.id,
            code: p.promotion.code().as_str().to_owned(),
            per_customer: match (user, p.promotion.per_customer_limit()) {
                (Some(u), Some(limit)) => Some((u, limit)),
                _ => None,
            },
        });
        let record = key.as_ref().map(|k| IdempotencyRecord {
            user_id: key_owner,
            key: k.as_str().to_owned(),
            request_hash: fingerprint.clone(),
            order_id: order.id(),
            expires_at: now + IDEMPOTENCY_WINDOW,
        });
        // The same events as an order placed directly: `order.placed`, and `variant.low_stock`
        // for each variant this order may leave low, with its product read only then.
        let may_fall_low: Vec<(ProductId, VariantId, Quantity)> = order
            .lines()
            .iter()
            .filter(|l| {
                live.iter().any(|x| {
                    x.variant_id == l.variant_id
                        && self.events.may_fall_low(x.stock.get(), l.quantity.get())
                })
            })
            .map(|l| (l.product_id, l.variant_id, l.quantity))
            .collect();
        let mut taken = Vec::with_capacity(may_fall_low.len());
        if !may_fall_low.is_empty() {
            let ids: Vec<ProductId> = may_fall_low.iter().map(|(p, _, _)| *p).collect();
            let products = self.products.get_many(&ids).await?;
            for (product_id, variant, quantity) in may_fall_low {
                if let Some(p) = products.iter().find(|p| p.id == product_id) {
                    taken.push((p.clone(), variant, quantity));
                }
            }
        }
        let events = self
            .events
            .of_placed(self.images.as_ref(), &order, &taken)
            .await?;
        let written = self
            .carts
            .check_out(&CheckoutWrite {
                cart: &cart,
                order: &order,
                promotion: claim.as_ref(),
                key: record.as_ref(),
                events: &events,
            })
            .await;
        match written {
            Ok(()) => Ok(CheckedOut {
                order,
                token,
                replayed: false,
            }),
            Err(CheckoutError::KeyTaken) => {
                let k = key.as_ref().map(IdempotencyKey::as_str).unwrap_or_default();
                self.replay(key_owner, k, &fingerprint)
                    .await?
                    .ok_or_else(|| AppError::Conflict {
                        field: Some("Idempotency-Key"),
                        message: "a request with this key is still being answered".into(),
                    })
            }
            Err(CheckoutError::InsufficientStock(variant)) => Err(AppError::Conflict {
                field: Some("items"),
                message: format!("insufficient stock for variant {variant}"),
            }),
            Err(CheckoutError::CartChanged) => Err(AppError::Conflict {
                field: None,
                message: "the cart was checked out or changed meanwhile".into(),
            }),
            Err(CheckoutError::PromotionUsedUp) => Err(AppError::Conflict {
                field: Some("discount_code"),
                message: "the promotion's last use went to another checkout".into(),
            }),
            Err(CheckoutError::Repository(e)) => Err(e.into()),
        }
    }

    /// The order an earlier checkout with `key` placed, when there is one.
    async fn replay(
        &self,
        owner: UserId,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<CheckedOut>, AppError> {
        let Some(record) = self.orders.find_key(owner, key, self.clock.now()).await? else {
            return Ok(None);
        };
        if record.request_hash != fingerprint {
            return Err(AppError::Conflict {
                field: Some("Idempotency-Key"),
                message: "this Idempotency-Key was used for another request".into(),
            });
        }
        let order = self
            .orders
            .get(record.order_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Some(CheckedOut {
            order,
            token: None,
            replayed: true,
        }))
    }

    async fn uses(&self, user: Option<UserId>, code: &PromotionCode) -> Result<u32, AppError> {
        Ok(match user {
            Some(u) => self.catalog.customer_uses(u, code).await?,
            None => 0,
        })
    }

    /// The lines whose variants exist, each priced at today's price.
    fn lines(&self, cart: &Cart, live: &[LiveVariant]) -> Vec<CartLineView> {
        cart.items()
            .iter()
            .filter_map(|item| {
                let variant = live.iter().find(|v| v.variant_id == item.variant_id)?;
                let line_total = variant.price.checked_mul(item.quantity.get()).ok()?;
                Some(CartLineView {
                    item: *item,
                    variant: variant.clone(),
                    line_total,
                    in_stock: variant.for_sale
                        && u64::from(variant.stock.get()) >= u64::from(item.quantity.get()),
                })
            })
            .collect()
    }

    /// Prices the cart by [`price_cart`]: only the lines in the cart's currency count; a
    /// discount code that no longer applies, or a shipping option that no longer serves the
    /// address, is left out (checkout refuses them by name).
    async fn price(
        &self,
        cart: Cart,
        live: Vec<LiveVariant>,
        user: Option<UserId>,
    ) -> Result<CartView, AppError> {
        let lines = self.lines(&cart, &live);
        let priced: Vec<domain::CartLine> = lines
            .iter()
            .filter(|l| l.variant.price.currency() == cart.currency())
            .map(|l| domain::CartLine {
                unit_price: l.variant.price,
                quantity: l.item.quantity,
            })
            .collect();
        let address = cart.parts().shipping_address.clone();
        let mut shipping_record = None;
        let mut tax_rate: Option<Percent> = None;
        if let Some(a) = &address {
            if let Some(o) = cart.parts().shipping_option_id {
                shipping_record = self
                    .catalog
                    .shipping_options_for(a.country)
                    .await?
                    .into_iter()
                    .find(|r| r.id == o && r.option.price().price().currency() == cart.currency());
            }
            let rates = self.catalog.tax_rates_of(a.country).await?;
            let rates: Vec<domain::TaxRate> = rates.into_iter().map(|r| r.rate).collect();
            tax_rate = choose_tax_rate(&rates, a.country, a.state.as_deref()).map(|r| r.rate());
        }
        let promotion = match &cart.parts().discount_code {
            Some(code) => self.catalog.promotion_by_code(code).await?,
            None => None,
        };
        let uses = match &cart.parts().discount_code {
            Some(code) if promotion.is_some() => self.uses(user, code).await?,
            _ => 0,
        };
        let now = self.clock.now();
        let pricing = |with_promotion: bool| CartPricing {
            currency: cart.currency(),
            lines: &priced,
            promotion: promotion
                .as_ref()
                .filter(|_| with_promotion)
                .map(|p| PromotionUse {
                    promotion: &p.promotion,
                    now,
                    customer_uses: uses,
                }),
            shipping: shipping_record.as_ref().map(|r| r.option.price()),
            tax_rate,
        };
        let (totals, discounted): (Totals, bool) = match price_cart(&pricing(true)) {
            Ok(t) => (t, promotion.is_some()),
            Err(_) if promotion.is_some() => (price_cart(&pricing(false)).map_err(invalid)?, false),
            Err(e) => return Err(invalid(e)),
        };
        let discount = match (&cart.parts().discount_code, discounted) {
            (Some(code), true) => Some(AppliedDiscount {
                code: code.clone(),
                amount: totals.discount(),
            }),
            _ => None,
        };
        let shipping = shipping_record.map(|r| AppliedShipping {
            option_id: r.id,
            name: r.option.name().as_str().to_owned(),
            amount: totals.shipping(),
        });
        Ok(CartView {
            subtotal: totals.subtotal(),
            discount,
            shipping,
            tax_total: totals.tax(),
            total: totals.total(),
            lines,
            cart,
            token: None,
        })
    }
}

/// The periodic job that deletes open carts untouched for `CART_TTL_DAYS` (their `expires_at`
/// has passed), in batches of `batch` so that no transaction holds the database long.
/// Completed carts are kept.
pub struct ExpireCarts {
    /// Stored carts.
    pub carts: Arc<dyn CartRepository>,
    /// Most carts deleted in one transaction.
    pub batch: u32,
}

#[async_trait]
impl crate::jobs::PeriodicWork for ExpireCarts {
    #[tracing::instrument(name = "expire_carts", skip_all)]
    async fn run(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let batch = self.batch.max(1);
        let mut deleted = 0;
        loop {
            let n = self.carts.delete_expired(now, batch).await?;
            deleted += n;
            if n < u64::from(batch) {
                return Ok(deleted);
            }
        }
    }
}
