//! Variants one at a time, and a product's whole new set: who may change them, and how each
//! refusal reaches the client.

use std::sync::Arc;

use domain::{EventType, FieldError, OptionInput, Product, ProductId, Role, VariantId};

use super::*;
use crate::AppError;
use crate::catalog::{
    AddVariant, CreateProductCommand, DeleteVariant, PriceInput, UpdateProductCommand,
    UpdateVariant, UpdateVariantCommand, VariantDeps, VariantInput,
};
use crate::testing::{MemoryProducts, actor};

fn admin() -> crate::Actor {
    actor(&[Role::Admin])
}

fn deps(repo: &Arc<MemoryProducts>) -> VariantDeps {
    VariantDeps {
        products: repo.clone(),
        catalog: repo.clone(),
        clock: clock(),
        events: events(),
    }
}

fn eur(amount: &str) -> PriceInput {
    PriceInput {
        amount: amount.into(),
        currency: "EUR".into(),
    }
}

fn input(sku: &str, size: &str, price: &str, stock: i64) -> VariantInput {
    VariantInput {
        id: None,
        sku: sku.into(),
        option_values: vec![("Size".into(), size.into())],
        price: eur(price),
        compare_at_price: None,
        stock,
        position: None,
    }
}

/// A tee in S (10.00, 5 in stock) and M (12.00, 2 in stock) of the sizes S, M and L.
async fn tee(repo: &Arc<MemoryProducts>) -> Product {
    let cmd = CreateProductCommand {
        sku: None,
        name: "Tee".into(),
        slug: None,
        status: Some("draft".into()),
        description: None,
        price: None,
        stock: None,
        category_ids: Vec::new(),
        options: vec![OptionInput {
            name: "Size".into(),
            values: vec!["S".into(), "M".into(), "L".into()],
        }],
        variants: Some(vec![
            input("TEE-S", "S", "10.00", 5),
            input("TEE-M", "M", "12.00", 2),
        ]),
    };
    create_product(repo.clone())
        .execute(&admin(), cmd)
        .await
        .unwrap()
        .product
}

fn id_of(p: &Product, sku: &str) -> VariantId {
    p.variants
        .variants()
        .iter()
        .find(|v| v.sku.as_str() == sku)
        .map(|v| v.id)
        .unwrap()
}

fn stored(repo: &MemoryProducts, id: ProductId) -> Product {
    repo.items
        .lock()
        .unwrap()
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .unwrap()
}

fn event_types(repo: &MemoryProducts) -> Vec<EventType> {
    repo.events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.event.event_type)
        .collect()
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[tokio::test]
async fn only_admins_add_change_or_delete_variants() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let before = stored(&repo, p.id);
    let m = id_of(&p, "TEE-M");
    for who in [actor(&[Role::User]), actor(&[])] {
        let add = AddVariant { deps: deps(&repo) }
            .execute(&who, p.id, input("TEE-L", "L", "9.00", 1))
            .await;
        assert!(matches!(add, Err(AppError::Forbidden)), "{add:?}");
        let change = UpdateVariant { deps: deps(&repo) }
            .execute(&who, p.id, m, UpdateVariantCommand::default())
            .await;
        assert!(matches!(change, Err(AppError::Forbidden)), "{change:?}");
        let delete = DeleteVariant { deps: deps(&repo) }
            .execute(&who, p.id, m)
            .await;
        assert!(matches!(delete, Err(AppError::Forbidden)), "{delete:?}");
    }
    assert_eq!(stored(&repo, p.id), before);
}

#[tokio::test]
async fn an_added_variant_is_stored_with_its_event_and_the_product_follows_it() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    repo.events.lock().unwrap().clear();
    let mut large = input(" TEE-L ", "L", "9.00", 4);
    large.compare_at_price = Some(eur("11.00"));
    large.position = Some(2);
    let added = AddVariant { deps: deps(&repo) }
        .execute(&admin(), p.id, large)
        .await
        .unwrap();
    assert_eq!(added.sku.as_str(), "TEE-L");
    assert_eq!(added.title(), "L");
    assert_eq!(added.price.amount_string(), "9.00");
    assert_eq!(
        added.compare_at_price.map(|m| m.amount_string()),
        Some("11.00".to_owned())
    );
    assert_eq!((added.stock.get(), added.position.get()), (4, 2));
    let now = stored(&repo, p.id);
    assert_eq!(now.variants.get(added.id), Some(&added));
    assert_eq!(
        (now.price().amount_string(), now.stock()),
        ("9.00".into(), 11)
    );
    assert_eq!(now.updated_at, clock().now());
    // One product.updated; adding stock is no fall to low stock.
    assert_eq!(event_types(&repo), [EventType::ProductUpdated]);
}

