//! The demo catalog of `shop seed-demo`.

use std::sync::Arc;

use application::catalog::{CreateProduct, CreateProductCommand, PriceInput};
use application::ports::Clock;
use application::{Actor, AppError};
use domain::{CategoryRepository, ProductRepository, Role, Roles, UserId};

const DEMO: &[(&str, &str, &str, &str, i64)] = &[
    (
        "DEMO-MUG-01",
        "Stoneware mug",
        "A 350 ml mug, glazed by hand, dishwasher safe.",
        "14.90",
        120,
    ),
    (
        "DEMO-TEE-01",
        "Organic cotton T-shirt",
        "Heavyweight crew neck in natural white.",
        "24.00",
        80,
    ),
    (
        "DEMO-BAG-01",
        "Canvas tote bag",
        "Waxed canvas with leather handles.",
        "39.50",
        40,
    ),
    (
        "DEMO-NBK-01",
        "Dotted notebook A5",
        "160 pages of 100 g/m² paper, lay-flat binding.",
        "12.00",
        200,
    ),
    (
        "DEMO-PEN-01",
        "Brass fountain pen",
        "Solid brass body, fine steel nib.",
        "58.00",
        25,
    ),
    (
        "DEMO-CAN-01",
        "Soy wax candle",
        "Cedar and bergamot, 40 hours of burn time.",
        "19.90",
        60,
    ),
    (
        "DEMO-BTL-01",
        "Insulated bottle",
        "750 ml stainless steel, keeps cold for 24 hours.",
        "29.00",
        90,
    ),
    (
        "DEMO-SCF-01",
        "Merino scarf",
        "Fine merino wool, 180 × 30 cm.",
        "49.00",
        30,
    ),
    (
        "DEMO-PLT-01",
        "Ceramic plant pot",
        "15 cm pot with drainage hole and saucer.",
        "22.50",
        45,
    ),
    (
        "DEMO-BRD-01",
        "Olive wood board",
        "Cutting and serving board, each one unique.",
        "34.00",
        0,
    ),
];

/// Creates the demo products that are not there yet; returns how many were created.
pub(crate) async fn seed(
    products: Arc<dyn ProductRepository>,
    categories: Arc<dyn CategoryRepository>,
    clock: Arc<dyn Clock>,
    events: Arc<application::events::Events>,
) -> Result<usize, AppError> {
    let create = CreateProduct {
        products,
        categories,
        clock,
        events,
    };
    let seeder = Actor {
        user_id: UserId::new(),
        roles: Roles::from([Role::Admin]),
    };
    let mut created = 0;
    for &(sku, name, description, amount, stock) in DEMO {
        let cmd = CreateProductCommand {
            sku: Some(sku.into()),
            name: name.into(),
            slug: None,
            status: None,
            description: Some(description.into()),
            price: Some(PriceInput {
                amount: amount.into(),
                currency: "EUR".into(),
            }),
            stock: Some(stock),
            category_ids: Vec::new(),
            options: Vec::new(),
            variants: None,
        };
        match create.execute(&seeder, cmd).await {
            Ok(_) => created += 1,
            Err(AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}
