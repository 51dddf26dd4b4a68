use crate::cursor::SortKeys;
use crate::error::FieldError;

/// A validated page request: `page` is 1-based, `per_page` within 1..=100; with a cursor
/// (`after`), the page starts after that position and `page` is 1 (a cursor's page has no
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
    /// The list's identity that its cursors carry (path, filters, sort); empty until named.
    list: String,
    after: Option<SortKeys>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
            list: String::new(),
            after: None,
        }
    }
}

impl PageRequest {
    /// Largest page size a client may ask for.
    pub const MAX_PER_PAGE: u32 = 100;
    /// Page size when the client names none.
    pub const DEFAULT_PER_PAGE: u32 = 20;
    /// Highest page number accepted; keeps `OFFSET` within range on every database.
    pub const MAX_PAGE: u32 = 1_000_000;

    /// Checks both numbers against their ranges.
    ///
    /// # Errors
    /// A `FieldError` on `page` or `per_page` when out of range.
    pub fn new(page: u32, per_page: u32) -> Result<Self, FieldError> {
        if !(1..=Self::MAX_PAGE).contains(&page) {
            return Err(FieldError::new(
                "page",
                format!("must be a whole number from 1 to {}", Self::MAX_PAGE),
            ));
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            return Err(FieldError::new(
                "per_page",
                format!("must be a whole number from 1 to {}", Self::MAX_PER_PAGE),
            ));
        }
        Ok(Self {
            page,
            per_page,
            list: String::new(),
            after: None,
        })
    }

    /// The same request, in the list named `list` (what its cursors are bound to: the list,
    /// its filters and its sort).
    #[must_use]
    pub fn in_list(mut self, list: impl Into<String>) -> Self {
        self.list = list.into();
        self
    }

    /// The same request, starting after the position the cursor `raw` names; `page` becomes 1.
    /// Call after [`PageRequest::in_list`]: the cursor must belong to that list.
    ///
    /// # Errors
    /// A `FieldError` on `cursor` when `raw` is not an intact cursor of this list.
    pub fn after(mut self, raw: &str) -> Result<Self, FieldError> {
        self.after = Some(SortKeys::decode(raw, &self.list)?);
        self.page = 1;
        Ok(self)
    }

    /// Where the page starts, when a cursor was given.
    pub fn position(&self) -> Option<&SortKeys> {
        self.after.as_ref()
    }

    /// The list this request's cursors belong to.
    pub fn list(&self) -> &str {
        &self.list
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Items per page.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Rows to skip: none after a cursor.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

/// One page of a list, with the total across all pages and, unless it is the last, where the
/// next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, in list order.
    pub items: Vec<T>,
    /// Which page this is.
    pub request: PageRequest,
    /// Items across all pages; a lower bound when `total_is_estimate`.
    pub total: u64,
    /// Counting stopped at [`Page::COUNT_LIMIT`] + 1: more items than `total` may follow.
    pub total_is_estimate: bool,
    /// The position of this page's last item when more follow it; `None` on the last page.
    pub next: Option<SortKeys>,
}

impl<T> Page<T> {
    /// The most items a list counts one by one (API.md: a total above 10,000 may be an
    /// estimate). A list that finds more stops counting at one past it and says so.
    pub const COUNT_LIMIT: u64 = 10_000;

    /// The page `request` names of a list with nothing in it.
    pub fn empty(request: PageRequest) -> Self {
        Self {
            items: Vec::new(),
            request,
            total: 0,
            total_is_estimate: false,
            next: None,
        }
    }

    /// The cursor of the next page, bound to this page's list; `None` on the last page.
    pub fn next_cursor(&self) -> Option<String> {
        self.next.as_ref().map(|p| p.encode(self.request.list()))
    }

