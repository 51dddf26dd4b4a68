//! A cart: what a customer or a guest means to buy, filled over a visit and checked out into
//! an order. It holds variants and quantities only; prices are read live whenever it is shown
//! (today's prices), and copied into the order at checkout.
//!
//! A guest's cart is reached with a random token that is shown once, when the cart is made;
//! only the token's hash ([`TokenHash`]) is kept, and a presented token is compared with it in
//! constant time.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::address::Address;
use crate::error::{DomainError, FieldError};
use crate::ids::{CartId, CartItemId, ProductId, ShippingOptionId, UserId, VariantId};
use crate::money::{Currency, Money};
use crate::order::Quantity;
use crate::product::{ProductName, Sku, Stock};
use crate::promotion::PromotionCode;
use crate::user::Email;

/// Most lines in one cart (as in an order).
pub const MAX_LINES: usize = 100;

/// The SHA-256 of a guest token: all the database keeps of it. The tokens are 32 random bytes,
/// so a fast unsalted hash suffices to make a leaked table useless.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads a hash as stored (64 hex digits).
    ///
    /// # Errors
    /// A `FieldError` on `token_hash` for anything else.
    pub fn from_hex(s: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("token_hash", "must be 64 hex digits");
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// The hash in lowercase hex, as stored.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `token` is the one hashed here, compared in constant time (the hash of the
    /// presented token against the stored one), so timing tells nothing about the stored hash.
    pub fn matches(&self, token: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(presented.ct_eq(&self.0))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// Who a cart belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartOwner {
    /// A signed-in customer.
    User(UserId),
    /// A guest holding the token of this hash.
    Guest(TokenHash),
}

/// Where a cart is in its life: open until checked out, then completed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartStatus {
    /// Being filled; changes are allowed.
    Open,
    /// Checked out into an order; refuses every change.
    Completed,
}

impl CartStatus {
    /// The status name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completed => "completed",
        }
    }

    /// Parses a stored status name.
    ///
    /// # Errors
    /// A `FieldError` on `status` for another name.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s {
            "open" => Ok(Self::Open),
            "completed" => Ok(Self::Completed),
            _ => Err(FieldError::new("status", "must be open or completed")),
        }
    }
}

/// One line of a cart: a variant and how many (1..=1000). A variant appears at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartItem {
    /// Identity of the line (time-ordered: lines list in the order they were added).
    pub id: CartItemId,
    /// What it buys.
    pub variant_id: VariantId,
    /// How many.
    pub quantity: Quantity,
}

/// Why a cart refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// The cart was checked out; it refuses every change (409).
    #[error("the cart is completed and can no longer change")]
    Completed,
    /// The cart has no line of this id (404).
    #[error("the cart has no such item")]
    NoSuchItem,
    /// The cart is already another customer's (claiming; answered as 404).
    #[error("the cart belongs to someone else")]
    NotYours,
    /// An input broke a rule (422).
    #[error(transparent)]
    Invalid(#[from] DomainError),
}

impl From<FieldError> for CartError {
    fn from(e: FieldError) -> Self {
        CartError::Invalid(e.into())
    }
}

/// A cart's fields as stored: the repositories' way back to a [`Cart`], trusting what they
/// wrote (every field was checked when the cart changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartParts {
    /// Identity.
    pub id: CartId,
    /// Whose it is.
    pub owner: CartOwner,
    /// Open or completed.
    pub status: CartStatus,
    /// Every line is priced in it.
    pub currency: Currency,
    /// The lines, in the order they were added.
    pub items: Vec<CartItem>,
    /// Where the order confirmation goes.
    pub email: Option<Email>,
    /// Where it ships (and so which tax rate and shipping options apply).
    pub shipping_address: Option<Address>,
    /// The shipping option chosen.
    pub shipping_option_id: Option<ShippingOptionId>,
    /// The discount code entered.
    pub discount_code: Option<PromotionCode>,
    /// Counts the saved changes; a save is refused when another one came in between.
    pub version: i64,
    /// When an open cart left untouched is deleted.
    pub expires_at: DateTime<Utc>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The cart aggregate: its lines (at most [`MAX_LINES`], each variant once, each 1..=1000) and
/// checkout details; every change is refused once it is completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart(CartParts);

