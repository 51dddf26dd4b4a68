-- Cursor pages of the public catalog in its price and name orders: each index holds the live
-- active products in exactly the order the list reads them (the key, then newest), so a page
-- after a cursor is a seek and a short read, at any depth, instead of a scan and a sort of the
-- whole catalog. The name key is the case-folded name: `search_text` up to its separator
-- (char 31), the expression the list sorts by. Admin lists over other statuses, and lists
-- narrowed by a search, a category or a price range, still scan (what they scan is smaller).
CREATE INDEX products_active_price_asc ON products (price_minor ASC, seq DESC)
    WHERE deleted_at IS NULL AND status = 'active';
CREATE INDEX products_active_price_desc ON products (price_minor DESC, seq DESC)
    WHERE deleted_at IS NULL AND status = 'active';
CREATE INDEX products_active_name ON products (
    substr(search_text, 1, instr(search_text || char(31), char(31)) - 1), seq DESC
) WHERE deleted_at IS NULL AND status = 'active';
