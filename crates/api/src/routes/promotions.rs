//! Promotions (admin): discount codes that checkout applies to carts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::PromotionId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreatePromotionRequest, PromotionPage, PromotionResponse, UpdatePromotionRequest,
};
use crate::error::ApiError;
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;
use crate::routes::crud::admin_crud;

admin_crud! {
    service: promotions, id: PromotionId, path: "/api/v1/promotions", tag: "promotions",
    one: "promotion", One: "Promotion", many: "promotions",
    conflict: "Another promotion has the code (in any case)",

    /// Create a promotion
    ///
    /// Makes a discount code (admin): a `percentage` of the subtotal or a `fixed` amount in
    /// `currency` (on carts in that currency only), with an optional minimum subtotal, start
    /// (inclusive) and end (exclusive), limit of uses in all and per customer. `active` defaults
    /// to true. The answer carries `times_used`, 0 until checkouts use it. Codes compare
    /// case-insensitively: one that another promotion has, in any case, is 409 on `code`.
    create "create_promotion" (CreatePromotionRequest, example = create_promotion)
        => "Created" (PromotionResponse, example = promotion),
        location: "The promotion's URL", link: "The promotion",
        invalid: "Invalid fields (a value out of range for its kind, a currency missing for `fixed` or given for `percentage`, an end not after the start); `errors` names each";

    /// List promotions
    ///
    /// Every promotion, newest first, a page at a time (admin).
    list "list_promotions" (PromotionPage, example = promotion_page), cursor of: "another list";

    /// Get a promotion
    ///
    /// One promotion (admin), with `times_used`.
    get "get_promotion" (PromotionResponse, example = promotion);

    /// Update a promotion
    ///
    /// Changes any subset of a promotion's fields (admin); absent fields stay and `null` clears
    /// an optional one. `kind`, `value` and `currency` are checked together, each the stored one
    /// when absent; a promotion turned into a `percentage` drops its currency. `times_used` is
    /// not changed.
    update "update_promotion" (UpdatePromotionRequest, example = {"active": false});

    /// Delete a promotion
    ///
    /// Removes a promotion (admin); its code applies to no cart from then on.
    delete "delete_promotion";
}
