use std::fmt;

use chrono::{DateTime, Utc};

use crate::address::Address;
use crate::cart::TokenHash;
use crate::error::{DomainError, FieldError, Validator};
use crate::ids::{CartId, OrderId, ProductId, ShippingOptionId, UserId, VariantId};
use crate::money::Money;
use crate::payment::PaymentStatus;
use crate::product::{Product, ProductName, Sku};
use crate::user::Email;

/// How many units of a product one line holds: 1..=1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

impl Quantity {
    /// Most units of one product in one order.
    pub const MAX: i64 = 1000;

    /// Checks the range.
    ///
    /// # Errors
    /// A `FieldError` on `quantity` outside 1..=1000.
    pub fn new(n: i64) -> Result<Self, FieldError> {
        if !(1..=Self::MAX).contains(&n) {
            return Err(FieldError::new(
                "quantity",
                "must be a whole number from 1 to 1000",
            ));
        }
        Ok(Self(u32::try_from(n).map_err(|_| {
            FieldError::new("quantity", "is out of range")
        })?))
    }

    /// The count.
    pub fn get(&self) -> u32 {
        self.0
    }
}

/// Where an order is in its life. Changes only along [`OrderStatus::can_become`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Placed, stock taken, awaiting payment.
    Pending,
    /// Paid.
    Paid,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled; its stock went back.
    Cancelled,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// Parses a status name.
    ///
    /// # Errors
    /// A `FieldError` on `status` for a name that is not a status.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "status",
                    "must be one of: pending, paid, shipped, delivered, cancelled",
                )
            })
    }

    /// The status name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The allowed edges: pending→paid→shipped→delivered, and pending or paid→cancelled.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Paid, Shipped)
                | (Shipped, Delivered)
                | (Pending, Cancelled)
                | (Paid, Cancelled)
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One variant of a product in an order, with the sku, name, variant title and price copied
/// when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The product (which may since have changed or been deleted).
    pub product_id: ProductId,
    /// The variant of it bought (its stock is the one taken).
    pub variant_id: VariantId,
    /// The variant's title when ordered (`"M / Blue"`, or `"Default Title"`).
    pub variant_title: String,
    /// SKU (the variant's) when ordered.
    pub sku: Sku,
    /// Name when ordered.
    pub name: ProductName,
    /// Price when ordered.
    pub unit_price: Money,
    /// Units.
    pub quantity: Quantity,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// An order: the aggregate that owns its lines, its total and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Identity.
    id: OrderId,
    /// Who placed it.
    user_id: UserId,
    /// Where it is in its life.
    status: OrderStatus,
    /// The lines, one per product.
    lines: Vec<OrderLine>,
    /// Sum of the line totals.
    total: Money,
    /// Where it goes.
    shipping_address: Option<Address>,
    /// Placed.
    created_at: DateTime<Utc>,
    /// Last changed.
    updated_at: DateTime<Utc>,
    /// The parts of its total and what checkout recorded.
    details: OrderDetails,
}

/// The shipping option an order was checked out with, as it was then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingChoice {
    /// The option (which may since have changed or gone).
    pub option_id: ShippingOptionId,
    /// Its name then.
    pub name: String,
    /// What it charged.
    pub amount: Money,
}

/// The parts of an order's total and what checkout recorded with it. An order placed without a
/// cart has no discount, shipping or tax: its subtotal is its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetails {
    /// Where the confirmation goes.
    pub email: Option<Email>,
    /// Sum of the lines.
    pub subtotal: Money,
    /// Taken off by the discount code.
    pub discount_total: Money,
    /// Shipping charged.
    pub shipping_total: Money,
    /// Tax charged.
    pub tax_total: Money,
    /// The discount code used, as the cart held it.
    pub discount_code: Option<String>,
    /// The shipping chosen.
    pub shipping_option: Option<ShippingChoice>,
    /// Where its money is (`unpaid`, `paid`, `refunded`).
    pub payment_status: PaymentStatus,
    /// A guest's order: the hash of its token.
    pub guest_token: Option<TokenHash>,
    /// The cart it was checked out from (one order per cart).
    pub cart_id: Option<CartId>,
}

