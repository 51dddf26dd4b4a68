use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::ids::CategoryId;
use crate::product::Description;
use crate::slug::Slug;

/// A category name: 1..=200 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryName(String);

impl CategoryName {
    /// Parses a name, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `name` when blank, longer than 200 characters or holding control
    /// characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        crate::product::ProductName::parse(s).map(|n| Self(n.as_str().to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a category sorts among all of them: a whole number 0..=1,000,000 (then by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position(u32);

impl Position {
    /// Highest position accepted.
    pub const MAX: i64 = 1_000_000;

    /// Checks the range.
    ///
    /// # Errors
    /// A `FieldError` on `position` outside 0..=1,000,000.
    pub fn new(n: i64) -> Result<Self, FieldError> {
        if !(0..=Self::MAX).contains(&n) {
            return Err(FieldError::new(
                "position",
                "must be a whole number from 0 to 1000000",
            ));
        }
        u32::try_from(n)
            .map(Self)
            .map_err(|_| FieldError::new("position", "is out of range"))
    }

    /// The number.
    pub fn get(&self) -> u32 {
        self.0
    }
}

/// A category of the catalog: a node of one tree (or forest) of categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Identity.
    pub id: CategoryId,
    /// Display name.
    pub name: CategoryName,
    /// Unique URL name.
    pub slug: Slug,
    /// The category it sits in; `None` at the top.
    pub parent_id: Option<CategoryId>,
    /// Optional long text.
    pub description: Option<Description>,
    /// Sort key among all categories.
    pub position: Position,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a category an admin may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CategoryChanges {
    /// New name.
    pub name: Option<CategoryName>,
    /// New slug.
    pub slug: Option<Slug>,
    /// New parent; `Some(None)` moves it to the top.
    pub parent_id: Option<Option<CategoryId>>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// New position.
    pub position: Option<Position>,
}

impl Category {
    /// Applies `changes` and stamps `updated_at`; whether a new parent makes a cycle is the
    /// caller's to check ([`check_parent`]), against the whole tree.
    pub fn apply(&mut self, changes: CategoryChanges, now: DateTime<Utc>) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(slug) = changes.slug {
            self.slug = slug;
        }
        if let Some(parent) = changes.parent_id {
            self.parent_id = parent;
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        if let Some(position) = changes.position {
            self.position = position;
        }
        self.updated_at = now;
    }
}

/// The tree as `child -> parent` links, as small as the category list.
pub type ParentLinks = HashMap<CategoryId, Option<CategoryId>>;

/// The links of `categories`.
pub fn links_of(categories: &[Category]) -> ParentLinks {
    categories.iter().map(|c| (c.id, c.parent_id)).collect()
}

/// The category rule of a move: `category` may sit under `parent` only when `parent` exists
/// and is neither `category` itself nor one of its descendants (that would make a cycle).
/// `None` (the top) is always allowed.
///
/// # Errors
/// A `FieldError` on `parent_id` naming which.
pub fn check_parent(
    category: CategoryId,
    parent: Option<CategoryId>,
    links: &ParentLinks,
) -> Result<(), FieldError> {
    let Some(parent) = parent else { return Ok(()) };
    if !links.contains_key(&parent) {
        return Err(FieldError::new(
            "parent_id",
            format!("category {parent} does not exist"),
        ));
    }
    // Walk up from the new parent; meeting `category` means the parent is below it. The walk
    // is bounded by the number of categories, so a stored loop cannot hang it.
    let mut at = Some(parent);
    for _ in 0..=links.len() {
        match at {
            None => return Ok(()),
            Some(c) if c == category => {
                return Err(FieldError::new(
                    "parent_id",
                    "must not be the category itself or one of its descendants",
                ));
            }
            Some(c) => at = links.get(&c).copied().flatten(),
        }
    }
    Err(FieldError::new(
        "parent_id",
        "the category tree holds a loop",
    ))
}

/// `categories` and every ancestor of each, once each (what a product in `categories` counts
/// towards: a category's count includes the products below it).
pub fn with_ancestors(categories: &[CategoryId], links: &ParentLinks) -> HashSet<CategoryId> {
    let mut out = HashSet::new();
    for &c in categories {
        let mut at = Some(c);
        while let Some(c) = at {
            if !out.insert(c) {
                break;
            }
            at = links.get(&c).copied().flatten();
        }
    }
    out
}

/// `root` and every category below it.
pub fn subtree(root: CategoryId, links: &ParentLinks) -> HashSet<CategoryId> {
    let mut children: HashMap<CategoryId, Vec<CategoryId>> = HashMap::new();
    for (&child, parent) in links {
        if let Some(parent) = parent {
            children.entry(*parent).or_default().push(child);
        }
    }
    let mut out = HashSet::from([root]);
    let mut todo = vec![root];
    while let Some(c) = todo.pop() {
        for &child in children.get(&c).into_iter().flatten() {
            if out.insert(child) {
                todo.push(child);
            }
        }
    }
    out
}

/// How a product's write changes the kept counts: the categories to count it in once more
/// (first) and once less (second). `before` and `after` are what it counted towards (see
/// [`with_ancestors`]; empty when it did not count: not active, or not there).
pub fn count_changes(
    before: &HashSet<CategoryId>,
    after: &HashSet<CategoryId>,
) -> (Vec<CategoryId>, Vec<CategoryId>) {
    let mut more: Vec<_> = after.difference(before).copied().collect();
    let mut less: Vec<_> = before.difference(after).copied().collect();
    more.sort();
    less.sort();
    (more, less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<CategoryId> {
        (0..n).map(|_| CategoryId::new()).collect()
    }

    /// a -> b -> c (c below b below a), and d at the top.
    fn tree() -> (Vec<CategoryId>, ParentLinks) {
        let c = ids(4);
        let links = ParentLinks::from([
            (c[0], None),
            (c[1], Some(c[0])),
            (c[2], Some(c[1])),
            (c[3], None),
        ]);
        (c, links)
    }

    #[test]
    fn a_category_may_not_sit_under_itself_or_below_itself() {
        let (c, links) = tree();
        let cycle = FieldError::new(
            "parent_id",
            "must not be the category itself or one of its descendants",
        );
        assert_eq!(check_parent(c[0], Some(c[0]), &links), Err(cycle.clone()));
        assert_eq!(check_parent(c[0], Some(c[1]), &links), Err(cycle.clone()));
        assert_eq!(check_parent(c[0], Some(c[2]), &links), Err(cycle.clone()));
        assert_eq!(check_parent(c[1], Some(c[2]), &links), Err(cycle));
        assert_eq!(check_parent(c[2], Some(c[0]), &links), Ok(()));
        assert_eq!(check_parent(c[0], Some(c[3]), &links), Ok(()));
        assert_eq!(check_parent(c[2], None, &links), Ok(()));
        assert_eq!(check_parent(c[1], Some(c[0]), &links), Ok(()));
        let unknown = CategoryId::new();
        assert_eq!(
            check_parent(c[0], Some(unknown), &links),
            Err(FieldError::new(
                "parent_id",
                format!("category {unknown} does not exist")
            ))
        );
        // A new category (not in the tree yet) may go anywhere that exists.
        assert_eq!(check_parent(CategoryId::new(), Some(c[2]), &links), Ok(()));
    }

    #[test]
    fn a_stored_loop_is_reported_not_walked_forever() {
        let c = ids(3);
        let links = ParentLinks::from([(c[0], Some(c[1])), (c[1], Some(c[0])), (c[2], None)]);
        assert_eq!(
            check_parent(c[2], Some(c[0]), &links),
            Err(FieldError::new(
                "parent_id",
                "the category tree holds a loop"
            ))
        );
        assert_eq!(with_ancestors(&[c[0]], &links), HashSet::from([c[0], c[1]]));
    }

    #[test]
    fn ancestors_and_subtrees() {
        let (c, links) = tree();
        assert_eq!(
            with_ancestors(&[c[2]], &links),
            HashSet::from([c[0], c[1], c[2]])
        );
        assert_eq!(
            with_ancestors(&[c[1], c[3]], &links),
            HashSet::from([c[0], c[1], c[3]])
        );
        assert!(with_ancestors(&[], &links).is_empty());
        assert_eq!(subtree(c[0], &links), HashSet::from([c[0], c[1], c[2]]));
        assert_eq!(subtree(c[1], &links), HashSet::from([c[1], c[2]]));
        assert_eq!(subtree(c[3], &links), HashSet::from([c[3]]));
    }

    #[test]
    fn a_product_counts_once_in_each_category_it_is_in_or_below() {
        let (c, links) = tree();
        // In b and c: counted once in a, b and c.
        let before = with_ancestors(&[c[1], c[2]], &links);
        // Moved to d only.
        let after = with_ancestors(&[c[3]], &links);
        let (more, less) = count_changes(&before, &after);
        assert_eq!(more, vec![c[3]]);
        let mut expected = vec![c[0], c[1], c[2]];
        expected.sort();
        assert_eq!(less, expected);
        // Into c from b: a and b keep it, c gains it.
        let (more, less) = count_changes(
            &with_ancestors(&[c[1]], &links),
            &with_ancestors(&[c[2]], &links),
        );
        assert_eq!((more, less), (vec![c[2]], vec![]));
        // Made a draft: it leaves all of them.
        let (more, less) = count_changes(&with_ancestors(&[c[3]], &links), &HashSet::new());
        assert_eq!((more, less), (vec![], vec![c[3]]));
    }

    #[test]
    fn the_links_of_categories_name_each_ones_parent() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let category = |parent| Category {
            id: CategoryId::new(),
            name: CategoryName::parse("Mugs").unwrap(),
            slug: Slug::parse("mugs").unwrap(),
            parent_id: parent,
            description: None,
            position: Position::default(),
            created_at: at,
            updated_at: at,
        };
        let top = category(None);
        let below = category(Some(top.id));
        let links = links_of(&[top.clone(), below.clone()]);
        assert_eq!(
            links,
            ParentLinks::from([(top.id, None), (below.id, Some(top.id))])
        );
    }

    #[test]
    fn positions_and_names() {
        assert_eq!(Position::new(0).unwrap().get(), 0);
        assert_eq!(Position::new(1_000_000).unwrap().get(), 1_000_000);
        assert_eq!(
            Position::new(-1).unwrap_err(),
            FieldError::new("position", "must be a whole number from 0 to 1000000")
        );
        assert_eq!(Position::new(1_000_001).unwrap_err().field, "position");
        assert_eq!(Position::default().get(), 0);
        assert_eq!(CategoryName::parse(" Mugs ").unwrap().as_str(), "Mugs");
        assert_eq!(CategoryName::parse(" ").unwrap_err().field, "name");
    }
}
