//! Product options and variants: the combinations of option values a product is sold in
//! (Size: S, M, L and Color: Red, Blue), each with its own SKU, price, stock and position.
//!
//! Pure rules over value objects. A product's options are parsed once ([`ProductOptions`]);
//! each variant names one value of every option ([`OptionValues`]); a [`VariantSet`] holds
//! 1..=100 variants with no two alike and all prices in one currency, derives what the
//! product shows (`sku`, `price`, `stock`), and adds, changes and removes variants by those
//! rules.
//!
//! Changing a product's options while it has variants is not decided here: the code that
//! integrates these types into the product chooses (refuse it, or take a whole new variant
//! set with the new options) and checks the result with [`VariantSet::new`].

use std::fmt;

use crate::category::Position;
use crate::error::{DomainError, FieldError, Validator};
use crate::ids::VariantId;
use crate::money::{Currency, Money};
use crate::product::{Sku, Stock};

/// Most options a product may have.
pub const MAX_OPTIONS: usize = 3;
/// Most values one option may list.
pub const MAX_OPTION_VALUES: usize = 100;
/// Most variants a product may have (it always has at least one).
pub const MAX_VARIANTS: usize = 100;
/// Longest option name or option value, in characters.
pub const MAX_OPTION_CHARS: usize = 50;

/// The title of the one variant of a product without options (Shopify's convention).
pub const DEFAULT_TITLE: &str = "Default Title";

/// Trims `s` and checks it as an option name or value: 1..=50 characters, no control characters.
fn option_text(field: &str, s: &str) -> Result<String, FieldError> {
    let Some(s) = crate::text::one_line(s) else {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    };
    let len = s.chars().count();
    if len == 0 || len > MAX_OPTION_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {MAX_OPTION_CHARS} characters"),
        ));
    }
    Ok(s.to_owned())
}