impl Cart {
    /// A new, empty, open cart, untouched until `expires_at`.
    pub fn new(
        owner: CartOwner,
        currency: Currency,
        email: Option<Email>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self(CartParts {
            id: CartId::new(),
            owner,
            status: CartStatus::Open,
            currency,
            items: Vec::new(),
            email,
            shipping_address: None,
            shipping_option_id: None,
            discount_code: None,
            version: 0,
            expires_at,
            created_at: now,
            updated_at: now,
        })
    }

    /// A cart as stored.
    pub fn restore(parts: CartParts) -> Self {
        Self(parts)
    }

    /// Its fields.
    pub fn parts(&self) -> &CartParts {
        &self.0
    }

    /// Identity.
    pub fn id(&self) -> CartId {
        self.0.id
    }

    /// Whose it is.
    pub fn owner(&self) -> CartOwner {
        self.0.owner
    }

    /// Open or completed.
    pub fn status(&self) -> CartStatus {
        self.0.status
    }

    /// The cart's currency.
    pub fn currency(&self) -> Currency {
        self.0.currency
    }

    /// The lines, in the order they were added.
    pub fn items(&self) -> &[CartItem] {
        &self.0.items
    }

    /// Whether `user` owns it (a guest cart is owned by no user).
    pub fn is_owned_by(&self, user: UserId) -> bool {
        self.0.owner == CartOwner::User(user)
    }

    /// Whether `token` opens it: a guest cart whose token hashes to the stored hash.
    pub fn opens_with(&self, token: &str) -> bool {
        match self.0.owner {
            CartOwner::Guest(hash) => hash.matches(token),
            CartOwner::User(_) => false,
        }
    }

    fn check_open(&self) -> Result<(), CartError> {
        match self.0.status {
            CartStatus::Open => Ok(()),
            CartStatus::Completed => Err(CartError::Completed),
        }
    }

    /// Adds `quantity` of `variant`: to its line when it has one (the sum must stay within
    /// 1..=1000), else as a new line (at most [`MAX_LINES`]). Answers the line's id.
    ///
    /// # Errors
    /// `Completed`; `Invalid` on `quantity` past 1000, on `items` past 100 lines.
    pub fn add(&mut self, variant: VariantId, quantity: Quantity) -> Result<CartItemId, CartError> {
        self.check_open()?;
        if let Some(item) = self.0.items.iter_mut().find(|i| i.variant_id == variant) {
            let sum = i64::from(item.quantity.get()) + i64::from(quantity.get());
            item.quantity = Quantity::new(sum).map_err(|_| {
                FieldError::new(
                    "quantity",
                    format!(
                        "the cart holds {} of this variant already; a line holds at most 1000",
                        item.quantity.get()
                    ),
                )
            })?;
            return Ok(item.id);
        }
        if self.0.items.len() >= MAX_LINES {
            return Err(FieldError::new("items", "a cart holds at most 100 lines").into());
        }
        let id = CartItemId::new();
        self.0.items.push(CartItem {
            id,
            variant_id: variant,
            quantity,
        });
        Ok(id)
    }

    /// Sets a line's quantity (0..=1000); 0 removes the line.
    ///
    /// # Errors
    /// `Completed`, `NoSuchItem`, `Invalid` on `quantity` outside 0..=1000.
    pub fn set_quantity(&mut self, item: CartItemId, quantity: i64) -> Result<(), CartError> {
        self.check_open()?;
        let at = self
            .0
            .items
            .iter()
            .position(|i| i.id == item)
            .ok_or(CartError::NoSuchItem)?;
        if quantity == 0 {
            self.0.items.remove(at);
            return Ok(());
        }
        let q = Quantity::new(quantity)
            .map_err(|_| FieldError::new("quantity", "must be a whole number from 0 to 1000"))?;
        self.0.items[at].quantity = q;
        Ok(())
    }

    /// Removes a line.
    ///
    /// # Errors
    /// `Completed`, `NoSuchItem`.
    pub fn remove(&mut self, item: CartItemId) -> Result<(), CartError> {
        self.set_quantity(item, 0)
    }

    /// Sets or clears the e-mail address.
    ///
    /// # Errors
    /// `Completed`.
    pub fn set_email(&mut self, email: Option<Email>) -> Result<(), CartError> {
        self.check_open()?;
        self.0.email = email;
        Ok(())
    }

    /// Sets or clears the shipping address.
    ///
    /// # Errors
    /// `Completed`.
    pub fn set_shipping_address(&mut self, address: Option<Address>) -> Result<(), CartError> {
        self.check_open()?;
        self.0.shipping_address = address;
        Ok(())
    }

