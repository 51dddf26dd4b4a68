//! The pages, as maud templates: checked and escaped at compile time.

use application::ports::ProductView;
use domain::{Order, OrderId, OrderStatus, PaymentStatus, ProductStatus};
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
    Orders,
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
                                li { a href="/admin/orders" aria-current=[(current == Nav::Orders).then_some("page")] { "Orders" } }
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
                li.card { span.n { (count(c.awaiting_payment, false)) } a href="/admin/orders?status=pending" { "Orders waiting for payment" } }
                li.card { span.n { (count(c.awaiting_shipping, false)) } a href="/admin/orders?status=paid" { "Orders waiting for shipping" } }
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

/// How an order is named in the list and the detail's heading: the last 8 characters of its id
/// (the first ones of a UUID v7 are its time, shared by orders placed close together).
pub fn short_id(id: OrderId) -> String {
    let id = id.to_string();
    id[id.len() - 8..].to_owned()
}

fn placed(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn customer(order: &Order) -> String {
    match &order.details().email {
        Some(email) => email.as_str().to_owned(),
        None if order.user_id() == domain::order::guest_user() => "guest".to_owned(),
        None => format!("account {}", order.user_id()),
    }
}

/// One page of `/admin/orders`, newest first.
pub fn orders(
    csrf: &str,
    status: Option<OrderStatus>,
    items: &[Order],
    total: (u64, bool),
    next: Option<&str>,
) -> Markup {
    layout(
        "Orders",
        Some((Nav::Orders, csrf)),
        html! {
            h1 { "Orders" }
            form.search method="get" action="/admin/orders" {
                div.narrow {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" selected[status.is_none()] { "Any" }
                        @for s in OrderStatus::ALL {
                            option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            p.muted {
                (count(total.0, total.1))
                @if total == (1, false) { " order" } @else { " orders" }
                @if let Some(s) = status { " " (s.as_str()) }
            }
            @if items.is_empty() {
                p { "No orders match." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Order, placed" }
                        th scope="col" { "Status" }
                        th.hide-narrow scope="col" { "Payment" }
                        th.hide-narrow scope="col" { "Customer" }
                        th.num scope="col" { "Total" }
                    } }
                    tbody {
                        @for o in items {
                            tr {
                                td {
                                    a.nowrap href=(format!("/admin/orders/{}", o.id())) { (short_id(o.id())) }
                                    br;
                                    span.muted.nowrap { (o.created_at().format("%Y-%m-%d")) }
                                    " "
                                    span.muted.nowrap { (o.created_at().format("%H:%M UTC")) }
                                }
                                td.nowrap { (o.status().as_str()) }
                                td.hide-narrow { (o.payment_status().as_str()) }
                                td.hide-narrow { (customer(o)) }
                                td.num { (o.total().to_string()) }
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

/// The button that moves an order to `next`.
fn change_label(next: OrderStatus) -> &'static str {
    match next {
        OrderStatus::Pending => "Mark pending",
        OrderStatus::Paid => "Mark paid",
        OrderStatus::Shipped => "Mark shipped",
        OrderStatus::Delivered => "Mark delivered",
        OrderStatus::Cancelled => "Cancel order",
    }
}

/// `/admin/orders/{id}`: the order, the changes it allows, and `message` above it when the
/// last change was refused.
pub fn order(csrf: &str, order: &Order, message: Option<&str>) -> Markup {
    let id = order.id();
    let d = order.details();
    let status = order.status();
    let changes: Vec<OrderStatus> = OrderStatus::ALL
        .into_iter()
        .filter(|next| *next != OrderStatus::Cancelled && status.can_become(*next))
        .collect();
    let cancellable = status.can_become(OrderStatus::Cancelled);
    let refunds = order.payment_status() == PaymentStatus::Paid;
    layout(
        &format!("Order {}", short_id(id)),
        Some((Nav::Orders, csrf)),
        html! {
            p { a href="/admin/orders" { "All orders" } }
            h1 { "Order " (short_id(id)) }
            @if let Some(message) = message {
                p.error role="alert" { (message) }
            }
            dl.facts {
                dt { "Status" } dd #status { (status.as_str()) }
                dt { "Payment" } dd #payment { (order.payment_status().as_str()) }
                dt { "Placed" } dd { (placed(order.created_at())) }
                dt { "Last changed" } dd { (placed(order.updated_at())) }
                dt { "Customer" } dd { (customer(order)) }
                dt { "Id" } dd { code { (id.to_string()) } }
            }
            h2 { "Change" }
            @if changes.is_empty() && !cancellable {
                p.muted { "This order is " (status.as_str()) ": it changes no further." }
            } @else {
                div.actions {
                    @for next in &changes {
                        form method="post" action=(format!("/admin/orders/{id}/status")) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="status" value=(next.as_str());
                            button type="submit" { (change_label(*next)) }
                        }
                    }
                    @if cancellable {
                        form method="post" action=(format!("/admin/orders/{id}/cancel")) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.danger type="submit" {
                                @if refunds { "Cancel and refund" } @else { "Cancel order" }
                            }
                        }
                    }
                }
            }
            h2 { "Lines" }
            table {
                thead { tr {
                    th scope="col" { "Product" }
                    th.num scope="col" { "Qty" }
                    th.num.hide-narrow scope="col" { "Unit price" }
                    th.num scope="col" { "Total" }
                } }
                tbody {
                    @for line in order.lines() {
                        tr {
                            td {
                                (line.name.as_str())
                                br;
                                span.muted { (line.variant_title) " · " (line.sku.as_str()) }
                            }
                            td.num { (line.quantity.get()) }
                            td.num.hide-narrow { (line.unit_price.to_string()) }
                            td.num { (line.line_total.to_string()) }
                        }
                    }
                }
            }
            h2 { "Totals" }
            dl.totals {
                dt { "Subtotal" } dd { (d.subtotal.to_string()) }
                dt { "Discount" @if let Some(code) = &d.discount_code { " (" (code) ")" } }
                dd { (d.discount_total.to_string()) }
                dt { "Shipping" @if let Some(s) = &d.shipping_option { " (" (s.name) ")" } }
                dd { (d.shipping_total.to_string()) }
                dt { "Tax" } dd { (d.tax_total.to_string()) }
                dt.grand { "Total" } dd.grand { (order.total().to_string()) }
            }
            h2 { "Shipping address" }
            @if let Some(a) = order.shipping_address() {
                address {
                    (a.line1) br;
                    @if let Some(line2) = &a.line2 { (line2) br; }
                    (a.postal_code) " " (a.city) br;
                    @if let Some(state) = &a.state { (state) br; }
                    (a.country.as_str())
                }
            } @else {
                p.muted { "None given." }
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
