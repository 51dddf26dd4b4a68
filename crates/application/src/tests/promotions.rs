//! The admin's promotions: only admins; defaults; a change checked with the stored fields it
//! leaves; `times_used` never written by a change.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::{
    Page, PageRequest, PromotionId, PromotionRecord, PromotionRepository, RepositoryError, Role,
};

use super::{assert_admin_only, fields, validation};
use crate::AppError;
use crate::checkout::{CreatePromotionCommand, Promotions, UpdatePromotionCommand};
use crate::testing::{FixedClock, actor};

/// Promotions in memory; codes unique by their upper case, as the tables keep them.
#[derive(Default)]
struct MemoryPromotions {
    rows: Mutex<Vec<PromotionRecord>>,
    /// What a checkout would have counted meanwhile: added to `times_used` on each update.
    uses_meanwhile: u32,
}

impl MemoryPromotions {
    fn taken(&self, r: &PromotionRecord) -> bool {
        let key = r.promotion.code().key();
        self.rows
            .lock()
            .unwrap()
            .iter()
            .any(|o| o.id != r.id && o.promotion.code().key() == key)
    }
}

#[async_trait]
impl PromotionRepository for MemoryPromotions {
    async fn insert(&self, r: &PromotionRecord) -> Result<(), RepositoryError> {
        if self.taken(r) {
            return Err(RepositoryError::Conflict("code"));
        }
        self.rows.lock().unwrap().push(r.clone());
        Ok(())
    }

    async fn get(&self, id: PromotionId) -> Result<Option<PromotionRecord>, RepositoryError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.id == id)
            .cloned())
    }

    async fn list(&self, page: PageRequest) -> Result<Page<PromotionRecord>, RepositoryError> {
        let items: Vec<_> = self.rows.lock().unwrap().iter().rev().cloned().collect();
        let total = items.len() as u64;
        Ok(Page {
            items,
            request: page,
            total,
            next: None,
            total_is_estimate: false,
        })
    }

    async fn update(
        &self,
        r: &PromotionRecord,
    ) -> Result<Option<PromotionRecord>, RepositoryError> {
        if self.taken(r) {
            return Err(RepositoryError::Conflict("code"));
        }
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|o| o.id == r.id) else {
            return Ok(None);
        };
        let used = row.promotion.times_used() + self.uses_meanwhile;
        let mut stored = r.clone();
        stored.promotion = domain::Promotion::new(r.promotion.rules(), used).unwrap();
        stored.created_at = row.created_at;
        *row = stored.clone();
        Ok(Some(stored))
    }

    async fn delete(&self, id: PromotionId) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| r.id != id);
        Ok(rows.len() < before)
    }
}

fn promotions(repo: Arc<MemoryPromotions>) -> Promotions {
    Promotions {
        promotions: repo,
        clock: Arc::new(FixedClock),
    }
}

fn percent(code: &str, value: &str) -> CreatePromotionCommand {
    CreatePromotionCommand {
        code: code.to_owned(),
        kind: "percentage".to_owned(),
        value: value.to_owned(),
        currency: None,
        min_subtotal: None,
        starts_at: None,
        ends_at: None,
        usage_limit: None,
        per_customer_limit: None,
        active: None,
    }
}

#[tokio::test]
async fn only_admins_manage_promotions_and_nothing_is_read_or_written_for_others() {
    let repo = Arc::new(MemoryPromotions::default());
    let uc = promotions(repo.clone());
    let admin = actor(&[Role::Admin]);
    let made = uc.create(&admin, percent("TEN", "10")).await.unwrap();
    for who in [actor(&[Role::User]), actor(&[])] {
        let change = UpdatePromotionCommand {
            active: Some(false),
            ..Default::default()
        };
        assert_admin_only!(uc, &who, create: percent("X", "1"), id: made.id, update: change);
    }
    assert_eq!(repo.rows.lock().unwrap().clone(), vec![made]);
}

#[tokio::test]
async fn a_new_promotion_is_active_unused_and_its_moments_are_kept_to_the_microsecond() {
    let uc = promotions(Arc::new(MemoryPromotions::default()));
    let mut cmd = percent("TEN", "10");
    cmd.starts_at = Some("2026-06-01T02:00:00.1234567+02:00".to_owned());
    let made = uc.create(&actor(&[Role::Admin]), cmd).await.unwrap();
    let p = &made.promotion;
    assert!(p.active());
    assert_eq!(p.times_used(), 0);
    assert_eq!(
        p.starts_at().unwrap().to_rfc3339(),
        "2026-06-01T00:00:00.123456+00:00"
    );
    assert_eq!(made.created_at, made.updated_at);
}

