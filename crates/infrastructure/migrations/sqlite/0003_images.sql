-- Product images. The bytes are in the file store under `storage_key` (a key the shop made)
-- and, on Google Drive, under the file id `storage_file_id` (Drive allows two files of one
-- name). A row exists only while its file does.
CREATE TABLE product_images (
    id               BLOB PRIMARY KEY NOT NULL,
    product_id       BLOB NOT NULL REFERENCES products (id),
    content_type     TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif')),
    size_bytes       INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256           TEXT NOT NULL CHECK (length(sha256) = 64),
    storage_key      TEXT NOT NULL UNIQUE,
    storage_file_id  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- A product's images in upload order (ids are time-ordered), for one product or a whole page.
CREATE INDEX product_images_by_product ON product_images (product_id, id);