impl OrderDetails {
    /// The details of an order placed without a cart: its total is its subtotal.
    pub fn plain(total: Money) -> Self {
        Self {
            email: None,
            subtotal: total,
            discount_total: Money::zero(total.currency()),
            shipping_total: Money::zero(total.currency()),
            tax_total: Money::zero(total.currency()),
            discount_code: None,
            shipping_option: None,
            payment_status: PaymentStatus::Unpaid,
            guest_token: None,
            cart_id: None,
        }
    }
}

/// The user id a guest's order is stored under (the nil UUID): no account has it.
pub fn guest_user() -> UserId {
    UserId::from_uuid(uuid::Uuid::nil())
}

/// Merges repeated items (products, or variants) into one line each, summing their
/// quantities, in first-seen order.
///
/// # Errors
/// `Validation` on `items` when empty or over 100 lines, on `items[i].quantity` when a
/// quantity (or a merged sum) leaves 1..=1000.
pub fn merge_lines<K: Copy + PartialEq>(
    items: &[(K, i64)],
) -> Result<Vec<(K, Quantity)>, DomainError> {
    if items.is_empty() || items.len() > 100 {
        return Err(FieldError::new("items", "must hold 1 to 100 lines").into());
    }
    let mut v = Validator::new();
    let mut merged: Vec<(K, i64, usize)> = Vec::new();
    for (i, &(product_id, qty)) in items.iter().enumerate() {
        if v.check(&format!("items[{i}].quantity"), Quantity::new(qty))
            .is_none()
        {
            continue;
        }
        match merged.iter_mut().find(|(p, _, _)| *p == product_id) {
            Some((_, sum, _)) => *sum += qty,
            None => merged.push((product_id, qty, i)),
        }
    }
    v.finish()?;
    let mut v = Validator::new();
    let lines = merged
        .into_iter()
        .filter_map(|(p, sum, i)| {
            v.check(
                &format!("items[{i}].quantity"),
                Quantity::new(sum).map_err(|_| {
                    FieldError::new(
                        "quantity",
                        "the quantities of one product add up to more than 1000",
                    )
                }),
            )
            .map(|q| (p, q))
        })
        .collect();
    v.finish()?;
    Ok(lines)
}