/// Whether two option names, or two values of one option, count as the same: `Size` and
/// `size` would read as one option to a customer.
fn same_ignoring_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// `prefix.name`, or `name` alone when there is no prefix.
fn field_at(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The name of an option, such as `Size`: 1..=50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionName(String);

impl OptionName {
    /// Parses a name, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `name` when blank, longer than 50 characters or holding control
    /// characters (anywhere, its ends too); the caller reports it under its own path.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        option_text("name", s).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One value an option lists, such as `M`: 1..=50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionValue(String);

impl OptionValue {
    /// Parses a value, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `value` when blank, longer than 50 characters or holding control
    /// characters (anywhere, its ends too); the caller reports it under its own path.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        option_text("value", s).map(Self)
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One option as a client sends it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionInput {
    /// Its name, e.g. `Size`.
    pub name: String,
    /// Its values, in the order to show them.
    pub values: Vec<String>,
}

/// An option of a product: a name and the 1..=100 values it offers, unique ignoring case,
/// in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOption {
    name: OptionName,
    values: Vec<OptionValue>,
}

impl ProductOption {
    /// Its name.
    pub fn name(&self) -> &OptionName {
        &self.name
    }

    /// Its values, in the order given.
    pub fn values(&self) -> &[OptionValue] {
        &self.values
    }
}

/// A product's options, 0..=3 of them, their names unique ignoring case, in the order given.
/// The default is none: a product sold in one variant only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductOptions(Vec<ProductOption>);

impl ProductOptions {
    /// Parses the whole list of options, reporting every problem at once.
    ///
    /// # Errors
    /// `DomainError::Validation` with, as they apply: `options` when more than 3 are given
    /// (alone: nothing else is checked then); `options[i].name` for a bad name or one that
    /// repeats an earlier option's name ignoring case; `options[i].values` when the option
    /// lists no value or more than 100; `options[i].values[j]` for a bad value or one that
    /// repeats an earlier value of the same option ignoring case.
    pub fn parse(input: &[OptionInput]) -> Result<Self, DomainError> {
        if input.len() > MAX_OPTIONS {
            return Err(FieldError::new(
                "options",
                format!("must hold at most {MAX_OPTIONS} options"),
            )
            .into());
        }
        let mut v = Validator::new();
        let mut options: Vec<ProductOption> = Vec::new();
        let mut names: Vec<OptionName> = Vec::new();
        for (i, raw) in input.iter().enumerate() {
            let field = format!("options[{i}].name");
            let name = match v.check(&field, OptionName::parse(&raw.name)) {
                Some(name)
                    if names
                        .iter()
                        .any(|n| same_ignoring_case(n.as_str(), name.as_str())) =>
                {
                    v.push(FieldError::new(
                        field,
                        format!(
                            "\"{name}\" is already the name of an option; names must differ ignoring case"
                        ),
                    ));
                    None
                }
                name => name,
            };
            if let Some(name) = &name {
                names.push(name.clone());
            }
            let values = parse_values(&mut v, i, &raw.values);
            if let (Some(name), Some(values)) = (name, values) {
                options.push(ProductOption { name, values });
            }
        }
        v.finish()?;
        Ok(Self(options))
    }

    /// The options, in the order given.
    pub fn as_slice(&self) -> &[ProductOption] {
        &self.0
    }
}

/// Parses the values of option `i`; `None` when any is refused (each refusal recorded in `v`).
fn parse_values(v: &mut Validator, i: usize, raw: &[String]) -> Option<Vec<OptionValue>> {
    if raw.is_empty() || raw.len() > MAX_OPTION_VALUES {
        v.push(FieldError::new(
            format!("options[{i}].values"),
            format!("must hold 1 to {MAX_OPTION_VALUES} values"),
        ));
        return None;
    }
    let mut values: Vec<OptionValue> = Vec::new();
    let mut all_good = true;
    for (j, s) in raw.iter().enumerate() {
        let field = format!("options[{i}].values[{j}]");
        match v.check(&field, OptionValue::parse(s)) {
            Some(value)
                if values
                    .iter()
                    .any(|x| same_ignoring_case(x.as_str(), value.as_str())) =>
            {
                v.push(FieldError::new(
                    field,
                    format!(
                        "\"{value}\" is already a value of this option; values must differ ignoring case"
                    ),
                ));
                all_good = false;
            }
            Some(value) => values.push(value),
            None => all_good = false,
        }
    }
    all_good.then_some(values)
}

/// What a variant is: one value of every option of its product, kept in the product's option
/// order, each spelt as the option lists it. Empty for a product without options (the
/// default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OptionValues(Vec<(OptionName, OptionValue)>);

impl OptionValues {
    /// Reads a client's `{option name: value}` map against the product's `options`, recording
    /// every problem in `v` under `field` (e.g. `variants[2].option_values`, or
    /// `option_values`).
    ///
    /// Names and values match exactly once trimmed: case counts (`size` does not name
    /// `Size`), so what a client sends is what the product shows, and the value kept is the
    /// option's own.
    ///
    /// Answers `None` when anything was recorded: a name that is not an option of the
    /// product, an option named twice (two names that trim alike), a value the option does
    /// not list, or an option given no value.
    pub fn parse<I, K, S>(
        v: &mut Validator,
        field: &str,
        options: &ProductOptions,
        given: I,
    ) -> Option<Self>
    where
        I: IntoIterator<Item = (K, S)>,
        K: AsRef<str>,
        S: AsRef<str>,
    {
        let options = options.as_slice();
        let mut seen = vec![false; options.len()];
        let mut chosen: Vec<Option<OptionValue>> = vec![None; options.len()];
        let mut all_good = true;
        for (name, value) in given {
            let (name, value) = (name.as_ref().trim(), value.as_ref().trim());
            let Some(i) = options.iter().position(|o| o.name.as_str() == name) else {
                v.push(FieldError::new(
                    field,
                    format!("\"{name}\" is not an option of this product"),
                ));
                all_good = false;
                continue;
            };
            let option = &options[i];
            if seen[i] {
                v.push(FieldError::new(
                    field,
                    format!("names option \"{}\" twice", option.name),
                ));
                all_good = false;
                continue;
            }
            seen[i] = true;
            match option.values.iter().find(|x| x.as_str() == value) {
                Some(x) => chosen[i] = Some(x.clone()),
                None => {
                    v.push(FieldError::new(
                        field,
                        format!("\"{value}\" is not a value of option \"{}\"", option.name),
                    ));
                    all_good = false;
                }
            }
        }
        for (option, seen) in options.iter().zip(&seen) {
            if !seen {
                v.push(FieldError::new(
                    field,
                    format!("must name a value of option \"{}\"", option.name),
                ));
                all_good = false;
            }
        }
        if !all_good {
            return None;
        }
        let values: Vec<OptionValue> = chosen.into_iter().collect::<Option<_>>()?;
        Some(Self(
            options.iter().map(|o| o.name.clone()).zip(values).collect(),
        ))
    }

    /// Each option's name with the value chosen, in the product's option order.
    pub fn pairs(&self) -> &[(OptionName, OptionValue)] {
        &self.0
    }

    /// The values joined by `" / "` in option order (`"M / Blue"`), or `"Default Title"` when
    /// the product has no options (Shopify's convention).
    pub fn title(&self) -> String {
        if self.0.is_empty() {
            return DEFAULT_TITLE.to_owned();
        }
        self.0
            .iter()
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// Whether these name exactly one listed value of every option of `options`, in order
    /// (they were read against other options otherwise).
    fn fits(&self, options: &ProductOptions) -> bool {
        let options = options.as_slice();
        self.0.len() == options.len()
            && self
                .0
                .iter()
                .zip(options)
                .all(|((name, value), o)| *name == o.name && o.values.contains(value))
    }
}

/// One way a product is sold: a combination of its option values with its own SKU, price and
/// stock. Duplicate SKUs are not checked by the domain: the database's unique index answers
/// them (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Identity.
    pub id: VariantId,
    /// Stock-keeping unit, unique across all variants of all products.
    pub sku: Sku,
    /// The value of every option of the product that this variant is.
    pub option_values: OptionValues,
    /// Unit price, in the product's currency.
    pub price: Money,
    /// The price shown struck through; any amount (above or below `price`), in the product's
    /// currency.
    pub compare_at_price: Option<Money>,
    /// Units on hand.
    pub stock: Stock,
    /// Where it sorts among the product's variants (then by id).
    pub position: Position,
}

impl Variant {
    /// Its values joined by `" / "` in option order (`"M / Blue"`), or `"Default Title"`
    /// when the product has no options (Shopify's convention).
    pub fn title(&self) -> String {
        self.option_values.title()
    }

    /// Applies `changes`; whether the result still fits among the product's other variants
    /// is [`VariantSet::change`]'s to check.
    pub fn apply(&mut self, changes: VariantChanges) {
        if let Some(sku) = changes.sku {
            self.sku = sku;
        }
        if let Some(option_values) = changes.option_values {
            self.option_values = option_values;
        }
        if let Some(price) = changes.price {
            self.price = price;
        }
        if let Some(compare_at_price) = changes.compare_at_price {
            self.compare_at_price = compare_at_price;
        }
        if let Some(stock) = changes.stock {
            self.stock = stock;
        }
        if let Some(position) = changes.position {
            self.position = position;
        }
    }
}

/// The fields of a variant an admin may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VariantChanges {
    /// New SKU.
    pub sku: Option<Sku>,
    /// New combination, read against the product's options.
    pub option_values: Option<OptionValues>,
    /// New price.
    pub price: Option<Money>,
    /// New struck-through price; `Some(None)` clears it.
    pub compare_at_price: Option<Option<Money>>,
    /// New stock level.
    pub stock: Option<Stock>,
    /// New position.
    pub position: Option<Position>,
}

/// Checks `candidate` against the product's `options`, its `currency` and the `others`
/// variants, recording problems under `prefix` (`variants[i]`, or none for a lone variant).
fn check_variant<'a>(
    v: &mut Validator,
    prefix: &str,
    options: &ProductOptions,
    currency: Currency,
    mut others: impl Iterator<Item = &'a Variant>,
    candidate: &Variant,
) {
    let at = |name: &str| field_at(prefix, name);
    if !candidate.option_values.fits(options) {
        v.push(FieldError::new(
            at("option_values"),
            "must name one listed value of every option of the product",
        ));
    } else if others.any(|o| o.option_values == candidate.option_values) {
        v.push(FieldError::new(
            at("option_values"),
            format!(
                "another variant already has the options \"{}\"",
                candidate.title()
            ),
        ));
    }
    let other_currency = format!("must be in {currency}, the currency of the product's prices");
    if candidate.price.currency() != currency {
        v.push(FieldError::new(at("price"), &other_currency));
    }
    if let Some(c) = candidate.compare_at_price
        && c.currency() != currency
    {
        v.push(FieldError::new(at("compare_at_price"), other_currency));
    }
}

/// Checks a product's whole variant set against its `options`, reporting every problem at
/// once: 1..=100 variants; each naming one listed value of every option, and no two the
/// same combination (the later one is named); every `price` and `compare_at_price` in the
/// currency of the first variant's price. `compare_at_price` may be below `price`, and SKUs
/// are not compared (the database answers duplicates).
///
/// # Errors
/// `DomainError::Validation` on `variants` (their number; alone when over 100, so a huge
/// list is not compared pairwise), `variants[i].option_values`, `variants[i].price` and
/// `variants[i].compare_at_price`.
pub fn check_variants(options: &ProductOptions, variants: &[Variant]) -> Result<(), DomainError> {
    let count = FieldError::new(
        "variants",
        format!("must hold 1 to {MAX_VARIANTS} variants"),
    );
    if variants.len() > MAX_VARIANTS {
        return Err(count.into());
    }
    let Some(first) = variants.first() else {
        return Err(count.into());
    };
    let mut v = Validator::new();
    let currency = first.price.currency();
    for (i, variant) in variants.iter().enumerate() {
        check_variant(
            &mut v,
            &format!("variants[{i}]"),
            options,
            currency,
            variants[..i].iter(),
            variant,
        );
    }
    v.finish()
}

