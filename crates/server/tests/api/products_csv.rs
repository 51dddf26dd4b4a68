//! `shop import-products` and `shop export-products`, run as the real binary against the
//! app's database: Shopify's product CSV in, the same CSV out, and refused rows reported by
//! their numbers while the others are imported.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::paths::PRODUCTS;
use crate::helpers::{TestApp, fetch_json};

/// A file in Shopify's sample shape, written by hand: a product of three variants over two
/// options with an HTML description, one of the lone `Title`/`Default Title` variant with
/// quotes and a comma in its name, and a draft.
const FIXTURE: &str = include_str!("../fixtures/shopify_products.csv");

/// Runs `shop ARGS` with `app`'s database, standard output and error captured.
fn shop(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(args)
        .current_dir(&app.settings.data_dir)
        .env("DATABASE_URL", app.settings.database_url.expose())
        .env("DATA_DIR", &app.settings.data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run shop")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(app: &TestApp, name: &str, content: &str) -> String {
    let path = app.settings.data_dir.join(name);
    std::fs::write(&path, content).expect("cannot write the CSV");
    path_str(&path)
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("a UTF-8 path").to_owned()
}

async fn fixture_round_trips_through_import_and_export(app: TestApp) {
    let file = write(&app, "products.csv", FIXTURE);
    let out = shop(&app, &["import-products", &file]);
    assert!(out.status.success(), "import failed: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "created 3, updated 0, unchanged 0, refused 0 rows\n"
    );
    // Not a terminal: plain progress lines.
    assert!(
        text(&out.stderr).contains("imported 5/5"),
        "{}",
        text(&out.stderr)
    );

    let out = shop(&app, &["export-products"]);
    assert!(out.status.success(), "export failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), FIXTURE);

    // The API shows what was imported: exact prices, the description as plain text.
    let shirt = fetch_json(
        &app.client,
        &app.url(&format!("{PRODUCTS}/example-t-shirt")),
    )
    .await;
    assert_eq!(shirt["name"], "Example T-Shirt");
    assert_eq!(
        shirt["description"],
        "Organic cotton, & screen printed.\nMachine wash at 30 °C."
    );
    assert_eq!(shirt["variants"].as_array().map(Vec::len), Some(3));

    // The same file again finds each product by its handle, and writes nothing.
    let out = shop(&app, &["import-products", &file]);
    assert!(
        out.status.success(),
        "re-import failed: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "created 0, updated 0, unchanged 3, refused 0 rows\n"
    );

    // A changed file updates by handle, keeping variants by SKU.
    let changed = FIXTURE.replace("TS-L-WHT,21.50,,7", "TS-L-WHT,22.00,,8");
    assert_ne!(changed, FIXTURE);
    let file = write(&app, "changed.csv", &changed);
    let out = shop(&app, &["import-products", &file]);
    assert!(out.status.success(), "update failed: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "created 0, updated 1, unchanged 2, refused 0 rows\n"
    );
    let out = shop(&app, &["export-products"]);
    assert_eq!(text(&out.stdout), changed);
}

async fn a_row_with_a_bad_price_is_reported_and_the_others_imported(app: TestApp) {
    let csv = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty\n\
               mug,Mug,Title,Default Title,MUG-1,9.50,3\n\
               cup,Cup,Title,Default Title,CUP-1,4.999,3\n\
               bowl,Bowl,Title,Default Title,BOWL-1,12,1\n";
    let file = write(&app, "bad.csv", csv);
    let out = shop(&app, &["import-products", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "created 2, updated 0, unchanged 0, refused 1 rows\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "row 3: Variant Price: must be a decimal string with at most 2 digits after the point, such as 19.99\n"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("row 2:") && !stderr.contains("row 4:"),
        "{stderr}"
    );

    let out = shop(&app, &["export-products"]);
    let exported = text(&out.stdout);
    let handles: Vec<&str> = exported
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(handles, ["mug", "bowl"]);
    assert!(exported.contains(",MUG-1,9.50,,3,"), "{exported}");
    assert!(exported.contains(",BOWL-1,12.00,,1,"), "{exported}");
}

both_dbs!(
    fixture_round_trips_through_import_and_export,
    a_row_with_a_bad_price_is_reported_and_the_others_imported,
);
