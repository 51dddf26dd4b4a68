//! The catalog: exact values written and read, prices, descriptions, and the list's search.

use std::sync::{Arc, Mutex};

use domain::{Page, PageRequest, Product, ProductId, RepositoryError, Role};

use super::*;
use crate::AppError;
use crate::catalog::{CreateProductCommand, PriceInput, UpdateProductCommand};
use crate::ports::ProductView;
use crate::testing::{MemoryProducts, MemoryStore, actor};

fn admin() -> crate::Actor {
    actor(&[Role::Admin])
}

fn mug() -> CreateProductCommand {
    CreateProductCommand {
        sku: " MUG-1 ".into(),
        name: " Blue Mug ".into(),
        description: Some("Holds tea".into()),
        price: PriceInput {
            amount: "9.5".into(),
            currency: "EUR".into(),
        },
        stock: 3,
    }
}

fn validation<T: std::fmt::Debug>(result: Result<T, AppError>) -> Vec<domain::FieldError> {
    match result {
        Err(AppError::Validation(errors)) => errors,
        other => panic!("expected validation errors, got {other:?}"),
    }
}

/// A product store holding the mug, created through the use case.
async fn stored_mug() -> (Arc<MemoryProducts>, Product) {
    let repo = Arc::new(MemoryProducts::default());
    let p = create_product(repo.clone())
        .execute(&admin(), mug())
        .await
        .unwrap();
    (repo, p)
}

#[tokio::test]
async fn a_created_product_holds_exactly_what_was_sent_and_is_stored() {
    let (repo, p) = stored_mug().await;
    assert_eq!(p.sku.as_str(), "MUG-1");
    assert_eq!(p.name.as_str(), "Blue Mug");
    assert_eq!(
        p.description.as_ref().map(|d| d.as_str()),
        Some("Holds tea")
    );
    assert_eq!((p.price.minor(), p.price.currency().code()), (950, "EUR"));
    assert_eq!(p.stock.get(), 3);
    assert_eq!((p.created_at, p.updated_at), (now(), now()));
    assert_eq!(repo.items.lock().unwrap().clone(), vec![p]);
}

#[tokio::test]
async fn a_blank_description_is_none_and_a_long_one_is_refused() {
    let repo = Arc::new(MemoryProducts::default());
    let create = create_product(repo.clone());
    let p = create
        .execute(
            &admin(),
            CreateProductCommand {
                description: Some("  \n ".into()),
                ..mug()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.description, None);
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    sku: "MUG-2".into(),
                    description: Some("x".repeat(10_001)),
                    ..mug()
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["description"]);
    assert_eq!(errors[0].message, "must be at most 10000 characters");
    let longest = create
        .execute(
            &admin(),
            CreateProductCommand {
                sku: "MUG-3".into(),
                description: Some("x".repeat(10_000)),
                ..mug()
            },
        )
        .await
        .unwrap();
    assert_eq!(longest.description.unwrap().as_str().len(), 10_000);
}

#[tokio::test]
async fn an_unknown_currency_is_named_and_the_amount_still_checked() {
    let create = create_product(Arc::new(MemoryProducts::default()));
    let with = |amount: &str, currency: &str| CreateProductCommand {
        price: PriceInput {
            amount: amount.into(),
            currency: currency.into(),
        },
        ..mug()
    };
    let errors = validation(create.execute(&admin(), with("9.50", "eur")).await);
    assert_eq!(fields(&errors), ["price.currency"]);
    let errors = validation(create.execute(&admin(), with("-1", "XXX")).await);
    assert_eq!(fields(&errors), ["price.amount", "price.currency"]);
    // Three decimals fit some currency: only the currency is wrong.
    let errors = validation(create.execute(&admin(), with("1.234", "XXX")).await);
    assert_eq!(fields(&errors), ["price.currency"]);
    let errors = validation(create.execute(&admin(), with("1.234", "EUR")).await);
    assert_eq!(fields(&errors), ["price.amount"]);
    let jpy = create.execute(&admin(), with("1500", "JPY")).await.unwrap();
    assert_eq!(
        (jpy.price.minor(), jpy.price.currency().code()),
        (1500, "JPY")
    );
}