#[tokio::test]
async fn a_change_is_checked_with_the_stored_fields_it_leaves() {
    let uc = promotions(Arc::new(MemoryPromotions::default()));
    let admin = actor(&[Role::Admin]);
    let made = uc.create(&admin, percent("TEN", "10")).await.unwrap();
    // A percentage becomes fixed only with a currency; its value is read in that currency.
    let to_fixed = UpdatePromotionCommand {
        kind: Some("fixed".to_owned()),
        ..Default::default()
    };
    let errors = validation(uc.update(&admin, made.id, to_fixed).await);
    assert_eq!(fields(&errors), ["currency"]);
    let to_fixed = UpdatePromotionCommand {
        kind: Some("fixed".to_owned()),
        currency: Some(Some("JPY".to_owned())),
        value: Some("500".to_owned()),
        ..Default::default()
    };
    let fixed = uc.update(&admin, made.id, to_fixed).await.unwrap();
    assert_eq!(fixed.promotion.discount().value_string(), "500");
    // A fixed one's value alone changes in its stored currency.
    let dearer = UpdatePromotionCommand {
        value: Some("800".to_owned()),
        ..Default::default()
    };
    let dearer = uc.update(&admin, made.id, dearer).await.unwrap();
    assert_eq!(dearer.promotion.discount().value_string(), "800");
    assert_eq!(
        dearer.promotion.discount().currency().map(|c| c.code()),
        Some("JPY")
    );
    // Back to a percentage: the currency goes with the kind unless one is sent.
    let back = UpdatePromotionCommand {
        kind: Some("percentage".to_owned()),
        value: Some("5".to_owned()),
        ..Default::default()
    };
    let back = uc.update(&admin, made.id, back).await.unwrap();
    assert_eq!(back.promotion.discount().currency(), None);
    let with_currency = UpdatePromotionCommand {
        currency: Some(Some("EUR".to_owned())),
        ..Default::default()
    };
    let errors = validation(uc.update(&admin, made.id, with_currency).await);
    assert_eq!(fields(&errors), ["currency"]);
    // An end before the stored start.
    let start = UpdatePromotionCommand {
        starts_at: Some(Some("2026-06-02T00:00:00Z".to_owned())),
        ..Default::default()
    };
    uc.update(&admin, made.id, start).await.unwrap();
    let end = UpdatePromotionCommand {
        ends_at: Some(Some("2026-06-01T00:00:00Z".to_owned())),
        ..Default::default()
    };
    let errors = validation(uc.update(&admin, made.id, end).await);
    assert_eq!(fields(&errors), ["ends_at"]);
}

#[tokio::test]
async fn a_change_answers_the_uses_the_store_counted_and_unknown_ids_are_not_found() {
    let repo = Arc::new(MemoryPromotions {
        uses_meanwhile: 3,
        ..Default::default()
    });
    let uc = promotions(repo);
    let admin = actor(&[Role::Admin]);
    let made = uc.create(&admin, percent("TEN", "10")).await.unwrap();
    let off = UpdatePromotionCommand {
        active: Some(false),
        ..Default::default()
    };
    let changed = uc.update(&admin, made.id, off.clone()).await.unwrap();
    assert_eq!(changed.promotion.times_used(), 3);
    assert!(!changed.promotion.active());
    let nobody = PromotionId::new();
    assert!(matches!(
        uc.get(&admin, nobody).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        uc.update(&admin, nobody, off).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        uc.delete(&admin, nobody).await,
        Err(AppError::NotFound)
    ));
    uc.delete(&admin, made.id).await.unwrap();
    assert!(matches!(
        uc.get(&admin, made.id).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn a_code_taken_in_another_case_is_a_conflict_on_code() {
    let uc = promotions(Arc::new(MemoryPromotions::default()));
    let admin = actor(&[Role::Admin]);
    uc.create(&admin, percent("Summer", "10")).await.unwrap();
    match uc.create(&admin, percent("SUMMER", "10")).await {
        Err(AppError::Conflict { field, .. }) => assert_eq!(field, Some("code")),
        other => panic!("expected a conflict, got {other:?}"),
    }
}