    /// Sets or clears the shipping option (whether it serves the address is checked where the
    /// options are known).
    ///
    /// # Errors
    /// `Completed`.
    pub fn set_shipping_option(
        &mut self,
        option: Option<ShippingOptionId>,
    ) -> Result<(), CartError> {
        self.check_open()?;
        self.0.shipping_option_id = option;
        Ok(())
    }

    /// Sets or clears the discount code (whether it applies is checked where the promotion is
    /// known).
    ///
    /// # Errors
    /// `Completed`.
    pub fn set_discount_code(&mut self, code: Option<PromotionCode>) -> Result<(), CartError> {
        self.check_open()?;
        self.0.discount_code = code;
        Ok(())
    }

    /// Makes a guest's cart `user`'s (the guest token no longer opens it). Claiming one's own
    /// cart again changes nothing.
    ///
    /// # Errors
    /// `Completed`; `NotYours` for another customer's cart.
    pub fn claim(&mut self, user: UserId) -> Result<(), CartError> {
        self.check_open()?;
        match self.0.owner {
            CartOwner::User(u) if u == user => Ok(()),
            CartOwner::User(_) => Err(CartError::NotYours),
            CartOwner::Guest(_) => {
                self.0.owner = CartOwner::User(user);
                Ok(())
            }
        }
    }

    /// Marks it checked out: from now on it refuses every change.
    ///
    /// # Errors
    /// `Completed` when it already was.
    pub fn complete(&mut self) -> Result<(), CartError> {
        self.check_open()?;
        self.0.status = CartStatus::Completed;
        Ok(())
    }

    /// Stamps a change made at `now`; an open cart then lives until `expires_at`.
    pub fn touch(&mut self, now: DateTime<Utc>, expires_at: DateTime<Utc>) {
        self.0.updated_at = now;
        self.0.expires_at = expires_at;
    }
}