#[tokio::test]
async fn a_taken_sku_is_a_conflict_on_the_sku() {
    let create = create_product(Arc::new(MemoryProducts::default()));
    create.execute(&admin(), mug()).await.unwrap();
    match create.execute(&admin(), mug()).await {
        Err(AppError::Conflict { field, message }) => {
            assert_eq!(field, Some("sku"));
            assert_eq!(message, "sku is already taken");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_update_changes_the_named_fields_and_answers_the_product_with_its_images() {
    let (repo, p) = stored_mug().await;
    let image = repo.add_image(p.id);
    let view = update_product(repo.clone(), repo.clone())
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                name: Some("Red Mug".into()),
                description: Some(None),
                price: Some(PriceInput {
                    amount: "12".into(),
                    currency: "USD".into(),
                }),
                ..UpdateProductCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(view.images, vec![image]);
    assert_eq!(view.product.name.as_str(), "Red Mug");
    assert_eq!(view.product.description, None);
    assert_eq!(view.product.price.amount_string(), "12.00");
    assert_eq!(view.product.price.currency().code(), "USD");
    assert_eq!(view.product.sku.as_str(), "MUG-1");
    assert_eq!(view.product.stock.get(), 3);
    assert_eq!(repo.items.lock().unwrap()[0], view.product);

    let errors = validation(
        update_product(repo.clone(), repo.clone())
            .execute(
                &admin(),
                p.id,
                UpdateProductCommand {
                    sku: Some("a b".into()),
                    name: Some(String::new()),
                    description: Some(Some("\u{0}".into())),
                    price: Some(PriceInput {
                        amount: "x".into(),
                        currency: "EUR".into(),
                    }),
                    stock: Some(-1),
                },
            )
            .await,
    );
    assert_eq!(
        fields(&errors),
        ["sku", "name", "description", "price.amount", "stock"]
    );
    assert!(matches!(
        update_product(repo.clone(), repo)
            .execute(&admin(), ProductId::new(), UpdateProductCommand::default())
            .await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn deleting_a_product_without_images_needs_no_file_store() {
    let repo = Arc::new(MemoryProducts::default());
    let store = Arc::new(MemoryStore::default());
    let p = repo.add_sample("A-1");
    store.set_down(true);
    let delete = delete_product(repo.clone(), repo.clone(), store.clone());
    delete.execute(&admin(), p).await.unwrap();
    assert!(repo.items.lock().unwrap().is_empty());
    assert_eq!(store.deletes(), 0);
    assert!(matches!(
        delete.execute(&admin(), p).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn a_product_is_read_with_its_images_or_not_found() {
    let repo = Arc::new(MemoryProducts::default());
    let p = repo.add_sample("A-1");
    let image = repo.add_image(p);
    let view = get_product(repo.clone()).execute(p).await.unwrap();
    assert_eq!(view.product.id, p);
    assert_eq!(view.images, vec![image]);
    assert!(matches!(
        get_product(repo).execute(ProductId::new()).await,
        Err(AppError::NotFound)
    ));
}

/// A catalog that records the searches it is asked.
#[derive(Default)]
struct SearchSpy {
    searches: Mutex<Vec<Option<String>>>,
}

#[async_trait]
impl ProductReadModel for SearchSpy {
    async fn get(&self, _: ProductId) -> Result<Option<ProductView>, RepositoryError> {
        Ok(None)
    }

    async fn list(
        &self,
        page: PageRequest,
        search: Option<&str>,
    ) -> Result<Page<ProductView>, RepositoryError> {
        self.searches
            .lock()
            .unwrap()
            .push(search.map(str::to_owned));
        Ok(Page {
            items: vec![ProductView {
                product: product("A-1", "1", 1),
                images: Vec::new(),
            }],
            request: page,
            total: 1,
        })
    }
}

#[tokio::test]
async fn the_catalog_gets_the_search_as_typed_and_its_page_is_answered_whole() {
    // Trimming, case folding and unmatchable text are the adapter's rules, next to the column
    // they match (tested there and in the repository conformance suite).
    let spy = Arc::new(SearchSpy::default());
    let list = list_products(spy.clone());
    let page = PageRequest::new(2, 10).unwrap();
    for search in [Some("  Blue MUG "), None] {
        let answer = list.execute(page, search).await.unwrap();
        assert_eq!((answer.total, answer.request), (1, page));
        assert_eq!(answer.items[0].product.sku.as_str(), "A-1");
    }
    assert_eq!(
        spy.searches.lock().unwrap().clone(),
        [Some("  Blue MUG ".to_owned()), None]
    );
}
