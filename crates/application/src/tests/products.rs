//! The catalog: exact values written and read, prices, descriptions, and the list's search.

use std::sync::{Arc, Mutex};

use domain::{Page, PageRequest, Product, ProductId, ProductStatus, RepositoryError, Role};

use super::*;
use crate::AppError;
use crate::catalog::{CreateProductCommand, PriceInput, UpdateProductCommand};
use crate::ports::{Lookup, ProductFilter, ProductView};
use crate::testing::{MemoryProducts, MemoryStore, actor};

fn admin() -> crate::Actor {
    actor(&[Role::Admin])
}

fn mug() -> CreateProductCommand {
    CreateProductCommand {
        sku: Some(" MUG-1 ".into()),
        name: " Blue Mug ".into(),
        slug: None,
        status: None,
        description: Some("Holds tea".into()),
        price: Some(PriceInput {
            amount: "9.5".into(),
            currency: "EUR".into(),
        }),
        stock: Some(3),
        category_ids: Vec::new(),
        options: Vec::new(),
        variants: None,
    }
}

/// A product store holding the mug, created through the use case.
async fn stored_mug() -> (Arc<MemoryProducts>, Product) {
    let repo = Arc::new(MemoryProducts::default());
    let p = create_product(repo.clone())
        .execute(&admin(), mug())
        .await
        .unwrap()
        .product;
    (repo, p)
}

/// What an admin's `cmd` creates.
async fn created(create: &CreateProduct, cmd: CreateProductCommand) -> Product {
    create.execute(&admin(), cmd).await.unwrap().product
}

#[tokio::test]
async fn a_created_product_holds_exactly_what_was_sent_and_is_stored() {
    let (repo, p) = stored_mug().await;
    assert_eq!(p.sku().as_str(), "MUG-1");
    assert_eq!(p.name.as_str(), "Blue Mug");
    assert_eq!(
        p.description.as_ref().map(|d| d.as_str()),
        Some("Holds tea")
    );
    assert_eq!(
        (p.price().minor(), p.price().currency().code()),
        (950, "EUR")
    );
    assert_eq!(p.stock(), 3);
    assert_eq!((p.created_at, p.updated_at), (now(), now()));
    assert_eq!(repo.items.lock().unwrap().clone(), vec![p]);
}

#[tokio::test]
async fn a_blank_description_is_none_and_a_long_one_is_refused() {
    let repo = Arc::new(MemoryProducts::default());
    let create = create_product(repo.clone());
    let p = created(
        &create,
        CreateProductCommand {
            description: Some("  \n ".into()),
            ..mug()
        },
    )
    .await;
    assert_eq!(p.description, None);
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    sku: Some("MUG-2".into()),
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
                sku: Some("MUG-3".into()),
                description: Some("x".repeat(10_000)),
                ..mug()
            },
        )
        .await
        .unwrap();
    assert_eq!(longest.product.description.unwrap().as_str().len(), 10_000);
}