#[tokio::test]
async fn a_variant_that_does_not_fit_is_refused_on_its_fields() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let add = AddVariant { deps: deps(&repo) };
    // Parsing: each bad field at once.
    let mut bad = input("", "XL", "-1", -1);
    bad.position = Some(-1);
    bad.compare_at_price = Some(eur("x"));
    let Err(AppError::Validation(errors)) = add.execute(&admin(), p.id, bad).await else {
        panic!("a bad variant was taken");
    };
    assert_eq!(
        fields(&errors),
        [
            "sku",
            "option_values",
            "price.amount",
            "compare_at_price.amount",
            "stock",
            "position"
        ]
    );
    // The set's rules: another variant's combination, another currency.
    let mut clash = input("TEE-X", "M", "1.00", 1);
    clash.price.currency = "USD".into();
    let Err(AppError::Validation(errors)) = add.execute(&admin(), p.id, clash).await else {
        panic!("a clashing variant was taken");
    };
    assert_eq!(fields(&errors), ["option_values", "price"]);
    // A SKU another variant holds.
    let taken = add
        .execute(&admin(), p.id, input("TEE-S", "L", "1.00", 1))
        .await;
    assert!(
        matches!(
            taken,
            Err(AppError::Conflict {
                field: Some("sku"),
                ..
            })
        ),
        "{taken:?}"
    );
    assert_eq!(stored(&repo, p.id).variants.variants().len(), 2);
    // An unknown product.
    let unknown = add
        .execute(&admin(), ProductId::new(), input("TEE-L", "L", "1.00", 1))
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound)), "{unknown:?}");
}

