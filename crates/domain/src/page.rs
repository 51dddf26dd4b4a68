use crate::error::FieldError;

/// A validated page request: `page` is 1-based, `per_page` within 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
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
        Ok(Self { page, per_page })
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Items per page.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// One page of a list, with the total across all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, in list order.
    pub items: Vec<T>,
    /// Which page this is.
    pub request: PageRequest,
    /// Items across all pages.
    pub total: u64,
}

impl<T> Page<T> {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        assert_eq!(p.total_pages(), 7);
    }
}