/// A cart line's variant as it is today: what the cart shows and prices, read live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveVariant {
    /// The variant.
    pub variant_id: VariantId,
    /// Its product.
    pub product_id: ProductId,
    /// The variant's SKU.
    pub sku: Sku,
    /// The product's name.
    pub name: ProductName,
    /// The variant's title (`"M / Blue"`, or `"Default Title"`).
    pub variant_title: String,
    /// Today's price.
    pub price: Money,
    /// Units on hand.
    pub stock: Stock,
    /// Whether it can be bought: the product is active and neither is deleted.
    pub for_sale: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn q(n: i64) -> Quantity {
        Quantity::new(n).unwrap()
    }

    fn guest_cart(token: &str) -> Cart {
        Cart::new(
            CartOwner::Guest(TokenHash::of(token)),
            eur(),
            None,
            at(0),
            at(100),
        )
    }

    #[test]
    fn a_token_hash_matches_its_token_only_and_round_trips_through_hex() {
        let h = TokenHash::of("secret-token");
        assert!(h.matches("secret-token"));
        assert!(!h.matches("secret-tokeN"));
        assert!(!h.matches(""));
        let hex = h.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(TokenHash::from_hex(&hex), Ok(h));
        assert!(TokenHash::from_hex(&hex[1..]).is_err());
        assert!(TokenHash::from_hex(&"zz".repeat(32)).is_err());
        assert!(TokenHash::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(format!("{h:?}"), "TokenHash([redacted])");
    }

    #[test]
    fn a_guest_cart_opens_with_its_token_and_a_users_with_none() {
        let c = guest_cart("t1");
        assert!(c.opens_with("t1"));
        assert!(!c.opens_with("t2"));
        let user = UserId::new();
        assert!(!c.is_owned_by(user));
        let mine = Cart::new(CartOwner::User(user), eur(), None, at(0), at(1));
        assert!(mine.is_owned_by(user));
        assert!(!mine.is_owned_by(UserId::new()));
        assert!(!mine.opens_with("t1"));
    }

    #[test]
    fn adding_a_variant_again_adds_to_its_line_up_to_1000() {
        let mut c = guest_cart("t");
        let v = VariantId::new();
        let id = c.add(v, q(400)).unwrap();
        assert_eq!(c.add(v, q(600)).unwrap(), id);
        assert_eq!(c.items().len(), 1);
        assert_eq!(c.items()[0].quantity.get(), 1000);
        let e = c.add(v, q(1)).unwrap_err();
        match e {
            CartError::Invalid(DomainError::Validation(f)) => assert_eq!(f[0].field, "quantity"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.items()[0].quantity.get(), 1000);
    }

    #[test]
    fn a_cart_holds_at_most_100_lines() {
        let mut c = guest_cart("t");
        for _ in 0..MAX_LINES {
            c.add(VariantId::new(), q(1)).unwrap();
        }
        let e = c.add(VariantId::new(), q(1)).unwrap_err();
        match e {
            CartError::Invalid(DomainError::Validation(f)) => assert_eq!(f[0].field, "items"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.items().len(), MAX_LINES);
        // An existing line still grows.
        let first = c.items()[0].variant_id;
        c.add(first, q(2)).unwrap();
        assert_eq!(c.items()[0].quantity.get(), 3);
    }

    #[test]
    fn a_quantity_is_set_within_0_to_1000_and_0_removes_the_line() {
        let mut c = guest_cart("t");
        let a = c.add(VariantId::new(), q(1)).unwrap();
        let b = c.add(VariantId::new(), q(1)).unwrap();
        c.set_quantity(a, 1000).unwrap();
        assert_eq!(c.items()[0].quantity.get(), 1000);
        for bad in [-1, 1001] {
            assert!(matches!(c.set_quantity(a, bad), Err(CartError::Invalid(_))));
        }
        c.set_quantity(a, 0).unwrap();
        assert_eq!(c.items().len(), 1);
        assert_eq!(c.items()[0].id, b);
        assert_eq!(c.set_quantity(a, 1), Err(CartError::NoSuchItem));
        c.remove(b).unwrap();
        assert!(c.items().is_empty());
        assert_eq!(c.remove(b), Err(CartError::NoSuchItem));
    }

    #[test]
    fn a_completed_cart_refuses_every_change() {
        let mut c = guest_cart("t");
        let item = c.add(VariantId::new(), q(1)).unwrap();
        c.complete().unwrap();
        assert_eq!(c.status(), CartStatus::Completed);
        let before = c.clone();
        assert_eq!(c.add(VariantId::new(), q(1)), Err(CartError::Completed));
        assert_eq!(c.set_quantity(item, 2), Err(CartError::Completed));
        assert_eq!(c.remove(item), Err(CartError::Completed));
        assert_eq!(c.set_email(None), Err(CartError::Completed));
        assert_eq!(c.set_shipping_address(None), Err(CartError::Completed));
        assert_eq!(c.set_shipping_option(None), Err(CartError::Completed));
        assert_eq!(c.set_discount_code(None), Err(CartError::Completed));
        assert_eq!(c.claim(UserId::new()), Err(CartError::Completed));
        assert_eq!(c.complete(), Err(CartError::Completed));
        assert_eq!(c, before);
    }

    #[test]
    fn claiming_makes_a_guest_cart_the_users_and_another_users_cart_is_refused() {
        let mut c = guest_cart("t");
        let me = UserId::new();
        c.claim(me).unwrap();
        assert!(c.is_owned_by(me));
        assert!(!c.opens_with("t"));
        c.claim(me).unwrap();
        assert_eq!(c.claim(UserId::new()), Err(CartError::NotYours));
        assert!(c.is_owned_by(me));
    }

    #[test]
    fn details_are_set_and_cleared_and_touch_stamps_the_change() {
        let mut c = guest_cart("t");
        c.set_email(Some(Email::parse("a@b.example").unwrap()))
            .unwrap();
        c.set_discount_code(Some(PromotionCode::parse("SAVE10").unwrap()))
            .unwrap();
        let option = ShippingOptionId::new();
        c.set_shipping_option(Some(option)).unwrap();
        assert_eq!(c.parts().shipping_option_id, Some(option));
        assert_eq!(
            c.parts().email.as_ref().map(Email::as_str),
            Some("a@b.example")
        );
        c.set_email(None).unwrap();
        c.set_discount_code(None).unwrap();
        c.set_shipping_option(None).unwrap();
        assert_eq!(c.parts().email, None);
        assert_eq!(c.parts().discount_code, None);
        assert_eq!(c.parts().shipping_option_id, None);
        c.touch(at(5), at(500));
        assert_eq!(c.parts().updated_at, at(5));
        assert_eq!(c.parts().expires_at, at(500));
        assert_eq!(c.parts().created_at, at(0));
        assert_eq!(CartStatus::parse("open"), Ok(CartStatus::Open));
        assert_eq!(
            CartStatus::parse(CartStatus::Completed.as_str()),
            Ok(CartStatus::Completed)
        );
        assert!(CartStatus::parse("closed").is_err());
    }
}
