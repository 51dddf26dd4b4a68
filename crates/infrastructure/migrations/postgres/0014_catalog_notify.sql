-- Every instance keeps the catalog's answers in memory (CATALOG_CACHE_MAX_BYTES) and must
-- hear of every write to what they show, whoever made it: another instance, a worker, a
-- script. Each statement that writes a product, a variant, an image, a category or a
-- product's categories notifies channel shop_catalog; PostgreSQL sends the notification at
-- commit (never for a transaction rolled back) and folds identical ones of one transaction
-- into one.
CREATE FUNCTION shop_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shop_catalog', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER products_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON products FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed();
CREATE TRIGGER product_variants_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_variants FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed();
CREATE TRIGGER product_images_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_images FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed();
CREATE TRIGGER product_categories_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_categories FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed();
CREATE TRIGGER categories_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON categories FOR EACH STATEMENT EXECUTE FUNCTION shop_catalog_changed();