impl Order {
    /// An order as it was stored: the repositories' way back to one, trusting what they
    /// wrote (each field was checked when the order was placed or changed).
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: OrderId,
        user_id: UserId,
        status: OrderStatus,
        lines: Vec<OrderLine>,
        total: Money,
        shipping_address: Option<Address>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            user_id,
            status,
            lines,
            total,
            shipping_address,
            created_at,
            updated_at,
            details: OrderDetails::plain(total),
        }
    }

    /// The same order with `details` (the repositories' way back to a checked-out order).
    #[must_use]
    pub fn with_details(mut self, details: OrderDetails) -> Self {
        self.details = details;
        self
    }

    /// The parts of its total and what checkout recorded.
    pub fn details(&self) -> &OrderDetails {
        &self.details
    }

    /// A new pending order checked out from a cart: its `lines` at the prices of the moment,
    /// and its total the one `details` adds up to (subtotal - discount + shipping + tax).
    ///
    /// # Errors
    /// `Validation` on `items` for no lines, or lines that do not add up to the subtotal;
    /// `Overflow` past the representable range.
    pub fn check_out(
        id: OrderId,
        user_id: UserId,
        lines: Vec<OrderLine>,
        shipping_address: Option<Address>,
        details: OrderDetails,
        now: DateTime<Utc>,
    ) -> Result<Order, DomainError> {
        if lines.is_empty() {
            return Err(FieldError::new("items", "the cart is empty").into());
        }
        let sum = lines
            .iter()
            .try_fold(Money::zero(details.subtotal.currency()), |s, l| {
                s.checked_add(l.line_total)
            })?;
        if sum != details.subtotal {
            return Err(FieldError::new("items", "the lines do not add up to the subtotal").into());
        }
        let total = details
            .subtotal
            .checked_sub(details.discount_total)?
            .checked_add(details.shipping_total)?
            .checked_add(details.tax_total)?;
        Ok(Order {
            id,
            user_id,
            status: OrderStatus::Pending,
            lines,
            total,
            shipping_address,
            created_at: now,
            updated_at: now,
            details,
        })
    }

    /// Identity.
    pub fn id(&self) -> OrderId {
        self.id
    }

    /// Who placed it.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Where it is in its life.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The lines, one per product.
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    /// Sum of the line totals.
    pub fn total(&self) -> Money {
        self.total
    }

    /// Where it goes.
    pub fn shipping_address(&self) -> Option<&Address> {
        self.shipping_address.as_ref()
    }

    /// When it was placed.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When it last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// A new pending order of `lines` (a product, the id of one of its variants, and how
    /// many) at the variants' current prices.
    ///
    /// # Errors
    /// `Validation` on `items` when the variants' currencies differ or a product has no such
    /// variant; `Overflow` when a total leaves the representable range.
    pub fn place(
        id: OrderId,
        user_id: UserId,
        lines: Vec<(Product, VariantId, Quantity)>,
        shipping_address: Option<Address>,
        now: DateTime<Utc>,
    ) -> Result<Order, DomainError> {
        let mut currency = None;
        let mut total: Option<Money> = None;
        let mut out = Vec::with_capacity(lines.len());
        for (product, variant_id, quantity) in lines {
            let Some(variant) = product.variants.get(variant_id) else {
                return Err(FieldError::new(
                    "items",
                    format!("product {} has no variant {variant_id}", product.id),
                )
                .into());
            };
            let price = variant.price;
            let currency = *currency.get_or_insert(price.currency());
            if price.currency() != currency {
                return Err(FieldError::new(
                    "items",
                    "all products of an order must be priced in one currency",
                )
                .into());
            }
            let line_total = price.checked_mul(quantity.get())?;
            total = Some(
                total
                    .unwrap_or(Money::zero(currency))
                    .checked_add(line_total)?,
            );
            out.push(OrderLine {
                product_id: product.id,
                variant_id,
                variant_title: variant.title(),
                sku: variant.sku.clone(),
                name: product.name,
                unit_price: price,
                quantity,
                line_total,
            });
        }
        let Some(total) = total else {
            return Err(FieldError::new("items", "must hold 1 to 100 lines").into());
        };
        Ok(Order {
            id,
            user_id,
            status: OrderStatus::Pending,
            lines: out,
            total,
            shipping_address,
            created_at: now,
            updated_at: now,
            details: OrderDetails::plain(total),
        })
    }

    /// Where its money is.
    pub fn payment_status(&self) -> PaymentStatus {
        self.details.payment_status
    }

    /// Whether a payment may be started for it: pending and unpaid.
    pub fn awaits_payment(&self) -> bool {
        self.status == OrderStatus::Pending && self.details.payment_status == PaymentStatus::Unpaid
    }

    /// Moves the order along an allowed edge of the status machine; its payment status
    /// follows ([`PaymentStatus::after_status_change`]): becoming `paid` pays it, and a paid
    /// order cancelled is `refunded` (the caller refunds it through the provider first).
    ///
    /// # Errors
    /// `InvalidTransition` for any other change.
    pub fn change_status(
        &mut self,
        next: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if !self.status.can_become(next) {
            return Err(DomainError::InvalidTransition {
                from: self.status.as_str(),
                to: next.as_str(),
            });
        }
        self.details.payment_status = self.details.payment_status.after_status_change(next);
        self.status = next;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{AddressInput, CountryCode};
    use crate::money::Currency;
    use crate::product::Stock;
    use proptest::prelude::*;

    fn product(price: &str, currency: &str) -> Product {
        let c = Currency::parse(currency).unwrap();
        with_price(Money::parse(price, c).unwrap())
    }

    fn with_price(price: Money) -> Product {
        let id = ProductId::new();
        Product {
            id,
            name: ProductName::parse("Thing").unwrap(),
            slug: crate::Slug::parse("thing").unwrap(),
            status: crate::ProductStatus::Active,
            description: None,
            variants: crate::VariantSet::single(
                VariantId::from_uuid(id.as_uuid()),
                Sku::parse("SKU-1").unwrap(),
                price,
                Stock::new(10).unwrap(),
            ),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// [`Order::place`] of each product's first variant.
    fn place(
        id: OrderId,
        user: UserId,
        lines: Vec<(Product, Quantity)>,
        address: Option<Address>,
        now: DateTime<Utc>,
    ) -> Result<Order, DomainError> {
        let lines = lines
            .into_iter()
            .map(|(p, q)| {
                let v = p.variants.first().id;
                (p, v, q)
            })
            .collect();
        Order::place(id, user, lines, address, now)
    }

    #[test]
    fn a_checked_out_order_totals_its_parts_and_its_lines_must_make_its_subtotal() {
        let eur = Currency::parse("EUR").unwrap();
        let m = |minor| Money::from_minor(minor, eur).unwrap();
        let p = product("17.91", "EUR");
        let v = p.variants.first();
        let line = OrderLine {
            product_id: p.id,
            variant_id: v.id,
            variant_title: v.title(),
            sku: v.sku.clone(),
            name: p.name.clone(),
            unit_price: m(1791),
            quantity: Quantity::new(3).unwrap(),
            line_total: m(5373),
        };
        let details = OrderDetails {
            discount_total: m(537),
            shipping_total: m(490),
            tax_total: m(1012),
            ..OrderDetails::plain(m(5373))
        };
        let now = Utc::now();
        let o = Order::check_out(
            OrderId::new(),
            guest_user(),
            vec![line.clone()],
            None,
            details.clone(),
            now,
        )
        .unwrap();
        assert_eq!(o.total(), m(6338));
        assert_eq!(o.details(), &details);
        assert_eq!(o.status(), OrderStatus::Pending);
        assert!(o.user_id().as_uuid().is_nil());
        assert!(
            Order::check_out(
                OrderId::new(),
                guest_user(),
                vec![],
                None,
                details.clone(),
                now
            )
            .is_err()
        );
        let wrong = OrderDetails {
            subtotal: m(5372),
            ..details
        };
        assert!(
            Order::check_out(OrderId::new(), guest_user(), vec![line], None, wrong, now).is_err()
        );
        // An order placed without a cart: its subtotal is its total, nothing else.
        let plain = place(
            OrderId::new(),
            UserId::new(),
            vec![(p, Quantity::new(2).unwrap())],
            None,
            now,
        )
        .unwrap();
        assert_eq!(plain.details(), &OrderDetails::plain(m(3582)));
        assert_eq!(plain.details().payment_status, PaymentStatus::Unpaid);
    }

    #[test]
    fn repeated_products_become_one_line() {
        let a = ProductId::new();
        let b = ProductId::new();
        let lines = merge_lines(&[(a, 2), (b, 1), (a, 3)]).unwrap();
        assert_eq!(
            lines,
            vec![
                (a, Quantity::new(5).unwrap()),
                (b, Quantity::new(1).unwrap())
            ]
        );
        assert!(merge_lines(&[(a, 600), (a, 600)]).is_err());
        assert!(merge_lines::<ProductId>(&[]).is_err());
        assert!(merge_lines(&[(a, 0)]).is_err());
    }

    #[test]
    fn an_order_reads_back_through_its_getters_as_placed_and_as_restored() {
        let (id, user) = (OrderId::new(), UserId::new());
        let placed_at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let address = parse_address(&input()).unwrap();
        let mug = product("2.50", "EUR");
        let mug_id = mug.id;
        let order = place(
            id,
            user,
            vec![(mug, Quantity::new(3).unwrap())],
            Some(address.clone()),
            placed_at,
        )
        .unwrap();
        assert_eq!(order.id(), id);
        assert_eq!(order.user_id(), user);
        assert_eq!(order.status(), OrderStatus::Pending);
        assert_eq!(order.lines().len(), 1);
        assert_eq!(order.lines()[0].product_id, mug_id);
        assert_eq!(order.lines()[0].line_total.amount_string(), "7.50");
        assert_eq!(order.total().amount_string(), "7.50");
        assert_eq!(order.shipping_address(), Some(&address));
        assert_eq!(
            (order.created_at(), order.updated_at()),
            (placed_at, placed_at)
        );

        let later = placed_at + chrono::TimeDelta::hours(1);
        let restored = Order::restore(
            id,
            user,
            OrderStatus::Paid,
            order.lines().to_vec(),
            order.total(),
            None,
            placed_at,
            later,
        );
        assert_eq!(restored.id(), id);
        assert_eq!(restored.user_id(), user);
        assert_eq!(restored.status(), OrderStatus::Paid);
        assert_eq!(restored.lines(), order.lines());
        assert_eq!(restored.total(), order.total());
        assert_eq!(restored.shipping_address(), None);
        assert_eq!(
            (restored.created_at(), restored.updated_at()),
            (placed_at, later)
        );
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let r = place(
            OrderId::new(),
            UserId::new(),
            vec![
                (product("1", "EUR"), Quantity::new(1).unwrap()),
                (product("1", "USD"), Quantity::new(1).unwrap()),
            ],
            None,
            Utc::now(),
        );
        assert!(matches!(r, Err(DomainError::Validation(_))));
    }

    fn status() -> impl Strategy<Value = OrderStatus> {
        prop::sample::select(OrderStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn totals_equal_the_sum_of_the_lines(prices in prop::collection::vec((0i64..10_000_000, 1i64..=1000), 1..20)) {
            let lines: Vec<_> = prices
                .iter()
                .map(|&(minor, q)| {
                    let p = with_price(Money::from_minor(minor, Currency::parse("EUR").unwrap()).unwrap());
                    (p, Quantity::new(q).unwrap())
                })
                .collect();
            let order = place(OrderId::new(), UserId::new(), lines, None, Utc::now()).unwrap();
            let sum: i64 = order.lines.iter().map(|l| l.line_total.minor()).sum();
            prop_assert_eq!(order.total.minor(), sum);
            for l in &order.lines {
                prop_assert_eq!(l.line_total.minor(), l.unit_price.minor() * i64::from(l.quantity.get()));
            }
        }

        #[test]
        fn no_command_sequence_leaves_the_allowed_edges(steps in prop::collection::vec(status(), 0..30)) {
            let mut order = place(OrderId::new(), UserId::new(), vec![(product("1", "EUR"), Quantity::new(1).unwrap())], None, Utc::now()).unwrap();
            for next in steps {
                let before = order.status;
                match order.change_status(next, Utc::now()) {
                    Ok(()) => prop_assert!(before.can_become(next) && order.status == next),
                    Err(_) => prop_assert_eq!(order.status, before),
                }
            }
        }
    }

    fn priced(price: &str, qty: i64) -> (Product, Quantity) {
        (product(price, "EUR"), Quantity::new(qty).unwrap())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn input() -> AddressInput {
        AddressInput {
            line1: "Hauptstr. 1".into(),
            line2: None,
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country: "DE".into(),
            state: None,
        }
    }

    fn parse_address(input: &AddressInput) -> Result<Address, Vec<FieldError>> {
        let mut v = Validator::new();
        let address = Address::parse(&mut v, "shipping_address", input);
        match v.finish() {
            Ok(()) => Ok(address.expect("no errors but no address")),
            Err(DomainError::Validation(errors)) => {
                assert!(address.is_none(), "errors but an address");
                Err(errors)
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn the_status_machine_allows_exactly_five_edges_and_refuses_the_other_twenty() {
        use OrderStatus::*;
        let allowed = [
            (Pending, Paid),
            (Pending, Cancelled),
            (Paid, Shipped),
            (Paid, Cancelled),
            (Shipped, Delivered),
        ];
        let mut refused = 0;
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                if !expected {
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 20);
        assert!(Pending.can_become(Paid));
        assert!(!Paid.can_become(Pending));
        assert!(!Delivered.can_become(Cancelled));
        assert!(!Cancelled.can_become(Pending));
        assert!(!Pending.can_become(Pending));
    }

    #[test]
    fn status_names_parse_and_print_as_the_api_spells_them() {
        let names = ["pending", "paid", "shipped", "delivered", "cancelled"];
        for (status, name) in OrderStatus::ALL.into_iter().zip(names) {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(OrderStatus::parse(name), Ok(status));
        }
        for bad in ["", "Paid", "PENDING", "canceled", "refunded"] {
            let e = OrderStatus::parse(bad).unwrap_err();
            assert_eq!(e.field, "status", "{bad:?}");
        }
    }

    #[test]
    fn a_quantity_is_a_whole_number_from_one_to_a_thousand() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(Quantity::new(7).unwrap().get(), 7);
        assert_eq!(Quantity::new(1000).unwrap().get(), 1000);
        for bad in [0, -1, 1001, i64::MAX, i64::MIN] {
            assert_eq!(Quantity::new(bad).unwrap_err().field, "quantity", "{bad}");
        }
        assert_eq!(Quantity::MAX, 1000);
    }

    #[test]
    fn placing_copies_prices_and_multiplies_each_line_exactly() {
        let (mug, mug_qty) = priced("2.50", 3);
        let (pen, pen_qty) = priced("0.99", 7);
        let (mug_id, pen_id) = (mug.id, pen.id);
        let id = OrderId::new();
        let user = UserId::new();
        let order = place(id, user, vec![(mug, mug_qty), (pen, pen_qty)], None, at(0)).unwrap();
        assert_eq!(order.id, id);
        assert_eq!(order.user_id, user);
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.created_at, at(0));
        assert_eq!(order.updated_at, at(0));
        assert_eq!(order.shipping_address, None);
        let totals: Vec<_> = order
            .lines
            .iter()
            .map(|l| {
                (
                    l.product_id,
                    l.unit_price.minor(),
                    l.quantity.get(),
                    l.line_total.minor(),
                )
            })
            .collect();
        assert_eq!(totals, vec![(mug_id, 250, 3, 750), (pen_id, 99, 7, 693)]);
        assert_eq!(order.total.minor(), 1443);
        assert_eq!(order.total.amount_string(), "14.43");
        assert_eq!(order.lines[0].sku.as_str(), "SKU-1");
        assert_eq!(order.lines[0].variant_id.as_uuid(), mug_id.as_uuid());
        assert_eq!(order.lines[0].variant_title, "Default Title");
        assert_eq!(order.lines[0].name.as_str(), "Thing");
    }

    #[test]
    fn an_order_of_no_lines_is_refused() {
        let r = place(OrderId::new(), UserId::new(), vec![], None, at(0));
        match r {
            Err(DomainError::Validation(errors)) => assert_eq!(fields(&errors), ["items"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_total_past_the_largest_amount_is_an_overflow() {
        let p = with_price(
            Money::from_minor(Money::MAX_MINOR, Currency::parse("EUR").unwrap()).unwrap(),
        );
        let r = place(
            OrderId::new(),
            UserId::new(),
            vec![
                (p.clone(), Quantity::new(1).unwrap()),
                (p, Quantity::new(1).unwrap()),
            ],
            None,
            at(0),
        );
        assert_eq!(r.unwrap_err(), DomainError::Overflow);
    }

    #[test]
    fn paying_an_order_pays_it_and_cancelling_it_then_refunds_it_while_a_refused_change_leaves_both()
     {
        let mut order = place(
            OrderId::new(),
            UserId::new(),
            vec![priced("1", 1)],
            None,
            at(0),
        )
        .unwrap();
        assert!(order.awaits_payment());
        assert_eq!(order.payment_status(), PaymentStatus::Unpaid);
        order.change_status(OrderStatus::Paid, at(1)).unwrap();
        assert_eq!(order.payment_status(), PaymentStatus::Paid);
        assert!(!order.awaits_payment());
        order
            .change_status(OrderStatus::Pending, at(2))
            .unwrap_err();
        assert_eq!(order.payment_status(), PaymentStatus::Paid);
        order.change_status(OrderStatus::Cancelled, at(3)).unwrap();
        assert_eq!(order.payment_status(), PaymentStatus::Refunded);

        let mut unpaid = place(
            OrderId::new(),
            UserId::new(),
            vec![priced("1", 1)],
            None,
            at(0),
        )
        .unwrap();
        unpaid.change_status(OrderStatus::Cancelled, at(1)).unwrap();
        assert_eq!(unpaid.payment_status(), PaymentStatus::Unpaid);
        assert!(!unpaid.awaits_payment());
    }

    #[test]
    fn a_status_change_stamps_the_time_and_a_refused_one_names_both_ends() {
        let mut order = place(
            OrderId::new(),
            UserId::new(),
            vec![priced("1", 1)],
            None,
            at(0),
        )
        .unwrap();
        order.change_status(OrderStatus::Paid, at(60)).unwrap();
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.updated_at, at(60));
        assert_eq!(order.created_at, at(0));
        let e = order
            .change_status(OrderStatus::Pending, at(120))
            .unwrap_err();
        assert_eq!(
            e,
            DomainError::InvalidTransition {
                from: "paid",
                to: "pending"
            }
        );
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.updated_at, at(60));
    }

    #[test]
    fn one_hundred_lines_are_accepted_and_one_hundred_and_one_refused() {
        let ids: Vec<(ProductId, i64)> = (0..101).map(|_| (ProductId::new(), 1)).collect();
        assert_eq!(merge_lines(&ids[..100]).unwrap().len(), 100);
        assert_eq!(merge_lines(&ids[..1]).unwrap().len(), 1);
        match merge_lines(&ids) {
            Err(DomainError::Validation(errors)) => assert_eq!(fields(&errors), ["items"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merged_quantities_may_reach_a_thousand_but_not_pass_it() {
        let a = ProductId::new();
        let b = ProductId::new();
        assert_eq!(
            merge_lines(&[(a, 400), (b, 1), (a, 600)]).unwrap(),
            vec![
                (a, Quantity::new(1000).unwrap()),
                (b, Quantity::new(1).unwrap())
            ]
        );
        match merge_lines(&[(b, 1), (a, 400), (a, 601)]) {
            Err(DomainError::Validation(errors)) => {
                // Reported at the product's first line.
                assert_eq!(fields(&errors), ["items[1].quantity"]);
                assert!(errors[0].message.contains("add up to more than 1000"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_quantity_is_reported_at_its_own_line() {
        let a = ProductId::new();
        match merge_lines(&[(a, 1), (ProductId::new(), 0), (ProductId::new(), 1001)]) {
            Err(DomainError::Validation(errors)) => {
                assert_eq!(fields(&errors), ["items[1].quantity", "items[2].quantity"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_address_parses_trimmed_with_its_country_upper_cased() {
        let a = parse_address(&AddressInput {
            line1: "  Hauptstr. 1 ".into(),
            line2: Some(" Hinterhaus ".into()),
            city: " Berlin".into(),
            postal_code: "10115 ".into(),
            country: " de ".into(),
            state: Some("Berlin".into()),
        })
        .unwrap();
        assert_eq!(a.line1, "Hauptstr. 1");
        assert_eq!(a.line2.as_deref(), Some("Hinterhaus"));
        assert_eq!(a.city, "Berlin");
        assert_eq!(a.postal_code, "10115");
        assert_eq!(a.country.as_str(), "DE");
        assert_eq!(a.state.as_deref(), Some("Berlin"));
    }

    #[test]
    fn blank_optional_address_lines_are_none() {
        let a = parse_address(&AddressInput {
            line2: Some("   ".into()),
            state: Some(String::new()),
            ..input()
        })
        .unwrap();
        assert_eq!(a.line2, None);
        assert_eq!(a.state, None);
        assert_eq!(parse_address(&input()).unwrap().line2, None);
    }

    #[test]
    fn every_blank_required_address_part_is_named_under_the_prefix() {
        let errors = parse_address(&AddressInput {
            line1: " ".into(),
            line2: None,
            city: String::new(),
            postal_code: "\t".into(),
            country: String::new(),
            state: None,
        })
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "shipping_address.line1",
                "shipping_address.city",
                "shipping_address.postal_code",
                "shipping_address.country"
            ]
        );
        assert_eq!(errors[0].message, "must not be empty");
    }

    #[test]
    fn each_address_part_may_hold_two_hundred_characters_but_not_more() {
        let ok = "é".repeat(200);
        let long = "é".repeat(201);
        let a = parse_address(&AddressInput {
            line1: ok.clone(),
            line2: Some(ok.clone()),
            city: ok.clone(),
            postal_code: ok.clone(),
            state: Some(ok.clone()),
            ..input()
        })
        .unwrap();
        assert_eq!(a.line1.chars().count(), 200);
        let cases: [(&str, AddressInput); 5] = [
            (
                "line1",
                AddressInput {
                    line1: long.clone(),
                    ..input()
                },
            ),
            (
                "line2",
                AddressInput {
                    line2: Some(long.clone()),
                    ..input()
                },
            ),
            (
                "city",
                AddressInput {
                    city: long.clone(),
                    ..input()
                },
            ),
            (
                "postal_code",
                AddressInput {
                    postal_code: long.clone(),
                    ..input()
                },
            ),
            (
                "state",
                AddressInput {
                    state: Some(long.clone()),
                    ..input()
                },
            ),
        ];
        for (field, bad) in cases {
            let errors = parse_address(&bad).unwrap_err();
            assert_eq!(
                fields(&errors),
                [format!("shipping_address.{field}")],
                "{field}"
            );
        }
    }

    #[test]
    fn control_characters_in_an_address_are_refused() {
        let errors = parse_address(&AddressInput {
            city: "Ber\u{7}lin".into(),
            state: Some("a\nb".into()),
            // At an end: refused too, not trimmed away.
            line2: Some("Flat 2\n".into()),
            ..input()
        })
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "shipping_address.line2",
                "shipping_address.city",
                "shipping_address.state"
            ]
        );
    }

    #[test]
    fn an_unassigned_country_is_refused_under_the_prefix() {
        for bad in ["XX", "DEU", "D", "1A", "ÄÖ"] {
            let errors = parse_address(&AddressInput {
                country: bad.into(),
                ..input()
            })
            .unwrap_err();
            assert_eq!(fields(&errors), ["shipping_address.country"], "{bad:?}");
        }
        assert_eq!(CountryCode::parse("us").unwrap().as_str(), "US");
        assert_eq!(CountryCode::parse("ZW").unwrap().as_str(), "ZW");
        assert_eq!(CountryCode::parse("AD").unwrap().as_str(), "AD");
    }
}