/// Why a variant cannot be changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    /// The product has no variant with this id (404).
    #[error("the product has no variant {0}")]
    NotFound(VariantId),
    /// A product keeps at least one variant, so its last one cannot be removed (409).
    #[error("a product keeps at least one variant: its last one cannot be removed")]
    LastVariant,
    /// The change breaks a rule of the variant set (422).
    #[error(transparent)]
    Invalid(#[from] DomainError),
}

/// A product's options with its 1..=100 variants, which always keep the rules of
/// [`check_variants`]. Variants stay in the order given and added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSet {
    options: ProductOptions,
    // Never empty: `new` refuses an empty list and `remove` keeps the last one.
    variants: Vec<Variant>,
}

impl VariantSet {
    /// Takes a product's options and all of its variants (on create, on a whole update, or
    /// as stored).
    ///
    /// # Errors
    /// What [`check_variants`] reports.
    pub fn new(options: ProductOptions, variants: Vec<Variant>) -> Result<Self, DomainError> {
        check_variants(&options, &variants)?;
        Ok(Self { options, variants })
    }

    /// The one variant of a product without options: `id` (a product's own id, so that it
    /// names the same thing as the product), no option values, position 0, no struck-through
    /// price.
    pub fn single(id: VariantId, sku: Sku, price: Money, stock: Stock) -> Self {
        Self {
            options: ProductOptions::default(),
            variants: vec![Variant {
                id,
                sku,
                option_values: OptionValues::default(),
                price,
                compare_at_price: None,
                stock,
                position: Position::default(),
            }],
        }
    }

    /// The variants in the order a product shows them: by position, then id.
    pub fn by_position(&self) -> Vec<&Variant> {
        let mut out: Vec<&Variant> = self.variants.iter().collect();
        out.sort_by_key(|x| (x.position, x.id));
        out
    }

    /// The variant `id`'s stock set to `stock` (nothing changes when there is none): what an
    /// order leaves, for the events that show it.
    pub fn set_stock(&mut self, id: VariantId, stock: Stock) {
        if let Some(x) = self.variants.iter_mut().find(|x| x.id == id) {
            x.stock = stock;
        }
    }

    /// The options and the variants, to store or to show.
    pub fn into_parts(self) -> (ProductOptions, Vec<Variant>) {
        (self.options, self.variants)
    }

    /// The product's options.
    pub fn options(&self) -> &ProductOptions {
        &self.options
    }

    /// The variants, in the order given and added.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The variant with this id.
    pub fn get(&self, id: VariantId) -> Option<&Variant> {
        self.variants.iter().find(|x| x.id == id)
    }

    /// The product's first variant: lowest position, then lowest id.
    pub fn first(&self) -> &Variant {
        // The set is never empty: the fallback is never taken.
        self.variants
            .iter()
            .min_by_key(|x| (x.position, x.id))
            .unwrap_or(&self.variants[0])
    }

    /// The product's SKU: its first variant's.
    pub fn first_sku(&self) -> &Sku {
        &self.first().sku
    }

    /// The product's price: the lowest price among its variants (the "from" price a list
    /// shows). All are in one currency, so their minor units compare.
    pub fn from_price(&self) -> Money {
        self.variants
            .iter()
            .map(|x| x.price)
            .min_by_key(Money::minor)
            .unwrap_or(self.variants[0].price)
    }

    /// The product's stock: the sum of its variants' stock, in `u64` since 100 variants of
    /// up to 1,000,000,000 each exceed a `Stock`.
    pub fn total_stock(&self) -> u64 {
        self.variants.iter().map(|x| u64::from(x.stock.get())).sum()
    }

    /// Adds `variant` after the others.
    ///
    /// # Errors
    /// `DomainError::Validation` on `variants` when the product already has 100, on
    /// `option_values` when it does not fit the options or another variant has the same,
    /// on `price` / `compare_at_price` in another currency than the product's.
    pub fn add(&mut self, variant: Variant) -> Result<(), DomainError> {
        let mut v = Validator::new();
        if self.variants.len() >= MAX_VARIANTS {
            v.push(FieldError::new(
                "variants",
                format!("a product holds at most {MAX_VARIANTS} variants"),
            ));
        }
        check_variant(
            &mut v,
            "",
            &self.options,
            self.variants[0].price.currency(),
            self.variants.iter(),
            &variant,
        );
        v.finish()?;
        self.variants.push(variant);
        Ok(())
    }

    /// Applies `changes` to the variant `id` when the result keeps the rules; otherwise
    /// nothing changes. The only variant of a product may change its currency (price and
    /// struck-through price together); others must keep the product's.
    ///
    /// # Errors
    /// `VariantError::NotFound`; `VariantError::Invalid` with `DomainError::Validation` on
    /// `option_values`, `price` or `compare_at_price`, as [`VariantSet::add`] reports them.
    pub fn change(
        &mut self,
        id: VariantId,
        changes: VariantChanges,
    ) -> Result<&Variant, VariantError> {
        let Some(i) = self.variants.iter().position(|x| x.id == id) else {
            return Err(VariantError::NotFound(id));
        };
        let mut changed = self.variants[i].clone();
        changed.apply(changes);
        let others = || {
            self.variants
                .iter()
                .enumerate()
                .filter(move |(j, _)| *j != i)
                .map(|(_, x)| x)
        };
        let currency = others()
            .next()
            .map_or(changed.price.currency(), |o| o.price.currency());
        let mut v = Validator::new();
        check_variant(&mut v, "", &self.options, currency, others(), &changed);
        v.finish()?;
        self.variants[i] = changed;
        Ok(&self.variants[i])
    }

