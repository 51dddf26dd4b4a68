//! Every error the API answers, as RFC 9457 `application/problem+json`.

use application::AppError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One rejected field of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// Dotted path of the field (`price.amount`), or the query parameter (`page`).
    #[schema(example = "price.amount")]
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[schema(example = "/problems/validation")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// On validation failures: each rejected field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Option<Vec<ProblemField>>,
    www_authenticate: Option<&'static str>,
}

impl ApiError {
    /// An error of `status` with its standard title.
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            title: status.canonical_reason().unwrap_or("Error"),
            detail: detail.into(),
            errors: None,
            www_authenticate: None,
        }
    }

    /// 422 listing the rejected fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
        e.title = "Validation failed";
        e.errors = Some(
            errors
                .into_iter()
                .map(|f| ProblemField {
                    field: f.field,
                    message: f.message,
                })
                .collect(),
        );
        e
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        e.www_authenticate = Some(if invalid_token {
            "Bearer error=\"invalid_token\""
        } else {
            "Bearer"
        });
        e
    }

    /// 404 for any path, resource or hidden object.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "no such resource")
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(errors) => Self::validation(errors),
            AppError::NotFound => Self::not_found(),
            AppError::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs the admin role",
            ),
            AppError::Unauthorized => Self::unauthorized("invalid credentials or token", false),
            AppError::Conflict { field, message } => {
                let mut e = Self::new(StatusCode::CONFLICT, "conflict", message.clone());
                e.errors = field.map(|f| {
                    vec![ProblemField {
                        field: f.to_owned(),
                        message,
                    }]
                });
                e
            }
            AppError::BadRequest(message) => {
                Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
            }
            AppError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("the file is larger than {limit} bytes"),
            ),
            AppError::UnsupportedMediaType(message) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                message,
            ),
            AppError::Unavailable { dependency, source } => {
                tracing::warn!(dependency, error = %error_chain(&*source), "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("the {dependency} is unavailable; try again shortly"),
                )
            }
            AppError::Internal(source) => {
                tracing::error!(error = %error_chain(&*source), "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred",
                )
            }
        }
    }
}

/// The error and all its causes on one line, for the log.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("/problems/{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Gives a problem+json body to error responses made by the framework or middleware
/// (405, 413, 408 and the like), which otherwise come with an empty body.
pub async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let (slug, detail) = match status {
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "this method is not allowed on this resource",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
            // Only the request timeout answers a bare 503.
            StatusCode::SERVICE_UNAVAILABLE => {
                ("timeout", "the request took too long; try again shortly")
            }
            StatusCode::NOT_FOUND => ("not-found", "no such resource"),
            _ => ("error", "the request could not be served"),
        };
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut r = ApiError::new(status, slug, detail).into_response();
        if let Some(allow) = allow {
            r.headers_mut().insert(header::ALLOW, allow);
        }
        return r;
    }
    response
}