#[tokio::test]
async fn a_variant_is_changed_as_given_and_its_low_stock_told() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    repo.events.lock().unwrap().clear();
    let m = id_of(&p, "TEE-M");
    let update = UpdateVariant { deps: deps(&repo) };
    let changed = update
        .execute(
            &admin(),
            p.id,
            m,
            UpdateVariantCommand {
                sku: Some("TEE-L".into()),
                option_values: Some(vec![("Size".into(), "L".into())]),
                price: Some(eur("8.00")),
                compare_at_price: Some(Some(eur("9.00"))),
                stock: Some(6),
                position: Some(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.id, changed.sku.as_str(), changed.title().as_str()),
        (m, "TEE-L", "L")
    );
    assert_eq!(changed.price.amount_string(), "8.00");
    assert_eq!((changed.stock.get(), changed.position.get()), (6, 3));
    assert_eq!(stored(&repo, p.id).variants.get(m), Some(&changed));
    // Stock set, and the variant holds 6 (over the threshold of 5): no low stock.
    assert_eq!(event_types(&repo), [EventType::ProductUpdated]);

    // The variant's own stock set to the threshold tells it, whatever the product holds.
    repo.events.lock().unwrap().clear();
    let s = id_of(&p, "TEE-S");
    let changed = update
        .execute(
            &admin(),
            p.id,
            s,
            UpdateVariantCommand {
                stock: Some(5),
                ..UpdateVariantCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.stock.get(), 5);
    assert_eq!(stored(&repo, p.id).stock(), 11);
    assert_eq!(
        event_types(&repo),
        [EventType::ProductUpdated, EventType::VariantLowStock]
    );
    let cleared = update
        .execute(
            &admin(),
            p.id,
            m,
            UpdateVariantCommand {
                compare_at_price: Some(None),
                ..UpdateVariantCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.compare_at_price, None);
    assert_eq!(cleared.price.amount_string(), "8.00", "the rest is kept");
    // A change of nothing but the position is no stock change, even of a variant at 5.
    repo.events.lock().unwrap().clear();
    update
        .execute(
            &admin(),
            p.id,
            s,
            UpdateVariantCommand {
                position: Some(0),
                ..UpdateVariantCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(event_types(&repo), [EventType::ProductUpdated]);
}

#[tokio::test]
async fn a_bad_variant_change_is_refused_on_its_fields() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let before = stored(&repo, p.id);
    let m = id_of(&p, "TEE-M");
    let update = UpdateVariant { deps: deps(&repo) };
    let Err(AppError::Validation(errors)) = update
        .execute(
            &admin(),
            p.id,
            m,
            UpdateVariantCommand {
                sku: Some("a b".into()),
                option_values: Some(vec![("Colour".into(), "Red".into())]),
                price: Some(eur("1.001")),
                compare_at_price: Some(Some(eur("-2"))),
                stock: Some(1_000_000_001),
                position: Some(-1),
            },
        )
        .await
    else {
        panic!("bad changes were taken");
    };
    assert_eq!(
        fields(&errors),
        [
            "sku",
            "option_values",
            "option_values",
            "price.amount",
            "compare_at_price.amount",
            "stock",
            "position"
        ]
    );
    // S's combination: refused by the set's rules.
    let Err(AppError::Validation(errors)) = update
        .execute(
            &admin(),
            p.id,
            m,
            UpdateVariantCommand {
                option_values: Some(vec![("Size".into(), "S".into())]),
                ..UpdateVariantCommand::default()
            },
        )
        .await
    else {
        panic!("a clash was taken");
    };
    assert_eq!(fields(&errors), ["option_values"]);
    assert_eq!(stored(&repo, p.id), before);
}

#[tokio::test]
async fn an_unknown_product_or_variant_is_not_found_before_the_body_is_read() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let other = {
        let other_repo = Arc::new(MemoryProducts::default());
        tee(&other_repo).await
    };
    let theirs = other.variants.first().id;
    let bad = UpdateVariantCommand {
        sku: Some("".into()),
        ..UpdateVariantCommand::default()
    };
    let update = UpdateVariant { deps: deps(&repo) };
    let delete = DeleteVariant { deps: deps(&repo) };
    for (product, variant) in [(p.id, theirs), (p.id, VariantId::new()), (other.id, theirs)] {
        let changed = update
            .execute(&admin(), product, variant, bad.clone())
            .await;
        assert!(matches!(changed, Err(AppError::NotFound)), "{changed:?}");
        let deleted = delete.execute(&admin(), product, variant).await;
        assert!(matches!(deleted, Err(AppError::NotFound)), "{deleted:?}");
    }
}

#[tokio::test]
async fn a_variant_is_deleted_but_never_the_last() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    repo.events.lock().unwrap().clear();
    let delete = DeleteVariant { deps: deps(&repo) };
    let (s, m) = (id_of(&p, "TEE-S"), id_of(&p, "TEE-M"));
    delete.execute(&admin(), p.id, s).await.unwrap();
    let now = stored(&repo, p.id);
    assert_eq!(now.variants.variants().len(), 1);
    assert_eq!((now.sku().as_str(), now.stock()), ("TEE-M", 2));
    assert_eq!(event_types(&repo), [EventType::ProductUpdated]);
    let last = delete.execute(&admin(), p.id, m).await;
    let Err(AppError::Conflict {
        field: None,
        message,
    }) = last
    else {
        panic!("the last variant went: {last:?}");
    };
    assert!(message.contains("last"), "{message}");
    assert_eq!(stored(&repo, p.id), now);
    assert_eq!(event_types(&repo), [EventType::ProductUpdated]);
}

#[tokio::test]
async fn a_whole_new_set_keeps_named_variants_adds_new_ones_and_drops_the_rest() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let (s, m) = (id_of(&p, "TEE-S"), id_of(&p, "TEE-M"));
    repo.events.lock().unwrap().clear();
    let update = update_product(repo.clone(), repo.clone());
    let mut kept = input("TEE-S2", "S", "7.00", 1);
    kept.id = Some(s.as_uuid());
    let view = update
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                options: Some(vec![OptionInput {
                    name: "Size".into(),
                    values: vec!["S".into(), "XL".into()],
                }]),
                variants: Some(vec![kept, input("TEE-XL", "XL", "20.00", 3)]),
                ..UpdateProductCommand::default()
            },
        )
        .await
        .unwrap();
    let now = view.product;
    assert_eq!(now.variants.variants().len(), 2);
    assert_eq!(now.variants.get(s).map(|v| v.sku.as_str()), Some("TEE-S2"));
    assert!(now.variants.get(m).is_none(), "M was dropped");
    assert_eq!(now.variants.options().as_slice()[0].values().len(), 2);
    assert_eq!(
        (now.price().amount_string(), now.stock()),
        ("7.00".into(), 4)
    );
    // A new set sets stock: 4 left is at most the threshold of 5.
    assert_eq!(
        event_types(&repo),
        [EventType::ProductUpdated, EventType::VariantLowStock]
    );

    // Without options: read against the product's own (XL is one of them now, M is not).
    let mut again = input("TEE-S2", "S", "7.00", 1);
    again.id = Some(s.as_uuid());
    let view = update
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                variants: Some(vec![again]),
                ..UpdateProductCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(view.product.variants.variants().len(), 1);
    let Err(AppError::Validation(errors)) = update
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                variants: Some(vec![input("TEE-M", "M", "1.00", 1)]),
                ..UpdateProductCommand::default()
            },
        )
        .await
    else {
        panic!("a value of the old options was taken");
    };
    assert_eq!(fields(&errors), ["variants[0].option_values"]);
}