    /// Removes the variant `id` and answers it.
    ///
    /// # Errors
    /// `VariantError::NotFound`; `VariantError::LastVariant` when it is the only one.
    pub fn remove(&mut self, id: VariantId) -> Result<Variant, VariantError> {
        let Some(i) = self.variants.iter().position(|x| x.id == id) else {
            return Err(VariantError::NotFound(id));
        };
        if self.variants.len() == 1 {
            return Err(VariantError::LastVariant);
        }
        Ok(self.variants.remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
    }

    fn input(name: &str, values: &[&str]) -> OptionInput {
        OptionInput {
            name: name.to_owned(),
            values: values.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn invalid<T: fmt::Debug>(r: Result<T, DomainError>) -> Vec<FieldError> {
        match r {
            Err(DomainError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn parse_options(inputs: &[OptionInput]) -> Vec<FieldError> {
        invalid(ProductOptions::parse(inputs))
    }

    /// Size: S, M, L and Color: Red, Blue.
    fn size_color() -> ProductOptions {
        ProductOptions::parse(&[
            input("Size", &["S", "M", "L"]),
            input("Color", &["Red", "Blue"]),
        ])
        .unwrap()
    }

    /// Reads `given` against `options`, checking that an answer and the recorded errors agree.
    fn read(
        options: &ProductOptions,
        given: &[(&str, &str)],
    ) -> Result<OptionValues, Vec<FieldError>> {
        let mut v = Validator::new();
        let read = OptionValues::parse(&mut v, "option_values", options, given.iter().copied());
        match (read, v.finish()) {
            (Some(values), Ok(())) => Ok(values),
            (None, Err(DomainError::Validation(errors))) => Err(errors),
            other => panic!("answer and errors disagree: {other:?}"),
        }
    }

    fn values(options: &ProductOptions, given: &[(&str, &str)]) -> OptionValues {
        read(options, given).unwrap()
    }

    fn variant(sku: &str, option_values: OptionValues, price: Money) -> Variant {
        Variant {
            id: VariantId::new(),
            sku: Sku::parse(sku).unwrap(),
            option_values,
            price,
            compare_at_price: None,
            stock: Stock::new(1).unwrap(),
            position: Position::default(),
        }
    }

    fn at(field: &str, message: &str) -> FieldError {
        FieldError::new(field, message)
    }

    /// Size: S, M; Color: Red, Blue: all four combinations, in EUR.
    fn four() -> VariantSet {
        let o =
            ProductOptions::parse(&[input("Size", &["S", "M"]), input("Color", &["Red", "Blue"])])
                .unwrap();
        let vs = [("S", "Red"), ("S", "Blue"), ("M", "Red"), ("M", "Blue")]
            .iter()
            .enumerate()
            .map(|(i, (s, c))| {
                variant(
                    &format!("TEE-{i}"),
                    values(&o, &[("Size", s), ("Color", c)]),
                    eur(1000),
                )
            })
            .collect();
        VariantSet::new(o, vs).unwrap()
    }

    #[test]
    fn variants_are_shown_by_position_then_id_and_an_order_sets_one_variants_stock() {
        let mut set = four();
        let ids: Vec<VariantId> = set.variants().iter().map(|x| x.id).collect();
        // Positions 3, 1, 1, 0: the two at 1 in id order (ids are time-ordered).
        for (id, position) in ids.iter().zip([3, 1, 1, 0]) {
            set.change(
                *id,
                VariantChanges {
                    position: Some(Position::new(position).unwrap()),
                    ..VariantChanges::default()
                },
            )
            .unwrap();
        }
        let shown: Vec<VariantId> = set.by_position().iter().map(|x| x.id).collect();
        assert_eq!(shown, [ids[3], ids[1], ids[2], ids[0]]);

        set.set_stock(ids[2], Stock::new(7).unwrap());
        let stock: Vec<u32> = set.variants().iter().map(|x| x.stock.get()).collect();
        assert_eq!(stock, [1, 1, 7, 1]);
        // An id the set does not hold changes nothing.
        set.set_stock(VariantId::new(), Stock::new(9).unwrap());
        let stock: Vec<u32> = set.variants().iter().map(|x| x.stock.get()).collect();
        assert_eq!(stock, [1, 1, 7, 1]);
    }

    #[test]
    fn the_limits_are_those_of_the_contract() {
        assert_eq!(
            (
                MAX_OPTIONS,
                MAX_OPTION_VALUES,
                MAX_VARIANTS,
                MAX_OPTION_CHARS
            ),
            (3, 100, 100, 50)
        );
        assert_eq!(DEFAULT_TITLE, "Default Title");
    }

    #[test]
    fn an_option_name_is_trimmed_and_holds_one_to_fifty_characters() {
        assert_eq!(OptionName::parse("  Size ").unwrap().as_str(), "Size");
        assert_eq!(OptionName::parse("S").unwrap().to_string(), "S");
        let longest = "é".repeat(50);
        assert_eq!(OptionName::parse(&longest).unwrap().as_str(), longest);
        for bad in [&"é".repeat(51), "", "   "] {
            assert_eq!(
                OptionName::parse(bad),
                Err(at("name", "must be 1 to 50 characters")),
                "{bad:?}"
            );
        }
        // At an end too: refused, not trimmed away.
        for bad in ["Si\tze", "Size\n", "\rSize", "a\u{0}"] {
            assert_eq!(
                OptionName::parse(bad),
                Err(at("name", "must not contain control characters")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_option_value_is_trimmed_and_holds_one_to_fifty_characters() {
        assert_eq!(
            OptionValue::parse(" Extra large ").unwrap().as_str(),
            "Extra large"
        );
        assert_eq!(OptionValue::parse("M").unwrap().to_string(), "M");
        let longest = "x".repeat(50);
        assert_eq!(OptionValue::parse(&longest).unwrap().as_str(), longest);
        for bad in [&"x".repeat(51), "", " "] {
            assert_eq!(
                OptionValue::parse(bad),
                Err(at("value", "must be 1 to 50 characters")),
                "{bad:?}"
            );
        }
        for bad in ["M\n", "\tM", "a\u{7f}b"] {
            assert_eq!(
                OptionValue::parse(bad),
                Err(at("value", "must not contain control characters")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_product_may_have_no_options_or_up_to_three_kept_in_order() {
        let none = ProductOptions::parse(&[]).unwrap();
        assert_eq!(none, ProductOptions::default());
        assert!(none.as_slice().is_empty());

        let three = ProductOptions::parse(&[
            input(" Size ", &["S", " M "]),
            input("Color", &["Red"]),
            input("Material", &["Wool", "Cotton"]),
        ])
        .unwrap();
        let names: Vec<&str> = three.as_slice().iter().map(|o| o.name().as_str()).collect();
        assert_eq!(names, ["Size", "Color", "Material"]);
        let sizes: Vec<&str> = three.as_slice()[0]
            .values()
            .iter()
            .map(OptionValue::as_str)
            .collect();
        assert_eq!(sizes, ["S", "M"]);
        let materials: Vec<&str> = three.as_slice()[2]
            .values()
            .iter()
            .map(OptionValue::as_str)
            .collect();
        assert_eq!(materials, ["Wool", "Cotton"]);
    }

    #[test]
    fn a_fourth_option_is_refused_alone() {
        let four = [
            input("A", &["1"]),
            input("B", &["1"]),
            input("C", &["1"]),
            input("", &[]),
        ];
        assert_eq!(
            parse_options(&four),
            [at("options", "must hold at most 3 options")]
        );
    }

    #[test]
    fn option_names_must_differ_ignoring_case() {
        assert_eq!(
            parse_options(&[
                input("Size", &["S"]),
                input("size", &["M"]),
                input(" SIZE ", &["L"]),
            ]),
            [
                at(
                    "options[1].name",
                    "\"size\" is already the name of an option; names must differ ignoring case"
                ),
                at(
                    "options[2].name",
                    "\"SIZE\" is already the name of an option; names must differ ignoring case"
                ),
            ]
        );
        assert!(ProductOptions::parse(&[input("Size", &["S"]), input("Sizes", &["S"])]).is_ok());
    }

    #[test]
    fn a_bad_option_name_is_reported_at_its_index() {
        assert_eq!(
            parse_options(&[
                input("Size", &["S"]),
                input(" ", &["M"]),
                input("a\nb", &["L"])
            ]),
            [
                at("options[1].name", "must be 1 to 50 characters"),
                at("options[2].name", "must not contain control characters"),
            ]
        );
    }

    #[test]
    fn an_option_lists_one_to_a_hundred_values() {
        let hundred: Vec<String> = (0..100).map(|i| format!("V{i}")).collect();
        let hundred: Vec<&str> = hundred.iter().map(String::as_str).collect();
        let o = ProductOptions::parse(&[input("Size", &hundred)]).unwrap();
        assert_eq!(o.as_slice()[0].values().len(), 100);

        let mut more = hundred.clone();
        more.push("V100");
        let refused = at("options[1].values", "must hold 1 to 100 values");
        assert_eq!(
            parse_options(&[input("Color", &["Red"]), input("Size", &more)]),
            vec![refused.clone()]
        );
        assert_eq!(
            parse_options(&[input("Color", &["Red"]), input("Size", &[])]),
            [refused]
        );
    }

    #[test]
    fn the_values_of_one_option_must_differ_ignoring_case() {
        assert_eq!(
            parse_options(&[input("Size", &["S", "M", "s", " m "])]),
            [
                at(
                    "options[0].values[2]",
                    "\"s\" is already a value of this option; values must differ ignoring case"
                ),
                at(
                    "options[0].values[3]",
                    "\"m\" is already a value of this option; values must differ ignoring case"
                ),
            ]
        );
        // Two options may offer the same value, and close values are distinct.
        assert!(
            ProductOptions::parse(&[input("Top", &["One", "On"]), input("Bottom", &["One"])])
                .is_ok()
        );
    }

    #[test]
    fn a_bad_value_is_reported_at_its_index() {
        assert_eq!(
            parse_options(&[
                input("Size", &["S"]),
                input("Color", &["Red", "", "B\tlue"])
            ]),
            [
                at("options[1].values[1]", "must be 1 to 50 characters"),
                at(
                    "options[1].values[2]",
                    "must not contain control characters"
                ),
            ]
        );
    }

    #[test]
    fn every_problem_of_the_options_is_reported_at_once() {
        assert_eq!(
            parse_options(&[
                input("", &["S"]),
                input("Color", &[]),
                input("Fit", &["Slim", "SLIM"]),
            ]),
            [
                at("options[0].name", "must be 1 to 50 characters"),
                at("options[1].values", "must hold 1 to 100 values"),
                at(
                    "options[2].values[1]",
                    "\"SLIM\" is already a value of this option; values must differ ignoring case"
                ),
            ]
        );
    }

    #[test]
    fn option_values_follow_the_option_order_and_the_option_spelling() {
        let o = size_color();
        let v = values(&o, &[("Color", " Blue "), (" Size", "M")]);
        let pairs: Vec<(&str, &str)> = v
            .pairs()
            .iter()
            .map(|(n, x)| (n.as_str(), x.as_str()))
            .collect();
        assert_eq!(pairs, [("Size", "M"), ("Color", "Blue")]);
        assert_eq!(v.title(), "M / Blue");

        let map = BTreeMap::from([
            ("Size".to_owned(), "L".to_owned()),
            ("Color".to_owned(), "Red".to_owned()),
        ]);
        let mut errors = Validator::new();
        let from_map = OptionValues::parse(&mut errors, "option_values", &o, &map).unwrap();
        assert_eq!(errors.finish(), Ok(()));
        assert_eq!(from_map.title(), "L / Red");
    }

    #[test]
    fn option_names_and_values_match_exactly_once_trimmed() {
        assert_eq!(
            read(&size_color(), &[("size", "M"), ("Color", "blue")]),
            Err(vec![
                at("option_values", "\"size\" is not an option of this product"),
                at(
                    "option_values",
                    "\"blue\" is not a value of option \"Color\""
                ),
                at("option_values", "must name a value of option \"Size\""),
            ])
        );
    }

    #[test]
    fn an_unknown_option_is_refused_even_when_every_option_is_named() {
        assert_eq!(
            read(
                &size_color(),
                &[("Size", "M"), ("Color", "Red"), ("Fit", "Slim")]
            ),
            Err(vec![at(
                "option_values",
                "\"Fit\" is not an option of this product"
            )])
        );
    }

    #[test]
    fn an_option_named_twice_is_refused() {
        assert_eq!(
            read(
                &size_color(),
                &[("Size", "M"), ("Size ", "L"), ("Color", "Red")]
            ),
            Err(vec![at("option_values", "names option \"Size\" twice")])
        );
        // Twice even when the first value was refused.
        assert_eq!(
            read(
                &size_color(),
                &[("Size", "XL"), (" Size", "M"), ("Color", "Red")]
            ),
            Err(vec![
                at("option_values", "\"XL\" is not a value of option \"Size\""),
                at("option_values", "names option \"Size\" twice"),
            ])
        );
    }

    #[test]
    fn every_option_must_be_given_a_value() {
        assert_eq!(
            read(&size_color(), &[("Size", "M")]),
            Err(vec![at(
                "option_values",
                "must name a value of option \"Color\""
            )])
        );
        assert_eq!(
            read(&size_color(), &[]),
            Err(vec![
                at("option_values", "must name a value of option \"Size\""),
                at("option_values", "must name a value of option \"Color\""),
            ])
        );
    }

    #[test]
    fn option_value_errors_go_under_the_field_given() {
        let mut v = Validator::new();
        let read = OptionValues::parse(
            &mut v,
            "variants[3].option_values",
            &size_color(),
            [("Size", "M")],
        );
        assert_eq!(read, None);
        assert_eq!(
            invalid(v.finish()),
            [at(
                "variants[3].option_values",
                "must name a value of option \"Color\""
            )]
        );
    }

    #[test]
    fn without_options_a_variant_names_nothing_and_is_the_default_title() {
        let none = ProductOptions::default();
        let v = values(&none, &[]);
        assert_eq!(v, OptionValues::default());
        assert!(v.pairs().is_empty());
        assert_eq!(v.title(), "Default Title");
        assert_eq!(
            read(&none, &[("Size", "M")]),
            Err(vec![at(
                "option_values",
                "\"Size\" is not an option of this product"
            )])
        );
    }

    #[test]
    fn a_title_joins_the_values_in_option_order() {
        let o = ProductOptions::parse(&[
            input("Size", &["M"]),
            input("Color", &["Blue"]),
            input("Fit", &["Slim"]),
        ])
        .unwrap();
        let v = variant(
            "T-1",
            values(&o, &[("Fit", "Slim"), ("Color", "Blue"), ("Size", "M")]),
            eur(1),
        );
        assert_eq!(v.title(), "M / Blue / Slim");
        let one = ProductOptions::parse(&[input("Size", &["M"])]).unwrap();
        assert_eq!(values(&one, &[("Size", "M")]).title(), "M");
    }

    #[test]
    fn applying_changes_sets_each_named_field_only() {
        let o = size_color();
        let mut v = variant(
            "T-1",
            values(&o, &[("Size", "S"), ("Color", "Red")]),
            eur(100),
        );
        v.compare_at_price = Some(eur(150));
        let before = v.clone();
        v.apply(VariantChanges::default());
        assert_eq!(v, before);

        v.apply(VariantChanges {
            sku: Some(Sku::parse("T-2").unwrap()),
            option_values: Some(values(&o, &[("Size", "L"), ("Color", "Blue")])),
            price: Some(eur(200)),
            compare_at_price: Some(Some(eur(250))),
            stock: Some(Stock::new(9).unwrap()),
            position: Some(Position::new(4).unwrap()),
        });
        assert_eq!(v.id, before.id);
        assert_eq!(v.sku.as_str(), "T-2");
        assert_eq!(v.title(), "L / Blue");
        assert_eq!(v.price, eur(200));
        assert_eq!(v.compare_at_price, Some(eur(250)));
        assert_eq!(v.stock.get(), 9);
        assert_eq!(v.position.get(), 4);

        v.apply(VariantChanges {
            compare_at_price: Some(None),
            ..VariantChanges::default()
        });
        assert_eq!(v.compare_at_price, None);
        assert_eq!(v.price, eur(200));
    }

    #[test]
    fn a_product_has_one_to_a_hundred_variants() {
        let none = ProductOptions::default();
        let count = at("variants", "must hold 1 to 100 variants");
        assert_eq!(invalid(check_variants(&none, &[])), vec![count.clone()]);
        assert_eq!(
            invalid(VariantSet::new(none.clone(), Vec::new())),
            vec![count.clone()]
        );
        assert_eq!(
            check_variants(&none, &[variant("A", OptionValues::default(), eur(1))]),
            Ok(())
        );

        let names: Vec<String> = (0..101).map(|i| format!("V{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let o = ProductOptions::parse(&[input("N", &names[..100])]).unwrap();
        let mut vs: Vec<Variant> = names[..100]
            .iter()
            .map(|n| variant(n, values(&o, &[("N", n)]), eur(1)))
            .collect();
        assert_eq!(check_variants(&o, &vs), Ok(()));
        // The 101st is refused for its number alone, though it repeats a combination too.
        vs.push(variant("X", vs[0].option_values.clone(), usd(1)));
        assert_eq!(invalid(check_variants(&o, &vs)), [count]);
    }

    #[test]
    fn no_two_variants_may_have_the_same_combination() {
        let o = size_color();
        let vs = vec![
            variant("A", values(&o, &[("Size", "M"), ("Color", "Blue")]), eur(1)),
            variant("B", values(&o, &[("Size", "M"), ("Color", "Red")]), eur(1)),
            variant("C", values(&o, &[("Color", "Blue"), ("Size", "M")]), eur(1)),
        ];
        assert_eq!(
            invalid(check_variants(&o, &vs)),
            [at(
                "variants[2].option_values",
                "another variant already has the options \"M / Blue\""
            )]
        );
    }

    #[test]
    fn a_product_without_options_has_a_single_variant() {
        let none = ProductOptions::default();
        let vs = vec![
            variant("A", OptionValues::default(), eur(1)),
            variant("B", OptionValues::default(), eur(1)),
        ];
        assert_eq!(
            invalid(check_variants(&none, &vs)),
            [at(
                "variants[1].option_values",
                "another variant already has the options \"Default Title\""
            )]
        );
    }

    #[test]
    fn every_price_is_in_the_currency_of_the_first_variant() {
        let o = size_color();
        let mut vs = vec![
            variant(
                "A",
                values(&o, &[("Size", "S"), ("Color", "Red")]),
                eur(500),
            ),
            variant(
                "B",
                values(&o, &[("Size", "M"), ("Color", "Red")]),
                usd(500),
            ),
            variant(
                "C",
                values(&o, &[("Size", "L"), ("Color", "Red")]),
                eur(500),
            ),
        ];
        vs[0].compare_at_price = Some(eur(100));
        vs[2].compare_at_price = Some(usd(900));
        let other = "must be in EUR, the currency of the product's prices";
        assert_eq!(
            invalid(check_variants(&o, &vs)),
            [
                at("variants[1].price", other),
                at("variants[2].compare_at_price", other),
            ]
        );
        // A struck-through price below the price, and one SKU twice, are allowed here.
        vs[1].price = eur(500);
        vs[2].compare_at_price = Some(eur(1));
        vs[2].sku = vs[0].sku.clone();
        assert_eq!(check_variants(&o, &vs), Ok(()));
    }

    #[test]
    fn a_variant_must_fit_the_options_it_is_checked_against() {
        let o = size_color();
        let size_only = ProductOptions::parse(&[input("Size", &["S", "M", "L"])]).unwrap();
        let colour = ProductOptions::parse(&[
            input("Size", &["S", "M", "L"]),
            input("Colour", &["Red", "Blue"]),
        ])
        .unwrap();
        let xl = ProductOptions::parse(&[
            input("Size", &["S", "M", "L", "XL"]),
            input("Color", &["Red", "Blue"]),
        ])
        .unwrap();
        let foreign = [
            values(&size_only, &[("Size", "M")]),
            values(&colour, &[("Size", "M"), ("Colour", "Red")]),
            values(&xl, &[("Size", "XL"), ("Color", "Red")]),
            OptionValues::default(),
        ];
        let misfit = "must name one listed value of every option of the product";
        for values in foreign {
            let vs = vec![
                variant("A", values.clone(), eur(1)),
                // Also a repeat, but only the misfit is told.
                variant("B", values.clone(), eur(1)),
            ];
            assert_eq!(
                invalid(check_variants(&o, &vs)),
                [
                    at("variants[0].option_values", misfit),
                    at("variants[1].option_values", misfit),
                ],
                "{values:?}"
            );
        }
    }

    #[test]
    fn every_problem_of_the_variants_is_reported_at_once() {
        let o = size_color();
        let m_red = values(&o, &[("Size", "M"), ("Color", "Red")]);
        let mut vs = vec![
            variant("A", m_red.clone(), eur(1)),
            variant("B", m_red, usd(1)),
        ];
        vs[1].compare_at_price = Some(usd(2));
        let other = "must be in EUR, the currency of the product's prices";
        assert_eq!(
            invalid(check_variants(&o, &vs)),
            [
                at(
                    "variants[1].option_values",
                    "another variant already has the options \"M / Red\""
                ),
                at("variants[1].price", other),
                at("variants[1].compare_at_price", other),
            ]
        );
    }

    #[test]
    fn the_first_variant_is_the_lowest_position_then_the_lowest_id() {
        let o = ProductOptions::parse(&[input("Size", &["S", "M", "L", "XL"])]).unwrap();
        let mut vs: Vec<Variant> = ["S", "M", "L", "XL"]
            .iter()
            .map(|s| variant(&format!("T-{s}"), values(&o, &[("Size", s)]), eur(1)))
            .collect();
        // Ids are time-ordered: S < M < L < XL.
        for (v, p) in vs.iter_mut().zip([5, 2, 2, 3]) {
            v.position = Position::new(p).unwrap();
        }
        vs.swap(1, 2);
        let set = VariantSet::new(o.clone(), vs.clone()).unwrap();
        assert_eq!(set.first().sku.as_str(), "T-M");
        assert_eq!(set.first_sku().as_str(), "T-M");
        vs[3].position = Position::new(0).unwrap();
        let set = VariantSet::new(o, vs).unwrap();
        assert_eq!(set.first_sku().as_str(), "T-XL");
    }

    #[test]
    fn the_price_is_the_lowest_and_the_stock_the_sum() {
        let mut set = four();
        let prices = [700, 300, 900, 400];
        let ids: Vec<VariantId> = set.variants().iter().map(|v| v.id).collect();
        for ((id, price), stock) in ids.iter().zip(prices).zip([1, 2, 3, 4]) {
            set.change(
                *id,
                VariantChanges {
                    price: Some(eur(price)),
                    stock: Some(Stock::new(stock).unwrap()),
                    ..VariantChanges::default()
                },
            )
            .unwrap();
        }
        assert_eq!(set.from_price(), eur(300));
        assert_eq!(set.total_stock(), 10);
    }

    #[test]
    fn the_total_stock_of_a_hundred_full_variants_does_not_overflow() {
        let names: Vec<String> = (0..100).map(|i| format!("V{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let o = ProductOptions::parse(&[input("N", &names)]).unwrap();
        let vs = names
            .iter()
            .map(|n| {
                let mut v = variant(n, values(&o, &[("N", n)]), eur(1));
                v.stock = Stock::new(Stock::MAX).unwrap();
                v
            })
            .collect();
        assert_eq!(
            VariantSet::new(o, vs).unwrap().total_stock(),
            100_000_000_000
        );
    }

    #[test]
    fn a_set_answers_its_options_variants_and_each_by_id() {
        let set = four();
        assert_eq!(set.options().as_slice().len(), 2);
        let titles: Vec<String> = set.variants().iter().map(Variant::title).collect();
        assert_eq!(titles, ["S / Red", "S / Blue", "M / Red", "M / Blue"]);
        let third = &set.variants()[2];
        assert_eq!(set.get(third.id), Some(third));
        assert_eq!(set.get(VariantId::new()), None);
        let (options, variants) = set.clone().into_parts();
        assert_eq!(&options, set.options());
        assert_eq!(variants, set.variants());
    }

    #[test]
    fn adding_a_variant_checks_it_against_the_others() {
        let o = size_color();
        let mut set = VariantSet::new(
            o.clone(),
            vec![variant(
                "A",
                values(&o, &[("Size", "S"), ("Color", "Red")]),
                eur(1),
            )],
        )
        .unwrap();
        let before = set.clone();
        let other = "must be in EUR, the currency of the product's prices";

        let mut bad = variant("B", values(&o, &[("Size", "S"), ("Color", "Red")]), usd(1));
        bad.compare_at_price = Some(usd(1));
        assert_eq!(
            invalid(set.add(bad)),
            [
                at(
                    "option_values",
                    "another variant already has the options \"S / Red\""
                ),
                at("price", other),
                at("compare_at_price", other),
            ]
        );
        let size_only = ProductOptions::parse(&[input("Size", &["S"])]).unwrap();
        assert_eq!(
            invalid(set.add(variant("C", values(&size_only, &[("Size", "S")]), eur(1)))),
            [at(
                "option_values",
                "must name one listed value of every option of the product"
            )]
        );
        assert_eq!(set, before);

        let m_red = variant("D", values(&o, &[("Size", "M"), ("Color", "Red")]), eur(1));
        assert_eq!(set.add(m_red.clone()), Ok(()));
        assert_eq!(set.variants().len(), 2);
        assert_eq!(set.variants()[1], m_red);
    }

    #[test]
    fn a_hundred_and_first_variant_is_refused() {
        let names: Vec<String> = (0..100).map(|i| format!("V{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let o = ProductOptions::parse(&[input("N", &names), input("Side", &["A", "B"])]).unwrap();
        let of = |n: &str, side: &str| values(&o, &[("N", n), ("Side", side)]);
        let mut set =
            VariantSet::new(o.clone(), vec![variant("V0", of("V0", "A"), eur(1))]).unwrap();
        for n in &names[1..99] {
            set.add(variant(n, of(n, "A"), eur(1))).unwrap();
        }
        assert_eq!(set.variants().len(), 99);
        assert_eq!(set.add(variant("V99", of("V99", "A"), eur(1))), Ok(()));
        assert_eq!(set.variants().len(), 100);
        assert_eq!(
            invalid(set.add(variant("X", of("V0", "B"), eur(1)))),
            [at("variants", "a product holds at most 100 variants")]
        );
        assert_eq!(set.variants().len(), 100);
    }

    #[test]
    fn changing_an_unknown_variant_is_not_found() {
        let mut set = four();
        let id = VariantId::new();
        let e = set.change(id, VariantChanges::default()).unwrap_err();
        assert_eq!(e, VariantError::NotFound(id));
        assert_eq!(e.to_string(), format!("the product has no variant {id}"));
    }

    #[test]
    fn a_changed_variant_keeps_its_own_combination_and_answers_itself() {
        let mut set = four();
        let id = set.variants()[1].id;
        let changed = set
            .change(
                id,
                VariantChanges {
                    price: Some(eur(1234)),
                    ..VariantChanges::default()
                },
            )
            .unwrap()
            .clone();
        assert_eq!((changed.id, changed.price), (id, eur(1234)));
        assert_eq!(set.get(id), Some(&changed));
        assert_eq!(set.variants()[1], changed);
    }

    #[test]
    fn a_change_that_breaks_a_rule_changes_nothing() {
        let mut set = four();
        let before = set.clone();
        let id = set.variants()[0].id;
        let taken = set.variants()[3].option_values.clone();
        let e = set
            .change(
                id,
                VariantChanges {
                    option_values: Some(taken),
                    price: Some(usd(1)),
                    stock: Some(Stock::new(50).unwrap()),
                    ..VariantChanges::default()
                },
            )
            .unwrap_err();
        assert_eq!(
            e,
            VariantError::Invalid(DomainError::Validation(vec![
                at(
                    "option_values",
                    "another variant already has the options \"M / Blue\""
                ),
                at(
                    "price",
                    "must be in EUR, the currency of the product's prices"
                ),
            ]))
        );
        assert_eq!(
            e.to_string(),
            "invalid input: option_values: another variant already has the options \"M / Blue\"; \
             price: must be in EUR, the currency of the product's prices"
        );
        assert_eq!(set, before);
    }

    #[test]
    fn the_only_variant_may_change_its_currency_with_all_its_prices() {
        let none = ProductOptions::default();
        let mut lone = variant("A", OptionValues::default(), eur(100));
        lone.compare_at_price = Some(eur(200));
        let id = lone.id;
        let mut set = VariantSet::new(none, vec![lone]).unwrap();
        assert_eq!(
            set.change(
                id,
                VariantChanges {
                    price: Some(usd(100)),
                    ..VariantChanges::default()
                }
            ),
            Err(VariantError::Invalid(DomainError::Validation(vec![at(
                "compare_at_price",
                "must be in USD, the currency of the product's prices"
            )])))
        );
        let changed = set
            .change(
                id,
                VariantChanges {
                    price: Some(usd(100)),
                    compare_at_price: Some(Some(usd(200))),
                    ..VariantChanges::default()
                },
            )
            .unwrap();
        assert_eq!(changed.price, usd(100));
        assert_eq!(set.from_price(), usd(100));
    }

    #[test]
    fn removing_takes_out_one_variant_but_never_the_last() {
        let o = size_color();
        let a = variant("A", values(&o, &[("Size", "S"), ("Color", "Red")]), eur(1));
        let b = variant("B", values(&o, &[("Size", "M"), ("Color", "Red")]), eur(1));
        let mut set = VariantSet::new(o, vec![a.clone(), b.clone()]).unwrap();

        let unknown = VariantId::new();
        assert_eq!(set.remove(unknown), Err(VariantError::NotFound(unknown)));
        assert_eq!(set.remove(a.id), Ok(a.clone()));
        assert_eq!(set.variants(), vec![b.clone()]);
        assert_eq!(set.remove(a.id), Err(VariantError::NotFound(a.id)));
        let last = set.remove(b.id).unwrap_err();
        assert_eq!(last, VariantError::LastVariant);
        assert_eq!(
            last.to_string(),
            "a product keeps at least one variant: its last one cannot be removed"
        );
        assert_eq!(set.variants(), [b]);
    }

    #[test]
    fn removing_from_a_larger_set_keeps_the_order_of_the_rest() {
        let mut set = four();
        let id = set.variants()[1].id;
        assert_eq!(set.remove(id).unwrap().title(), "S / Blue");
        let titles: Vec<String> = set.variants().iter().map(Variant::title).collect();
        assert_eq!(titles, ["S / Red", "M / Red", "M / Blue"]);
    }

    /// 1..=3 options of 1..=4 values each, names and values unique by their last character.
    fn random_options() -> impl Strategy<Value = ProductOptions> {
        prop::collection::vec(
            (
                "[a-zA-Zé][a-zA-Z é]{0,8}",
                prop::collection::vec("[a-zA-Zé][a-zA-Z é]{0,8}", 1..=4),
            ),
            1..=3,
        )
        .prop_map(|options| {
            let inputs: Vec<OptionInput> = options
                .into_iter()
                .enumerate()
                .map(|(i, (name, values))| OptionInput {
                    name: format!("{name}{i}"),
                    values: values
                        .into_iter()
                        .enumerate()
                        .map(|(j, v)| format!("{v}{j}"))
                        .collect(),
                })
                .collect();
            ProductOptions::parse(&inputs).unwrap()
        })
    }

    /// Every combination of the options' values, in order.
    fn cartesian(options: &ProductOptions) -> Vec<Vec<(String, String)>> {
        options
            .as_slice()
            .iter()
            .fold(vec![Vec::new()], |combos, o| {
                combos
                    .iter()
                    .flat_map(|c| {
                        o.values().iter().map(move |v| {
                            let mut c = c.clone();
                            c.push((o.name().as_str().to_owned(), v.as_str().to_owned()));
                            c
                        })
                    })
                    .collect()
            })
    }

    fn full_set(options: &ProductOptions, prices: &[i64], stocks: &[i64]) -> Vec<Variant> {
        cartesian(options)
            .iter()
            .enumerate()
            .map(|(i, combo)| {
                let mut v = Validator::new();
                let ov = OptionValues::parse(
                    &mut v,
                    "option_values",
                    options,
                    combo.iter().map(|(n, x)| (n, x)),
                )
                .unwrap();
                let mut variant = variant(&format!("SKU-{i}"), ov, eur(prices[i % prices.len()]));
                variant.stock = Stock::new(stocks[i % stocks.len()]).unwrap();
                variant
            })
            .collect()
    }

    proptest! {
        #[test]
        fn every_combination_once_is_a_valid_set(
            options in random_options(),
            prices in prop::collection::vec(0..=1_000_000i64, 1..=64),
            stocks in prop::collection::vec(0..=Stock::MAX, 1..=64),
        ) {
            let vs = full_set(&options, &prices, &stocks);
            let expected: usize = options.as_slice().iter().map(|o| o.values().len()).product();
            prop_assert_eq!(vs.len(), expected);
            let set = VariantSet::new(options, vs.clone()).unwrap();

            let sum: u64 = vs.iter().map(|v| u64::from(v.stock.get())).sum();
            prop_assert_eq!(set.total_stock(), sum);
            let low = set.from_price();
            prop_assert!(vs.iter().all(|v| low.minor() <= v.price.minor()));
            prop_assert!(vs.iter().any(|v| v.price == low));
        }

        #[test]
        fn repeating_any_combination_names_the_repeat(
            options in random_options(),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut vs = full_set(&options, &[100], &[1]);
            let k = pick.index(vs.len());
            let mut copy = variant("COPY", vs[k].option_values.clone(), eur(5));
            copy.position = Position::new(7).unwrap();
            let title = copy.title();
            vs.push(copy);
            let errors = invalid(check_variants(&options, &vs));
            prop_assert_eq!(
                errors,
                vec![FieldError::new(
                    format!("variants[{}].option_values", vs.len() - 1),
                    format!("another variant already has the options \"{title}\""),
                )]
            );
        }

        #[test]
        fn leaving_out_an_option_is_refused(
            options in random_options(),
            pick in any::<prop::sample::Index>(),
            drop in any::<prop::sample::Index>(),
        ) {
            let combos = cartesian(&options);
            let mut combo = combos[pick.index(combos.len())].clone();
            let (name, _) = combo.remove(drop.index(combo.len()));
            let mut v = Validator::new();
            let read = OptionValues::parse(&mut v, "option_values", &options, combo.iter().map(|(n, x)| (n, x)));
            prop_assert_eq!(read, None);
            prop_assert_eq!(
                invalid(v.finish()),
                vec![FieldError::new("option_values", format!("must name a value of option \"{name}\""))]
            );
        }

        #[test]
        fn option_values_read_back_from_their_pairs(options in random_options(), pick in any::<prop::sample::Index>()) {
            let combos = cartesian(&options);
            let combo = &combos[pick.index(combos.len())];
            let mut v = Validator::new();
            let first = OptionValues::parse(&mut v, "option_values", &options, combo.iter().map(|(n, x)| (n, x))).unwrap();
            let again = OptionValues::parse(
                &mut v,
                "option_values",
                &options,
                first.pairs().iter().map(|(n, x)| (n.as_str(), x.as_str())),
            );
            prop_assert_eq!(again, Some(first));
            prop_assert_eq!(v.finish(), Ok(()));
        }

        #[test]
        fn option_text_parse_never_panics_and_round_trips(s in "\\PC*") {
            if let Ok(n) = OptionName::parse(&s) {
                prop_assert_eq!(OptionName::parse(n.as_str()).unwrap(), n);
            }
            if let Ok(x) = OptionValue::parse(&s) {
                prop_assert_eq!(OptionValue::parse(x.as_str()).unwrap(), x);
            }
        }
    }
}
