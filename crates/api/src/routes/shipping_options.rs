//! Shipping options (admin): where carts may ship, at what price, free over a threshold.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::ShippingOptionId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreateShippingOptionRequest, ShippingOptionPage, ShippingOptionResponse,
    UpdateShippingOptionRequest,
};
use crate::error::ApiError;
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;
use crate::routes::crud::admin_crud;

admin_crud! {
    service: shipping_options, id: ShippingOptionId, path: "/api/v1/shipping-options", tag: "shipping",
    one: "shipping option", One: "Shipping option", many: "shipping options",

    /// Create a shipping option
    ///
    /// Makes a way to ship (admin): its `name` (names need not be unique), the `countries` it
    /// ships to, its `price` before tax, and optionally `free_over`, the subtotal after discount
    /// from which it is free (in the price's currency). `active` defaults to true.
    create "create_shipping_option" (CreateShippingOptionRequest, example = create_shipping_option)
        => "Created" (ShippingOptionResponse, example = shipping_option),
        location: "The option's URL", link: "The option",
        invalid: "Invalid fields (a country twice, a threshold in another currency than the price); `errors` names each";

    /// List shipping options
    ///
    /// Every shipping option, newest first, a page at a time (admin).
    list "list_shipping_options" (ShippingOptionPage, example = shipping_option_page), cursor of: "another list";

    /// Get a shipping option
    ///
    /// One shipping option (admin).
    get "get_shipping_option" (ShippingOptionResponse, example = shipping_option);

    /// Update a shipping option
    ///
    /// Changes any subset of a shipping option's fields (admin); absent fields stay and
    /// `free_over: null` clears the threshold. `countries` replaces the whole list. A price in
    /// another currency than the stored threshold needs a new threshold (or `null`).
    update "update_shipping_option" (UpdateShippingOptionRequest, example = {"active": false});

    /// Delete a shipping option
    ///
    /// Removes a shipping option (admin); carts can no longer choose it.
    delete "delete_shipping_option";
}
