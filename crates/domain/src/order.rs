use std::fmt;

use chrono::{DateTime, Utc};

use crate::address::Address;
use crate::error::{DomainError, FieldError, Validator};
use crate::ids::{OrderId, ProductId, UserId};
use crate::money::Money;
use crate::product::{Product, ProductName, Sku};

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

/// One product in an order, with the sku, name and price copied when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The product (which may since have changed or been deleted).
    pub product_id: ProductId,
    /// SKU when ordered.
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
}

/// Merges repeated products into one line each, summing their quantities, in first-seen order.
///
/// # Errors
/// `Validation` on `items` when empty or over 100 lines, on `items[i].quantity` when a
/// quantity (or a merged sum) leaves 1..=1000.
pub fn merge_lines(items: &[(ProductId, i64)]) -> Result<Vec<(ProductId, Quantity)>, DomainError> {
    if items.is_empty() || items.len() > 100 {
        return Err(FieldError::new("items", "must hold 1 to 100 lines").into());
    }
    let mut v = Validator::new();
    let mut merged: Vec<(ProductId, i64, usize)> = Vec::new();
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
        }
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

    /// A new pending order of `lines` at the products' current prices.
    ///
    /// # Errors
    /// `Validation` on `items` when the products' currencies differ; `Overflow` when a total
    /// leaves the representable range.
    pub fn place(
        id: OrderId,
        user_id: UserId,
        lines: Vec<(Product, Quantity)>,
        shipping_address: Option<Address>,
        now: DateTime<Utc>,
    ) -> Result<Order, DomainError> {
        let Some(first) = lines.first() else {
            return Err(FieldError::new("items", "must hold 1 to 100 lines").into());
        };
        let currency = first.0.price.currency();
        let mut total = Money::zero(currency);
        let mut out = Vec::with_capacity(lines.len());
        for (product, quantity) in lines {
            if product.price.currency() != currency {
                return Err(FieldError::new(
                    "items",
                    "all products of an order must be priced in one currency",
                )
                .into());
            }
            let line_total = product.price.checked_mul(quantity.get())?;
            total = total.checked_add(line_total)?;
            out.push(OrderLine {
                product_id: product.id,
                sku: product.sku,
                name: product.name,
                unit_price: product.price,
                quantity,
                line_total,
            });
        }
        Ok(Order {
            id,
            user_id,
            status: OrderStatus::Pending,
            lines: out,
            total,
            shipping_address,
            created_at: now,
            updated_at: now,
        })
    }

    /// Moves the order along an allowed edge of the status machine.
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
        self.status = next;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::product::Stock;
    use proptest::prelude::*;

    fn product(price: &str, currency: &str) -> Product {
        let c = Currency::parse(currency).unwrap();
        Product {
            id: ProductId::new(),
            sku: Sku::parse("SKU-1").unwrap(),
            name: ProductName::parse("Thing").unwrap(),
            description: None,
            price: Money::parse(price, c).unwrap(),
            stock: Stock::new(10).unwrap(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
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
        assert!(merge_lines(&[]).is_err());
        assert!(merge_lines(&[(a, 0)]).is_err());
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let r = Order::place(
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
                    let mut p = product("0", "EUR");
                    p.price = Money::from_minor(minor, p.price.currency()).unwrap();
                    (p, Quantity::new(q).unwrap())
                })
                .collect();
            let order = Order::place(OrderId::new(), UserId::new(), lines, None, Utc::now()).unwrap();
            let sum: i64 = order.lines.iter().map(|l| l.line_total.minor()).sum();
            prop_assert_eq!(order.total.minor(), sum);
            for l in &order.lines {
                prop_assert_eq!(l.line_total.minor(), l.unit_price.minor() * i64::from(l.quantity.get()));
            }
        }

        #[test]
        fn no_command_sequence_leaves_the_allowed_edges(steps in prop::collection::vec(status(), 0..30)) {
            let mut order = Order::place(OrderId::new(), UserId::new(), vec![(product("1", "EUR"), Quantity::new(1).unwrap())], None, Utc::now()).unwrap();
            for next in steps {
                let before = order.status;
                match order.change_status(next, Utc::now()) {
                    Ok(()) => prop_assert!(before.can_become(next) && order.status == next),
                    Err(_) => prop_assert_eq!(order.status, before),
                }
            }
        }
    }
}
