//! `onboard serve`: the API on 127.0.0.1, the way API Gateway serves it
//! behind a Cognito authorizer (`GET /hello` and `GET /me/data` by the
//! greeting, `PATCH /me` and `DELETE /me` by the account function); on an
//! emulator also `GET /`, the sign-in page that ships, with a local
//! stand-in for the hosted UI ([`crate::commands::serve::hosted_ui`]) on a
//! port of its own. API Gateway's request validator is the account
//! function's own check of the same schema.
//!
//! The [`Authorizer`] (`authorizer.rs`) does the authorizer's part. A
//! request without a valid ID token gets API Gateway's 401 and never
//! reaches the function. A valid one reaches the real greeting handler as a
//! REST proxy event with the token's claims, as strings, under
//! `requestContext.authorizer.claims`.

pub mod command;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use account::Account;
use aws_config::SdkConfig;
use aws_lambda_events::encodings::Body as LambdaBody;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use greeting::Greeter;
use onboard_shared::config::{AccountConfig, AccountsRead, GreetingConfig};
use serde_json::Value;
use tokio::sync::watch;

pub use authorizer::{AuthError, Authorizer};
use authorizer::{as_strings, token};
use hosted_ui::HostedUi;

mod authorizer;
pub mod hosted_ui;
use crate::stack::{self, Names, UserPool};

/// What the server needs.
pub struct ServeState {
    pub greeter: Greeter,
    pub account: Account,
    pub authorizer: Authorizer,
    /// The sign-in page's settings, where it is served.
    pub page: Option<PageSettings>,
}

/// What API Gateway's stage gives the sign-in page, and where it is served.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The hosted UI's origin (the stage variable `authUrl`).
    pub auth_url: String,
    /// The web app client (the stage variable `clientId`).
    pub client_id: String,
    /// Where the page is served: `127.0.0.1:<port>`.
    pub host: String,
    /// The stage variables of a person's own credentials (`identityPoolId`,
    /// `identityUrl`, `archiveUrl`, `region`): the emulator's endpoints.
    pub own_credentials: Vec<(&'static str, String)>,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error(transparent)]
    Authorizer(#[from] AuthError),
    #[error("the greeting's settings")]
    Config(#[from] greeting::NotAnOrigin),
    #[error("the account function's settings")]
    AccountConfig(#[source] account::NotAnOrigin),
    #[error("cannot listen on 127.0.0.1:{port}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped")]
    Stopped(#[source] std::io::Error),
}

/// How `onboard serve` runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// The greeting's port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The local hosted UI's port on 127.0.0.1 (0 picks a free one).
    pub hosted_ui_port: u16,
    /// How long the greeting reuses a name it read.
    pub name_cache: Duration,
}

/// Serves the greeting API for a stack's pool until `stop` turns true; on
/// an emulator, also the sign-in page and a local hosted UI for it.
pub async fn run(
    sdk: SdkConfig,
    names: Names,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = stack::find_user_pool(&cognito, &names).await?;
    let state = ServeState::for_stack(&sdk, &names, &pool, options.name_cache).await?;
    let (listener, address) = bind(options.port).await?;
    crate::outln!(
        "serving GET /hello on http://{address}/hello, with GET /me/data, PATCH /me and DELETE /me beside it (user pool {})",
        pool.pool_id
    );
    // Only an emulator lacks the hosted UI; on AWS the stack's own serves
    // the page's sign-in, with the deployed page as its callback.
    let page = if sdk.endpoint_url().is_some() {
        let (auth_listener, auth_address) = bind(options.hosted_ui_port).await?;
        let page_url = format!("http://{address}/");
        let hosted_ui = HostedUi::new(&sdk, &names, pool.clone(), page_url.clone());
        let mut stop = stop.clone();
        let served = axum::serve(auth_listener, hosted_ui::app(Arc::new(hosted_ui)))
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            });
        tokio::spawn(async move {
            if let Err(err) = served.await {
                tracing::error!(error = %err, "the local hosted UI stopped");
            }
        });
        crate::outln!(
            "serving the sign-in page on {page_url} with a local hosted UI on http://{auth_address} (sign-up codes are printed here)"
        );
        Some(PageSettings {
            auth_url: format!("http://{auth_address}"),
            client_id: pool.web_client_id.clone(),
            host: address.to_string(),
            own_credentials: own_credentials(&sdk, &names, &pool).await?,
        })
    } else {
        None
    };
    let app = app(Arc::new(ServeState { page, ..state }));
    let mut stop = stop;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await
        .map_err(ServeError::Stopped)
}

/// On an emulator, the stage variables that let the page fetch a person's
/// archive object with their own credentials: the emulator is the identity
/// pool's endpoint and, path-style, the bucket's.
async fn own_credentials(
    sdk: &SdkConfig,
    names: &Names,
    pool: &UserPool,
) -> Result<Vec<(&'static str, String)>, ServeError> {
    let endpoint = sdk
        .endpoint_url()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let identity_pool =
        stack::find_identity_pool(&aws_sdk_cognitoidentity::Client::new(sdk), names).await?;
    Ok(vec![
        ("identityPoolId", identity_pool),
        ("identityUrl", endpoint.clone()),
        ("archiveUrl", format!("{endpoint}/{}", names.bucket)),
        ("region", pool.region().to_owned()),
    ])
}

impl ServeState {
    /// The functions API Gateway routes to and its authorizer, over a
    /// stack's pool, table, bucket and parameters (no page: [`run`] adds it
    /// where it serves one).
    pub async fn for_stack(
        sdk: &SdkConfig,
        names: &Names,
        pool: &UserPool,
        name_cache: Duration,
    ) -> Result<Self, ServeError> {
        let authorizer = Authorizer::new(
            pool.jwks_url(sdk.endpoint_url()),
            pool.issuer(),
            &pool.audiences(),
        )
        .await?;
        let config = GreetingConfig {
            parameter_prefix: names.parameter_prefix.clone(),
            cache_ttl: name_cache,
            allowed_origin: None,
            accounts: Some(AccountsRead {
                users_table: names.table.clone(),
                archive_bucket: names.bucket.clone(),
                force_path_style: stack::path_style(sdk),
            }),
        };
        let greeter = Greeter::from_config(&config, sdk)?;
        let account = Account::from_config(
            &AccountConfig {
                users_table: names.table.clone(),
                user_pool_id: pool.pool_id.clone(),
                allowed_origin: None,
            },
            sdk,
        )
        .map_err(ServeError::AccountConfig)?;
        Ok(Self {
            greeter,
            account,
            authorizer,
            page: None,
        })
    }
}

/// A listener on 127.0.0.1 and the address it got.
async fn bind(port: u16) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), ServeError> {
    let listen = |source| ServeError::Listen { port, source };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(listen)?;
    let address = listener.local_addr().map_err(listen)?;
    Ok((listener, address))
}

