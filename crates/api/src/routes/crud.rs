//! What the admin resources kept by one service (promotions, shipping options, tax rates,
//! webhook endpoints) share: their five handlers and OpenAPI operations, written by one macro.
//! The handlers resolve `AppState`, `Auth`, the DTOs and the extractors where the macro is used.

/// Writes the five handlers of an admin resource kept by one service of `AppState` (`create`,
/// `list`, `get`, `update`, `delete`) with their `#[utoipa::path]`s. Each operation keeps its own
/// doc comment (its summary and description), operation id, bodies and examples; the macro writes
/// what every such resource answers alike: bearer security, the `id` and paging parameters, 403
/// to a caller who is not an admin, 404 for an unknown id, 422 for invalid fields or parameters,
/// 409 on create and update where the resource has a `conflict`, and the links of a 201.
macro_rules! admin_crud {
    (
        service: $service:ident, id: $Id:ident, path: $path:tt, tag: $tag:tt,
        one: $one:tt, One: $One:tt, many: $many:tt,
        $(conflict: $conflict:tt,)?

        $(#[doc = $create_doc:tt])*
        create $create_id:tt ($CreateRequest:ident, example = $create_example:ident)
            => $created:tt ($Created:ident, example = $created_example:ident),
            location: $location:tt, link: $link:tt,
            $(more_links: [$($more_links:tt)*],)?
            invalid: $invalid:tt;

        $(#[doc = $list_doc:tt])*
        list $list_id:tt ($Page:ident, example = $page_example:ident),
            cursor of: $cursor_of:tt;

        $(#[doc = $get_doc:tt])*
        get $get_id:tt ($Response:ident, example = $example:ident);

        $(#[doc = $update_doc:tt])*
        update $update_id:tt ($UpdateRequest:ident, example = $update_example:tt);

        $(#[doc = $delete_doc:tt])*
        delete $delete_id:tt;
    ) => {
        $(#[doc = $create_doc])*
        #[utoipa::path(post, path = $path, tag = $tag, operation_id = $create_id,
            request_body(content = $CreateRequest, example = json!($crate::openapi::examples::$create_example())),
            security(("bearer" = [])),
            responses(
                (status = 201, description = $created, body = $Created,
                    headers(("Location" = String, description = $location)),
                    links(
                        ($get_id = (operation_id = $get_id, parameters(("id" = "$response.body#/id")), description = $link)),
                        ($update_id = (operation_id = $update_id, parameters(("id" = "$response.body#/id")), description = "Change it")),
                        ($delete_id = (operation_id = $delete_id, parameters(("id" = "$response.body#/id")), description = "Remove it")),
                        $($($more_links)*)?
                    ),
                    example = json!($crate::openapi::examples::$created_example())),
                (status = 403, description = "Not an admin", body = $crate::error::Problem, content_type = "application/problem+json"),
                $((status = 409, description = $conflict, body = $crate::error::Problem, content_type = "application/problem+json"),)?
                (status = 422, description = $invalid, body = $crate::error::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn create(
            State(state): State<AppState>,
            Auth(actor): Auth,
            AppJson(body): AppJson<$CreateRequest>,
        ) -> Result<impl IntoResponse, ApiError> {
            let made = state.$service.create(&actor, body.into()).await?;
            let location = format!("{}/{}", $path, made.id);
            Ok(created(location, $Created::from(made)))
        }

        $(#[doc = $list_doc])*
        #[utoipa::path(get, path = $path, tag = $tag, operation_id = $list_id,
            params(
                ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
                ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
                ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = concat!("Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to ", $cursor_of, ", is refused (422 on `cursor`)")),
            ),
            security(("bearer" = [])),
            responses(
                (status = 200, description = concat!("A page of ", $many), body = $Page, example = json!($crate::openapi::examples::$page_example())),
                (status = 403, description = "Not an admin", body = $crate::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "A parameter is invalid (page or per_page out of range, a cursor of another list or one that was changed); `errors` names it", body = $crate::error::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn list(
            State(state): State<AppState>,
            Auth(actor): Auth,
            PageQuery(page): PageQuery,
        ) -> Result<Json<$Page>, ApiError> {
            Ok(Json(state.$service.list(&actor, page).await?.into()))
        }

        $(#[doc = $get_doc])*
        #[utoipa::path(get, path = concat!($path, "/{id}"), tag = $tag, operation_id = $get_id,
            params(("id" = uuid::Uuid, Path, description = concat!($One, " id"))),
            security(("bearer" = [])),
            responses(
                (status = 200, description = concat!("The ", $one), body = $Response, example = json!($crate::openapi::examples::$example())),
                (status = 403, description = "Not an admin", body = $crate::error::Problem, content_type = "application/problem+json"),
                (status = 404, description = concat!("No such ", $one), body = $crate::error::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn get(
            State(state): State<AppState>,
            Auth(actor): Auth,
            IdPath(id): IdPath,
        ) -> Result<Json<$Response>, ApiError> {
            Ok(Json(state.$service.get(&actor, $Id::from_uuid(id)).await?.into()))
        }

        $(#[doc = $update_doc])*
        #[utoipa::path(put, path = concat!($path, "/{id}"), tag = $tag, operation_id = $update_id,
            request_body(content = $UpdateRequest, example = json!($update_example)),
            params(("id" = uuid::Uuid, Path, description = concat!($One, " id"))),
            security(("bearer" = [])),
            responses(
                (status = 200, description = concat!("The changed ", $one), body = $Response, example = json!($crate::openapi::examples::$example())),
                (status = 403, description = "Not an admin", body = $crate::error::Problem, content_type = "application/problem+json"),
                (status = 404, description = concat!("No such ", $one), body = $crate::error::Problem, content_type = "application/problem+json"),
                $((status = 409, description = $conflict, body = $crate::error::Problem, content_type = "application/problem+json"),)?
                (status = 422, description = "Invalid fields", body = $crate::error::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn update(
            State(state): State<AppState>,
            Auth(actor): Auth,
            IdPath(id): IdPath,
            AppJson(body): AppJson<$UpdateRequest>,
        ) -> Result<Json<$Response>, ApiError> {
            let changed = state
                .$service
                .update(&actor, $Id::from_uuid(id), body.into())
                .await?;
            Ok(Json(changed.into()))
        }

        $(#[doc = $delete_doc])*
        #[utoipa::path(delete, path = concat!($path, "/{id}"), tag = $tag, operation_id = $delete_id,
            params(("id" = uuid::Uuid, Path, description = concat!($One, " id"))),
            security(("bearer" = [])),
            responses(
                (status = 204, description = "Deleted"),
                (status = 403, description = "Not an admin", body = $crate::error::Problem, content_type = "application/problem+json"),
                (status = 404, description = concat!("No such ", $one), body = $crate::error::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn delete(
            State(state): State<AppState>,
            Auth(actor): Auth,
            IdPath(id): IdPath,
        ) -> Result<StatusCode, ApiError> {
            state.$service.delete(&actor, $Id::from_uuid(id)).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}
pub(crate) use admin_crud;