#[tokio::test]
async fn an_unknown_currency_is_named_and_the_amount_still_checked() {
    let create = create_product(Arc::new(MemoryProducts::default()));
    let with = |amount: &str, currency: &str| CreateProductCommand {
        price: Some(PriceInput {
            amount: amount.into(),
            currency: currency.into(),
        }),
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
        (
            jpy.product.price().minor(),
            jpy.product.price().currency().code()
        ),
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
    assert_eq!(view.product.price().amount_string(), "12.00");
    assert_eq!(view.product.price().currency().code(), "USD");
    assert_eq!(view.product.sku().as_str(), "MUG-1");
    assert_eq!(view.product.stock(), 3);
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
                    ..UpdateProductCommand::default()
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
    let view = get_product(repo.clone())
        .execute(None, &Lookup::Id(p))
        .await
        .unwrap();
    assert_eq!(view.product.id, p);
    assert_eq!(view.images, vec![image]);
    assert!(matches!(
        get_product(repo)
            .execute(None, &Lookup::Id(ProductId::new()))
            .await,
        Err(AppError::NotFound)
    ));
}

/// A catalog that records the searches it is asked.
#[derive(Default)]
struct SearchSpy {
    searches: Mutex<Vec<Option<String>>>,
    statuses: Mutex<Vec<Option<ProductStatus>>>,
    categories: Mutex<Vec<Option<Vec<domain::CategoryId>>>>,
}

#[async_trait]
impl ProductReadModel for SearchSpy {
    async fn get(&self, _: &Lookup<ProductId>) -> Result<Option<ProductView>, RepositoryError> {
        Ok(None)
    }

    async fn list(
        &self,
        page: PageRequest,
        filter: &ProductFilter,
    ) -> Result<Page<ProductView>, RepositoryError> {
        self.searches.lock().unwrap().push(filter.search.clone());
        self.statuses.lock().unwrap().push(filter.status);
        self.categories
            .lock()
            .unwrap()
            .push(filter.categories.clone());
        Ok(Page {
            items: vec![ProductView {
                product: product("A-1", "1", 1),
                images: Vec::new(),
                categories: Vec::new(),
            }],
            request: page,
            total: 1,
            next: None,
            total_is_estimate: false,
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
        let filter = ProductFilter {
            search: search.map(str::to_owned),
            ..ProductFilter::default()
        };
        let answer = list
            .execute(None, page.clone(), filter, None)
            .await
            .unwrap();
        assert_eq!((answer.total, answer.request), (1, page.clone()));
        assert_eq!(answer.items[0].product.sku().as_str(), "A-1");
    }
    assert_eq!(
        spy.searches.lock().unwrap().clone(),
        [Some("  Blue MUG ".to_owned()), None]
    );
}

#[tokio::test]
async fn only_admins_list_other_statuses_than_active() {
    let spy = Arc::new(SearchSpy::default());
    let list = list_products(spy.clone());
    let page = PageRequest::default();
    let asking = |status| ProductFilter {
        status,
        ..ProductFilter::default()
    };
    let user = actor(&[Role::User]);
    for (who, asked, got) in [
        (None, None, Some(ProductStatus::Active)),
        (
            None,
            Some(ProductStatus::Draft),
            Some(ProductStatus::Active),
        ),
        (
            Some(&user),
            Some(ProductStatus::Archived),
            Some(ProductStatus::Active),
        ),
        (Some(&user), None, Some(ProductStatus::Active)),
    ] {
        list.execute(who, page.clone(), asking(asked), None)
            .await
            .unwrap();
        assert_eq!(spy.statuses.lock().unwrap().pop(), Some(got));
    }
    let admin = admin();
    for asked in [
        None,
        Some(ProductStatus::Draft),
        Some(ProductStatus::Active),
    ] {
        list.execute(Some(&admin), page.clone(), asking(asked), None)
            .await
            .unwrap();
        assert_eq!(spy.statuses.lock().unwrap().pop(), Some(asked));
    }
}

#[tokio::test]
async fn a_product_that_is_not_active_is_found_by_admins_only() {
    let repo = Arc::new(MemoryProducts::default());
    let create = create_product(repo.clone());
    let draft = created(
        &create,
        CreateProductCommand {
            status: Some("draft".into()),
            ..mug()
        },
    )
    .await;
    assert_eq!(draft.status, ProductStatus::Draft);
    let get = get_product(repo.clone());
    let user = actor(&[Role::User]);
    for key in [Lookup::Id(draft.id), Lookup::Slug(draft.slug.clone())] {
        assert!(matches!(
            get.execute(None, &key).await,
            Err(AppError::NotFound)
        ));
        assert!(matches!(
            get.execute(Some(&user), &key).await,
            Err(AppError::NotFound)
        ));
        assert_eq!(
            get.execute(Some(&admin()), &key).await.unwrap().product,
            draft
        );
    }
    let active = repo.add_sample("A-1");
    assert_eq!(
        get.execute(None, &Lookup::Id(active))
            .await
            .unwrap()
            .product
            .id,
        active
    );
}

#[tokio::test]
async fn slugs_are_made_from_names_numbered_on_a_clash_or_taken_as_given() {
    let repo = Arc::new(MemoryProducts::default());
    let create = create_product(repo.clone());
    let with = |sku: &str, slug: Option<&str>| CreateProductCommand {
        sku: Some(sku.into()),
        slug: slug.map(str::to_owned),
        ..mug()
    };
    let slug = |v: crate::ports::ProductView| v.product.slug.as_str().to_owned();
    assert_eq!(
        slug(create.execute(&admin(), with("A-1", None)).await.unwrap()),
        "blue-mug"
    );
    assert_eq!(
        slug(create.execute(&admin(), with("A-2", None)).await.unwrap()),
        "blue-mug-2"
    );
    assert_eq!(
        slug(
            create
                .execute(&admin(), with("A-3", Some("mug")))
                .await
                .unwrap()
        ),
        "mug"
    );
    match create.execute(&admin(), with("A-4", Some("mug"))).await {
        Err(AppError::Conflict { field, .. }) => assert_eq!(field, Some("slug")),
        other => panic!("{other:?}"),
    }
    let errors = validation(create.execute(&admin(), with("A-5", Some(""))).await);
    assert_eq!(fields(&errors), ["slug"]);
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    status: Some(String::new()),
                    category_ids: vec![uuid::Uuid::now_v7()],
                    ..with("A-6", None)
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["status"]);
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    category_ids: vec![uuid::Uuid::now_v7()],
                    ..with("A-7", None)
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["category_ids"]);
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    category_ids: (0..101).map(|_| uuid::Uuid::now_v7()).collect(),
                    ..with("A-8", None)
                },
            )
            .await,
    );
    assert_eq!(errors[0].message, "must hold at most 100 ids");
    // Exactly the limit is not over it: 100 ids (unknown here) are refused as unknown instead.
    let errors = validation(
        create
            .execute(
                &admin(),
                CreateProductCommand {
                    category_ids: (0..100).map(|_| uuid::Uuid::now_v7()).collect(),
                    ..with("A-9", None)
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["category_ids"]);
    assert_ne!(errors[0].message, "must hold at most 100 ids");
}

#[test]
fn a_sort_is_one_of_six_exact_names() {
    for (name, sort) in crate::ports::ProductSort::ALL {
        assert_eq!(crate::ports::ProductSort::parse(name), Ok(sort), "{name}");
    }
    for bad in ["", "Newest", "newest ", "price", "relevance,newest"] {
        assert_eq!(
            crate::ports::ProductSort::parse(bad).unwrap_err().field,
            "sort",
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn a_category_filter_takes_in_the_categories_below_it_and_an_unknown_one_matches_nothing() {
    let spy = Arc::new(SearchSpy::default());
    let tree = Arc::new(crate::testing::MemoryCategories::default());
    let a = tree.add("A", None);
    let b = tree.add("B", Some(a.id));
    let c = tree.add("C", Some(b.id));
    let other = tree.add("Other", None);
    let list = ListProducts {
        catalog: spy.clone(),
        categories: tree,
    };
    let page = PageRequest::default();
    let mut expected = vec![a.id, b.id, c.id];
    expected.sort();
    for key in [Lookup::Id(a.id), Lookup::Slug(a.slug.clone())] {
        list.execute(None, page.clone(), ProductFilter::default(), Some(&key))
            .await
            .unwrap();
        assert_eq!(
            spy.categories.lock().unwrap().pop(),
            Some(Some(expected.clone()))
        );
    }
    list.execute(
        None,
        page.clone(),
        ProductFilter::default(),
        Some(&Lookup::Id(other.id)),
    )
    .await
    .unwrap();
    assert_eq!(
        spy.categories.lock().unwrap().pop(),
        Some(Some(vec![other.id]))
    );
    list.execute(None, page.clone(), ProductFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(spy.categories.lock().unwrap().pop(), Some(None));
    for key in [
        Lookup::Id(domain::CategoryId::new()),
        Lookup::Slug(domain::Slug::parse("nope").unwrap()),
    ] {
        let answer = list
            .execute(None, page.clone(), ProductFilter::default(), Some(&key))
            .await
            .unwrap();
        assert_eq!((answer.total, answer.items.len()), (0, 0));
        assert!(
            spy.categories.lock().unwrap().is_empty(),
            "the catalog is not asked"
        );
    }
}

#[tokio::test]
async fn a_product_is_created_with_its_variants_and_changed_only_as_they_allow() {
    let repo = Arc::new(MemoryProducts::default());
    let variant = |sku: &str, size: &str, compare_at: Option<&str>| crate::catalog::VariantInput {
        id: None,
        sku: sku.into(),
        option_values: vec![("Size".into(), size.into())],
        price: PriceInput {
            amount: "10".into(),
            currency: "EUR".into(),
        },
        compare_at_price: compare_at.map(|amount| PriceInput {
            amount: amount.into(),
            currency: "EUR".into(),
        }),
        stock: 2,
        position: None,
    };
    let one_size = CreateProductCommand {
        sku: None,
        price: None,
        stock: None,
        options: vec![domain::OptionInput {
            name: "Size".into(),
            values: vec!["One".into()],
        }],
        variants: Some(vec![variant("TEE-1", "One", Some("15"))]),
        ..mug()
    };
    let p = created(&create_product(repo.clone()), one_size).await;
    // One variant: it has the product's id and names its option value.
    assert_eq!(p.variants.first().id.as_uuid(), p.id.as_uuid());
    assert_eq!(p.variants.first().title(), "One");
    assert_eq!(p.sku().as_str(), "TEE-1");
    // A price in another currency would leave the struck-through price in the old one.
    let Err(AppError::Validation(errors)) = update_product(repo.clone(), repo.clone())
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                price: Some(PriceInput {
                    amount: "12".into(),
                    currency: "USD".into(),
                }),
                ..UpdateProductCommand::default()
            },
        )
        .await
    else {
        panic!("a currency apart from the struck-through price's was taken");
    };
    assert_eq!(fields(&errors), ["compare_at_price"]);

    // Two variants: the product's own SKU, price and stock name no variant.
    let two_sizes = CreateProductCommand {
        sku: None,
        price: None,
        stock: None,
        options: vec![domain::OptionInput {
            name: "Size".into(),
            values: vec!["S".into(), "M".into()],
        }],
        variants: Some(vec![
            variant("TEE-S", "S", None),
            variant("TEE-M", "M", None),
        ]),
        ..mug()
    };
    let mut two_sizes = two_sizes;
    two_sizes.name = "Two sizes".into();
    let p = created(&create_product(repo.clone()), two_sizes).await;
    assert_ne!(p.variants.first().id.as_uuid(), p.id.as_uuid());
    assert_eq!(p.stock(), 4);
    let Err(AppError::Validation(errors)) = update_product(repo.clone(), repo.clone())
        .execute(
            &admin(),
            p.id,
            UpdateProductCommand {
                stock: Some(1),
                sku: Some("TEE-X".into()),
                ..UpdateProductCommand::default()
            },
        )
        .await
    else {
        panic!("a product of two variants took a stock");
    };
    assert_eq!(fields(&errors), ["sku", "stock"]);
}

#[tokio::test]
async fn options_without_variants_are_refused_on_variants_and_nothing_is_stored() {
    let repo = Arc::new(MemoryProducts::default());
    let cmd = CreateProductCommand {
        options: vec![domain::OptionInput {
            name: "Size".into(),
            values: vec!["S".into(), "M".into()],
        }],
        ..mug()
    };
    let Err(AppError::Validation(errors)) =
        create_product(repo.clone()).execute(&admin(), cmd).await
    else {
        panic!("options without their variants were taken");
    };
    assert_eq!(fields(&errors), ["variants"]);
    assert_eq!(
        errors[0].message,
        "is required with `options`: name the variants they make"
    );
    assert!(repo.items.lock().unwrap().is_empty());
}