impl std::fmt::Debug for ServeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeState")
            .field("authorizer", &self.authorizer)
            .finish_non_exhaustive()
    }
}

/// The routes: `GET /hello`, `GET /me/data`, `PATCH /me`, `DELETE /me`,
/// and `GET /` where the page is served.
pub fn app(state: Arc<ServeState>) -> axum::Router {
    axum::Router::new()
        .route("/hello", axum::routing::get(authorized))
        .route("/me/data", axum::routing::get(authorized))
        .route("/me", axum::routing::patch(authorized).delete(authorized))
        .route("/", axum::routing::get(sign_in_page))
        .with_state(state)
}

/// `GET /`: the page API Gateway serves without an authorizer, with the
/// stage's variables, as API Gateway passes them.
async fn sign_in_page(State(state): State<Arc<ServeState>>, headers: HeaderMap) -> Response {
    let Some(page) = &state.page else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"Not Found"}"#,
        )
            .into_response();
    };
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = Method::GET;
    request.path = Some("/".to_owned());
    request.resource = Some("/".to_owned());
    request.headers = headers;
    request.headers.insert(
        "x-forwarded-proto",
        axum::http::HeaderValue::from_static("http"),
    );
    request.stage_variables = HashMap::from([
        ("authUrl".to_owned(), page.auth_url.clone()),
        ("clientId".to_owned(), page.client_id.clone()),
    ]);
    for (name, value) in &page.own_credentials {
        request
            .stage_variables
            .insert((*name).to_owned(), value.clone());
    }
    let context = &mut request.request_context;
    context.domain_name = Some(page.host.clone());
    context.path = Some("/".to_owned());
    context.stage = Some("local".to_owned());
    into_response(greeting::handle(&state.greeter, request).await)
}

/// A request behind the authorizer, handed to the function API Gateway
/// routes its resource to.
async fn authorized(
    State(state): State<Arc<ServeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
    let verified = match token(&headers) {
        Ok(token) => state.authorizer.verify(token, now).await,
        Err(err) => Err(err),
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(err) => {
            tracing::info!(reason = %err, path = uri.path(), "refused a request");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"message":"Unauthorized"}"#,
            )
                .into_response();
        }
    };
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = method.clone();
    request.path = Some(uri.path().to_owned());
    request.resource = Some(uri.path().to_owned());
    request.headers = headers;
    request.query_string_parameters = query_parameters(&uri);
    if !body.is_empty() {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => request.body = Some(text),
            Err(bytes) => {
                use base64::Engine;
                request.body =
                    Some(base64::engine::general_purpose::STANDARD.encode(bytes.into_bytes()));
                request.is_base64_encoded = true;
            }
        }
    }
    request
        .request_context
        .authorizer
        .fields
        .insert("claims".to_owned(), Value::Object(as_strings(claims)));
    let response = if uri.path() == "/me" {
        account::handle(&state.account, request).await
    } else {
        greeting::handle(&state.greeter, request).await
    };
    into_response(response)
}

/// The query string as API Gateway passes it to a proxy integration.
fn query_parameters(uri: &Uri) -> aws_lambda_events::query_map::QueryMap {
    let mut pairs: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        pairs
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    pairs.into()
}

/// API Gateway's translation of a proxy response into HTTP.
fn into_response(lambda: ApiGatewayProxyResponse) -> Response {
    let status = u16::try_from(lambda.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match lambda.body {
        Some(LambdaBody::Text(text)) => text.into_bytes(),
        Some(LambdaBody::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in lambda
        .multi_value_headers
        .iter()
        .chain(lambda.headers.iter())
    {
        headers.insert(name.clone(), value.clone());
    }
    response
}