    /// Number of pages for `total` (0 when the list is empty).
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.per_page()))
    }

    /// The same page with each item mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            request: self.request,
            total: self.total,
            total_is_estimate: self.total_is_estimate,
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::KeyPart;

    #[test]
    fn ranges_are_enforced() {
        assert!(PageRequest::new(0, 20).is_err());
        assert!(PageRequest::new(1, 0).is_err());
        assert!(PageRequest::new(1, 101).is_err());
        assert_eq!(PageRequest::new(3, 20).unwrap().offset(), 40);
    }

    #[test]
    fn total_pages_rounds_up() {
        let p = Page::<()> {
            items: vec![],
            request: PageRequest::new(1, 20).unwrap(),
            total: 137,
            total_is_estimate: false,
            next: None,
        };
        assert_eq!(p.total_pages(), 7);
    }

    #[test]
    fn page_and_size_are_accepted_exactly_within_their_ranges() {
        let r = PageRequest::new(1, 1).unwrap();
        assert_eq!((r.page(), r.per_page(), r.offset()), (1, 1, 0));
        let r = PageRequest::new(PageRequest::MAX_PAGE, 100).unwrap();
        assert_eq!((r.page(), r.per_page()), (1_000_000, 100));
        assert_eq!(r.offset(), 99_999_900);
        assert_eq!(
            PageRequest::new(0, 20).unwrap_err().message,
            "must be a whole number from 1 to 1000000"
        );
        assert_eq!(PageRequest::new(1_000_001, 20).unwrap_err().field, "page");
        assert_eq!(
            PageRequest::new(1, 101).unwrap_err(),
            FieldError::new("per_page", "must be a whole number from 1 to 100")
        );
        assert_eq!(PageRequest::new(1, 0).unwrap_err().field, "per_page");
        assert_eq!(PageRequest::new(2, 20).unwrap().offset(), 20);
    }

    #[test]
    fn the_default_page_is_the_first_of_twenty() {
        let r = PageRequest::default();
        assert_eq!((r.page(), r.per_page(), r.offset()), (1, 20, 0));
    }

    #[test]
    fn page_counts_for_empty_exact_and_partial_lists() {
        let pages = |total: u64, per_page: u32| {
            Page::<()> {
                items: vec![],
                request: PageRequest::new(1, per_page).unwrap(),
                total,
                total_is_estimate: false,
                next: None,
            }
            .total_pages()
        };
        assert_eq!(pages(0, 20), 0);
        assert_eq!(pages(1, 20), 1);
        assert_eq!(pages(20, 20), 1);
        assert_eq!(pages(21, 20), 2);
        assert_eq!(pages(5, 1), 5);
    }

    #[test]
    fn mapping_a_page_keeps_its_request_and_total() {
        let request = PageRequest::new(2, 3).unwrap();
        let next = Some(SortKeys::new(vec![KeyPart::Int(3)]));
        let page = Page {
            items: vec![1, 2, 3],
            request: request.clone(),
            total: 9,
            total_is_estimate: false,
            next: next.clone(),
        }
        .map(|n| n * 10);
        assert_eq!(page.items, vec![10, 20, 30]);
        assert_eq!(page.request, request);
        assert_eq!(page.total, 9);
        assert_eq!(page.next, next);
    }

    #[test]
    fn a_cursor_request_starts_after_its_position_on_page_one() {
        let first = PageRequest::new(1, 2).unwrap().in_list("/events");
        assert_eq!(first.list(), "/events");
        assert_eq!(first.position(), None);
        let at = SortKeys::new(vec![KeyPart::Int(5)]);
        let page = Page {
            items: vec!["a", "b"],
            request: first.clone(),
            total: 5,
            total_is_estimate: false,
            next: Some(at.clone()),
        };
        let cursor = page.next_cursor().unwrap();
        assert_eq!(cursor, at.encode("/events"));
        let next = PageRequest::new(7, 2)
            .unwrap()
            .in_list("/events")
            .after(&cursor)
            .unwrap();
        assert_eq!(next.position(), Some(&at));
        assert_eq!((next.page(), next.per_page(), next.offset()), (1, 2, 0));
        // Bound to its list: the same cursor in another list is refused on `cursor`.
        let e = PageRequest::default()
            .in_list("/orders")
            .after(&cursor)
            .unwrap_err();
        assert_eq!(e.field, "cursor");
        assert_eq!(Page::<()>::empty(first).next_cursor(), None);
    }
}
