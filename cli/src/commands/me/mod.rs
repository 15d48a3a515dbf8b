//! `onboard me`: a signed-in user's own account, through the API a browser
//! uses: `GET /hello` and `GET /me/data` to show it, `PATCH /me` to rename,
//! `GET /me/data` to a file, `DELETE /me` to erase it.
//!
//! With `--api URL` the requests go to that API (a deployed stage, or an
//! `onboard serve`); without, to the API served in-process on loopback
//! over the stack's resources, with the same authorizer and handlers as
//! `onboard serve`.

pub mod command;

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::Value;
use tokio::sync::watch;

use crate::commands::serve::{self, ServeError, ServeState};
use crate::stack::{Names, UserPool};

/// Why a request to the API did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum MeError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("the API did not answer")]
    Http(#[from] reqwest::Error),
    #[error("cannot listen on 127.0.0.1")]
    Listen(#[source] std::io::Error),
}

/// The API as the signed-in user calls it.
pub struct MeApi {
    http: reqwest::Client,
    base: String,
    token: String,
    /// Stops the in-process API, when there is one.
    _serving: Option<watch::Sender<bool>>,
}

/// An answer: its status and its JSON body (`null` when it has none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The API's own message, or the status.
    pub fn message(&self) -> String {
        let mut message = self.body["message"]
            .as_str()
            .map_or_else(|| format!("HTTP {}", self.status), str::to_owned);
        if let Some(errors) = self.body["errors"].as_array() {
            let errors: Vec<&str> = errors.iter().filter_map(Value::as_str).collect();
            if !errors.is_empty() {
                message = format!("{message}: {}", errors.join("; "));
            }
        }
        message
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl std::fmt::Debug for MeApi {
    // Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl MeApi {
    /// The API at `base` (`https://…/prod`, `http://127.0.0.1:3000`).
    pub fn at(base: &str, token: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token,
            _serving: None,
        }
    }

    /// The API served in-process on loopback over the stack's resources.
    pub async fn in_process(
        sdk: &SdkConfig,
        names: &Names,
        pool: &UserPool,
        token: String,
    ) -> Result<Self, MeError> {
        let state = ServeState::for_stack(sdk, names, pool, Duration::ZERO).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(MeError::Listen)?;
        let address = listener.local_addr().map_err(MeError::Listen)?;
        let (stop, mut stopped) = watch::channel(false);
        let served =
            axum::serve(listener, serve::app(Arc::new(state))).with_graceful_shutdown(async move {
                let _ = stopped.changed().await;
            });
        tokio::spawn(async move {
            if let Err(err) = served.await {
                tracing::error!(error = %err, "the in-process API stopped");
            }
        });
        Ok(Self {
            _serving: Some(stop),
            ..Self::at(&format!("http://{address}"), token)
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer, MeError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.token);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    pub async fn hello(&self, seen: Option<u64>) -> Result<Answer, MeError> {
        let path = seen.map_or_else(|| "/hello".to_owned(), |v| format!("/hello?version={v}"));
        self.send(reqwest::Method::GET, &path, None).await
    }

    pub async fn data(&self) -> Result<Answer, MeError> {
        self.send(reqwest::Method::GET, "/me/data", None).await
    }

    pub async fn rename(&self, name: &str) -> Result<Answer, MeError> {
        let body = serde_json::json!({ "name": name }).to_string();
        self.send(reqwest::Method::PATCH, "/me", Some(body)).await
    }

    pub async fn delete(&self) -> Result<Answer, MeError> {
        self.send(reqwest::Method::DELETE, "/me", None).await
    }
}
