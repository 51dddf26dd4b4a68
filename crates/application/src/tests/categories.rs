//! The category tree's use cases: who may change it, slugs, moves, removal, reads.

use std::sync::Arc;

use domain::{CategoryId, Role, Slug};

use super::*;
use crate::AppError;
use crate::catalog::{
    CreateCategory, CreateCategoryCommand, DeleteCategory, GetCategory, ListCategories,
    UpdateCategory, UpdateCategoryCommand,
};
use crate::ports::Lookup;
use crate::testing::{MemoryCategories, actor};

fn admin() -> crate::Actor {
    actor(&[Role::Admin])
}

fn create(tree: &Arc<MemoryCategories>) -> CreateCategory {
    CreateCategory {
        categories: tree.clone(),
        clock: clock(),
    }
}

fn update(tree: &Arc<MemoryCategories>) -> UpdateCategory {
    UpdateCategory {
        categories: tree.clone(),
        reads: tree.clone(),
        clock: clock(),
    }
}

fn named(name: &str) -> CreateCategoryCommand {
    CreateCategoryCommand {
        name: name.into(),
        ..CreateCategoryCommand::default()
    }
}

#[tokio::test]
async fn a_created_category_holds_what_was_sent_with_a_slug_from_its_name() {
    let tree = Arc::new(MemoryCategories::default());
    let top = create(&tree)
        .execute(&admin(), named(" Blue Mug! "))
        .await
        .unwrap();
    assert_eq!(top.category.name.as_str(), "Blue Mug!");
    assert_eq!(top.category.slug.as_str(), "blue-mug");
    assert_eq!(top.category.position.get(), 0);
    assert_eq!(top.category.description, None);
    assert_eq!(top.category.parent_id, None);
    assert_eq!(
        (top.category.created_at, top.category.updated_at),
        (now(), now())
    );
    assert_eq!(top.product_count, 0);
    let below = create(&tree)
        .execute(
            &admin(),
            CreateCategoryCommand {
                name: "Blue mug".into(),
                parent_id: Some(top.category.id.as_uuid()),
                description: Some("Tall ones".into()),
                position: Some(7),
                slug: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(below.category.slug.as_str(), "blue-mug-2");
    assert_eq!(below.category.parent_id, Some(top.category.id));
    assert_eq!(below.category.position.get(), 7);
    assert_eq!(
        below.category.description.as_ref().map(|d| d.as_str()),
        Some("Tall ones")
    );
    let blank = create(&tree)
        .execute(
            &admin(),
            CreateCategoryCommand {
                description: Some("  ".into()),
                slug: Some("given".into()),
                ..named("Other")
            },
        )
        .await
        .unwrap();
    assert_eq!(blank.category.description, None);
    assert_eq!(blank.category.slug.as_str(), "given");
    assert_eq!(tree.items.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_given_slug_that_is_taken_is_a_conflict_and_bad_fields_are_listed() {
    let tree = Arc::new(MemoryCategories::default());
    create(&tree)
        .execute(&admin(), named("Mugs"))
        .await
        .unwrap();
    match create(&tree)
        .execute(
            &admin(),
            CreateCategoryCommand {
                slug: Some("mugs".into()),
                ..named("Other")
            },
        )
        .await
    {
        Err(AppError::Conflict { field, .. }) => assert_eq!(field, Some("slug")),
        other => panic!("{other:?}"),
    }
    let errors = validation(
        create(&tree)
            .execute(
                &admin(),
                CreateCategoryCommand {
                    name: " ".into(),
                    slug: Some("Mugs".into()),
                    parent_id: None,
                    description: Some("\u{0}".into()),
                    position: Some(-1),
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["name", "slug", "description", "position"]);
    let errors = validation(
        create(&tree)
            .execute(
                &admin(),
                CreateCategoryCommand {
                    parent_id: Some(uuid::Uuid::now_v7()),
                    ..named("Orphan")
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["parent_id"]);
    assert_eq!(tree.items.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn only_admins_change_the_tree() {
    let tree = Arc::new(MemoryCategories::default());
    let c = tree.add("Mugs", None);
    let user = actor(&[Role::User]);
    assert!(matches!(
        create(&tree).execute(&user, named("X")).await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        update(&tree)
            .execute(&user, c.id, UpdateCategoryCommand::default())
            .await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        DeleteCategory {
            categories: tree.clone()
        }
        .execute(&user, c.id)
        .await,
        Err(AppError::Forbidden)
    ));
    assert_eq!(tree.items.lock().unwrap().clone(), vec![c]);
}

#[tokio::test]
async fn an_update_changes_the_named_fields_and_a_move_below_itself_is_refused() {
    let tree = Arc::new(MemoryCategories::default());
    let a = tree.add("A", None);
    let b = tree.add("B", Some(a.id));
    let changed = update(&tree)
        .execute(
            &admin(),
            b.id,
            UpdateCategoryCommand {
                name: Some(" Bee ".into()),
                slug: Some("bee".into()),
                parent_id: Some(None),
                description: Some(Some("About".into())),
                position: Some(4),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.category.name.as_str(), "Bee");
    assert_eq!(changed.category.slug.as_str(), "bee");
    assert_eq!(changed.category.parent_id, None);
    assert_eq!(changed.category.position.get(), 4);
    assert_eq!(
        changed.category.description.as_ref().map(|d| d.as_str()),
        Some("About")
    );
    let kept = update(&tree)
        .execute(&admin(), b.id, UpdateCategoryCommand::default())
        .await
        .unwrap();
    assert_eq!(kept.category.slug.as_str(), "bee");
    let refused: [(UpdateCategoryCommand, &[&str]); 2] = [
        (
            UpdateCategoryCommand {
                parent_id: Some(Some(a.id.as_uuid())),
                ..UpdateCategoryCommand::default()
            },
            &["parent_id"],
        ),
        (
            UpdateCategoryCommand {
                name: Some(String::new()),
                slug: Some(String::new()),
                description: Some(Some("\u{1}".into())),
                position: Some(1_000_001),
                parent_id: None,
            },
            &["name", "slug", "description", "position"],
        ),
    ];
    for (cmd, expected) in refused {
        let errors = validation(update(&tree).execute(&admin(), a.id, cmd).await);
        assert_eq!(fields(&errors), expected);
    }
    assert!(matches!(
        update(&tree)
            .execute(
                &admin(),
                CategoryId::new(),
                UpdateCategoryCommand::default()
            )
            .await,
        Err(AppError::NotFound)
    ));
    let cleared = update(&tree)
        .execute(
            &admin(),
            b.id,
            UpdateCategoryCommand {
                description: Some(None),
                ..UpdateCategoryCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.category.description, None);
}

#[tokio::test]
async fn a_category_with_children_stays_and_reads_find_by_id_or_slug() {
    let tree = Arc::new(MemoryCategories::default());
    let a = tree.add("A", None);
    let b = tree.add("B", Some(a.id));
    let delete = DeleteCategory {
        categories: tree.clone(),
    };
    assert!(matches!(
        delete.execute(&admin(), a.id).await,
        Err(AppError::Conflict { field: None, .. })
    ));
    let get = GetCategory {
        reads: tree.clone(),
    };
    assert_eq!(get.execute(&Lookup::Id(b.id)).await.unwrap().category, b);
    assert_eq!(
        get.execute(&Lookup::Slug(Slug::parse("a").unwrap()))
            .await
            .unwrap()
            .category,
        a
    );
    let all = ListCategories {
        reads: tree.clone(),
    }
    .execute()
    .await
    .unwrap();
    assert_eq!(all.len(), 2);
    delete.execute(&admin(), b.id).await.unwrap();
    assert!(matches!(
        delete.execute(&admin(), b.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        get.execute(&Lookup::Id(b.id)).await,
        Err(AppError::NotFound)
    ));
    delete.execute(&admin(), a.id).await.unwrap();
    assert!(tree.items.lock().unwrap().is_empty());
}
