//! The pages, as maud templates: checked and escaped at compile time.

use application::ports::ProductView;
use domain::ProductStatus;
use maud::{DOCTYPE, Markup, html};

/// The stylesheet's address; its name changes with the crate version, so it may be cached long.
pub const STYLESHEET: &str = concat!(
    "/admin/static/dashboard-",
    env!("CARGO_PKG_VERSION"),
    ".css"
);

/// Which page of the navigation is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Products,
    None,
}

fn layout(title: &str, nav: Option<(Nav, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · shop admin" }
                link rel="stylesheet" href=(STYLESHEET);
            }
            body {
                header.bar {
                    span.brand { "shop admin" }
                    @if let Some((current, csrf)) = nav {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/admin" aria-current=[(current == Nav::Overview).then_some("page")] { "Overview" } }
                                li { a href="/admin/products" aria-current=[(current == Nav::Products).then_some("page")] { "Products" } }
                            }
                        }
                        form method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in form, with `error` above it when the last try failed.
pub fn login(csrf: &str, error: Option<&str>, username: &str) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.stack method="post" action="/admin/login" {
                input type="hidden" name="csrf" value=(csrf);
                div {
                    label for="username" { "E-mail or username" }
                    input #username type="text" name="username" value=(username) autocomplete="username" required;
                }
                div {
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                }
                div { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// The counts the owner looks at first.
pub struct OverviewCounts {
    pub awaiting_payment: u64,
    pub awaiting_shipping: u64,
    pub out_of_stock: u64,
}

fn count(n: u64, estimate: bool) -> String {
    if estimate {
        format!("{n}+")
    } else {
        n.to_string()
    }
}

/// `/admin`.
pub fn overview(csrf: &str, c: &OverviewCounts) -> Markup {
    layout(
        "Overview",
        Some((Nav::Overview, csrf)),
        html! {
            h1 { "Overview" }
            ul.cards {
                li.card { span.n { (count(c.awaiting_payment, false)) } "Orders waiting for payment" }
                li.card { span.n { (count(c.awaiting_shipping, false)) } "Orders waiting for shipping" }
                li.card { span.n { (count(c.out_of_stock, false)) } a href="/admin/products?stock=out" { "Products out of stock" } }
            }
        },
    )
}

/// One page of `/admin/products`.
pub fn products(
    csrf: &str,
    search: &str,
    out_of_stock: bool,
    status: Option<ProductStatus>,
    items: &[ProductView],
    total: (u64, bool),
    next: Option<&str>,
) -> Markup {
    layout(
        "Products",
        Some((Nav::Products, csrf)),
        html! {
            h1 { "Products" }
            form.search method="get" action="/admin/products" role="search" {
                div {
                    label for="q" { "Search" }
                    input #q type="search" name="q" value=(search);
                }
                div.narrow {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" selected[status.is_none()] { "Any" }
                        @for s in [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived] {
                            option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                        }
                    }
                }
                @if out_of_stock { input type="hidden" name="stock" value="out"; }
                button type="submit" { "Search" }
            }
            p.muted { (count(total.0, total.1)) " products" @if out_of_stock { " out of stock" } }
            @if items.is_empty() {
                p { "No products match." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Status" }
                        th.num scope="col" { "Price" }
                        th.num scope="col" { "Stock" }
                        th.hide-narrow scope="col" { "SKU" }
                    } }
                    tbody {
                        @for v in items {
                            tr {
                                td { (v.product.name.as_str()) }
                                td.nowrap { (v.product.status.as_str()) }
                                td.num { (v.product.price().to_string()) }
                                td.num { (v.product.stock()) }
                                td.hide-narrow { (v.product.sku().as_str()) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                nav.pager aria-label="Pages" {
                    a.button href=(next) { "Next page" }
                }
            }
        },
    )
}

/// An error page: `title` and what to do about it, with a way back.
pub fn error(title: &str, detail: &str, signed_in_csrf: Option<&str>) -> Markup {
    layout(
        title,
        signed_in_csrf.map(|c| (Nav::None, c)),
        html! {
            h1 { (title) }
            p.error role="alert" { (detail) }
            p { a href="/admin" { "Back to the dashboard" } }
        },
    )
}
