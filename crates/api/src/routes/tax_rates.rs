//! Tax rates (admin): a percent per country, or per state of a country; prices are before tax.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::TaxRateId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{CreateTaxRateRequest, TaxRatePage, TaxRateResponse, UpdateTaxRateRequest};
use crate::error::ApiError;
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;
use crate::routes::crud::admin_crud;

admin_crud! {
    service: tax_rates, id: TaxRateId, path: "/api/v1/tax-rates", tag: "tax",
    one: "tax rate", One: "Tax rate", many: "tax rates",
    conflict: "The country (and state) already has a rate",

    /// Create a tax rate
    ///
    /// Makes the tax of a `country`, or of one `state` of it (admin): `rate` is the percent, a
    /// decimal string (`"19.0"`). Prices are before tax; checkout applies the rate of the shipping
    /// address's country and state, or the country's rate where no rate names the state. One
    /// rate per country and state: states compare case-insensitively, and a country has one rate
    /// without a state (409, naming `state`, or `country` for the rate without one).
    create "create_tax_rate" (CreateTaxRateRequest, example = create_tax_rate)
        => "Created" (TaxRateResponse, example = tax_rate),
        location: "The tax rate's URL", link: "The tax rate",
        invalid: "Invalid fields; `errors` names each";

    /// List tax rates
    ///
    /// Every tax rate, newest first, a page at a time (admin).
    list "list_tax_rates" (TaxRatePage, example = tax_rate_page), cursor of: "another list";

    /// Get a tax rate
    ///
    /// One tax rate (admin).
    get "get_tax_rate" (TaxRateResponse, example = tax_rate);

    /// Update a tax rate
    ///
    /// Changes any subset of a tax rate's fields (admin); absent fields stay and `state: null`
    /// makes it the country's rate. A country and state that another rate has: 409.
    update "update_tax_rate" (UpdateTaxRateRequest, example = {"rate": "7.0"});

    /// Delete a tax rate
    ///
    /// Removes a tax rate (admin); addresses it taxed fall back to the country's rate, or none.
    delete "delete_tax_rate";
}