#[tokio::test]
async fn a_new_set_is_refused_on_each_field_it_gets_wrong() {
    let repo = Arc::new(MemoryProducts::default());
    let p = tee(&repo).await;
    let before = stored(&repo, p.id);
    let s = id_of(&p, "TEE-S");
    let update = update_product(repo.clone(), repo.clone());
    let refused = |cmd: UpdateProductCommand| {
        let update = &update;
        async move {
            match update.execute(&admin(), p.id, cmd).await {
                Err(AppError::Validation(errors)) => {
                    errors.into_iter().map(|e| e.field).collect::<Vec<_>>()
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
    };
    // Options alone make no variants.
    let options = vec![OptionInput {
        name: "Size".into(),
        values: vec!["S".into()],
    }];
    assert_eq!(
        refused(UpdateProductCommand {
            options: Some(options),
            ..UpdateProductCommand::default()
        })
        .await,
        ["variants"]
    );
    // Bad options, a stranger's id, an id named twice, an empty set.
    let mut stranger = input("A", "S", "1.00", 1);
    stranger.id = Some(VariantId::new().as_uuid());
    let mut first = input("B", "S", "1.00", 1);
    first.id = Some(s.as_uuid());
    let mut twice = input("C", "M", "1.00", 1);
    twice.id = Some(s.as_uuid());
    assert_eq!(
        refused(UpdateProductCommand {
            variants: Some(vec![stranger, first, twice]),
            ..UpdateProductCommand::default()
        })
        .await,
        ["variants[0].id", "variants[2].id"]
    );
    assert_eq!(
        refused(UpdateProductCommand {
            options: Some(vec![OptionInput {
                name: "".into(),
                values: vec!["S".into()],
            }]),
            variants: Some(vec![input("A", "S", "1.00", 1)]),
            ..UpdateProductCommand::default()
        })
        .await,
        ["options[0].name"]
    );
    assert_eq!(
        refused(UpdateProductCommand {
            variants: Some(Vec::new()),
            ..UpdateProductCommand::default()
        })
        .await,
        ["variants"]
    );
    // Two alike, and a field of a variant.
    assert_eq!(
        refused(UpdateProductCommand {
            variants: Some(vec![
                input("A", "S", "1.00", 1),
                input("B", "S", "1.00", -1),
                input("C", "S", "1.00", 1),
            ]),
            ..UpdateProductCommand::default()
        })
        .await,
        ["variants[1].stock"]
    );
    assert_eq!(
        refused(UpdateProductCommand {
            variants: Some(vec![input("A", "S", "1.00", 1), input("C", "S", "1.00", 1)]),
            ..UpdateProductCommand::default()
        })
        .await,
        ["variants[1].option_values"]
    );
    // The product's own SKU, price or stock beside a new set.
    assert_eq!(
        refused(UpdateProductCommand {
            sku: Some("X".into()),
            stock: Some(1),
            variants: Some(vec![input("A", "S", "1.00", 1)]),
            ..UpdateProductCommand::default()
        })
        .await,
        ["sku", "stock"]
    );
    assert_eq!(stored(&repo, p.id), before);
    // An unknown product: 404, whatever the set.
    let unknown = update
        .execute(
            &admin(),
            ProductId::new(),
            UpdateProductCommand {
                variants: Some(vec![input("A", "S", "1.00", 1)]),
                ..UpdateProductCommand::default()
            },
        )
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound)), "{unknown:?}");
}
