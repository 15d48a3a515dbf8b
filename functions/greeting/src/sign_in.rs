//! `GET /`: the page the hosted UI sends a person back to. Its script runs
//! the authorization code flow with PKCE, then calls `/hello` with the ID
//! token and shows the greeting.
//!
//! Its settings come from the API stage's variables: `authUrl`, where the
//! hosted UI is (`https://<prefix>.auth.<region>.amazoncognito.com`), and
//! `clientId`, the app client (the client's callback names this API, so the
//! function's own environment cannot hold them). The callback URL is the
//! page's own, from the request. HTTPS throughout, except on loopback
//! (`http://127.0.0.1:<port>`, `http://localhost:<port>`), where
//! `onboard serve` serves this same page beside a local stand-in for the
//! hosted UI; browsers treat loopback as a secure origin too.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderValue, header};
use serde_json::json;

use onboard_shared::api::{json_response, response};

const SIGN_IN_HTML: &str = include_str!("sign-in.html");
const SIGN_IN_SCRIPT: &str = include_str!("sign-in.js");

/// The sign-in page for this request; 500 when the stage lacks its settings.
pub fn sign_in_page(request: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    let stage_variable = |name: &str| {
        request
            .stage_variables
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let (Some(auth_url), Some(client_id), Some(redirect_uri)) = (
        stage_variable("authUrl").and_then(origin),
        stage_variable("clientId"),
        page_url(request),
    ) else {
        tracing::error!(
            "the sign-in page needs the stage variables authUrl (an https origin) and clientId, and the request's domain name and path"
        );
        return json_response(
            500,
            json!({ "message": "The sign-in page is not configured" }),
        );
    };
    let attribute = |value: &str| html_escape::encode_double_quoted_attribute(value).into_owned();
    let body = SIGN_IN_HTML
        .replace("{{AUTH_URL}}", &attribute(&auth_url))
        .replace("{{CLIENT_ID}}", &attribute(client_id))
        .replace("{{REDIRECT_URI}}", &attribute(&redirect_uri))
        .replace("{{SCRIPT}}", SIGN_IN_SCRIPT);
    let mut page = response(200, "text/html; charset=utf-8", body);
    let policy = format!(
        "default-src 'none'; script-src '{}'; style-src 'unsafe-inline'; connect-src 'self' {auth_url}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        script_hash()
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        page.headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    page.headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    page
}

/// The URL the browser asked for, without its query: the callback the
/// hosted UI returns to. API Gateway puts the stage (or a custom domain's
/// base path) in the request context's path and says `https` in
/// `X-Forwarded-Proto`.
fn page_url(request: &ApiGatewayProxyRequest) -> Option<String> {
    let context = &request.request_context;
    let host = context.domain_name.as_deref()?;
    let path = match (&context.path, &context.stage) {
        (Some(path), _) if path.starts_with('/') => path.clone(),
        (_, Some(stage)) => format!("/{stage}/"),
        _ => return None,
    };
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
    {
        return None;
    }
    let scheme = request
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("https");
    origin(&format!("{scheme}://{host}")).map(|origin| format!("{origin}{path}"))
}

/// `value` as an origin the page may talk to: `https://<host name>`, or
/// `http://<loopback>:<port>`. A trailing `/` is dropped; anything else
/// (a path, credentials, another scheme) is refused.
fn origin(value: &str) -> Option<String> {
    let value = value.strip_suffix('/').unwrap_or(value);
    if let Some(host) = value.strip_prefix("https://") {
        return is_host_name(host).then(|| value.to_owned());
    }
    let authority = value.strip_prefix("http://")?;
    let (host, port) = authority.rsplit_once(':')?;
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    (loopback && port_ok).then(|| value.to_owned())
}

/// The CSP source that lets the page's one inline script, and no other, run.
fn script_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let digest = ring::digest::digest(&ring::digest::SHA256, SIGN_IN_SCRIPT.as_bytes());
        format!(
            "sha256-{}",
            aws_smithy_types::base64::encode(digest.as_ref())
        )
    })
}

/// A DNS name, so that it can go into a header and a URL as it is.
fn is_host_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::body;

    const PAGE: &str = include_str!("../../../fixtures/apigw/sign-in-page.json");

    fn request() -> ApiGatewayProxyRequest {
        serde_json::from_str(PAGE).unwrap()
    }

    fn policy(response: &ApiGatewayProxyResponse) -> &str {
        response.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
    }

    #[test]
    fn the_page_names_the_hosted_ui_the_client_and_its_own_url() {
        let response = sign_in_page(&request());
        assert_eq!(response.status_code, 200);
        assert_eq!(
            response.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let page = body(&response);
        assert!(
            page.contains(
                r#"data-auth-url="https://onboard-demo.auth.eu-west-1.amazoncognito.com""#
            ),
            "{page}"
        );
        assert!(page.contains(r#"data-client-id="4e8kq2example0client0id00""#));
        assert!(page.contains(
            r#"data-redirect-uri="https://abcdef1234.execute-api.eu-west-1.amazonaws.com/live/""#
        ));
        assert!(page.contains("code_challenge_method"));
    }

    #[test]
    fn the_page_s_policy_runs_its_own_script_and_talks_to_the_hosted_ui_only() {
        let response = sign_in_page(&request());
        let page = body(&response);
        let script = page
            .split_once("<script>")
            .and_then(|(_, rest)| rest.split_once("</script>"))
            .map(|(script, _)| script)
            .unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
        let source = format!(
            "script-src 'sha256-{}';",
            aws_smithy_types::base64::encode(digest.as_ref())
        );
        let policy = policy(&response);
        assert!(policy.contains(&source), "{policy}");
        assert!(policy.starts_with("default-src 'none';"));
        assert!(
            policy.contains(
                "connect-src 'self' https://onboard-demo.auth.eu-west-1.amazoncognito.com;"
            )
        );
    }

    #[test]
    fn stage_variables_cannot_inject_markup_or_point_the_page_elsewhere() {
        let mut hostile = request();
        hostile.stage_variables.insert(
            "clientId".to_owned(),
            r#""><script>alert(1)</script>"#.to_owned(),
        );
        let response = sign_in_page(&hostile);
        assert_eq!(body(&response).matches("<script>").count(), 1);
        assert!(
            body(&response)
                .contains(r#"data-client-id="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#)
        );

        for auth_url in [
            "https://evil.example/\"; x",
            "http://onboard-demo.auth.eu-west-1.amazoncognito.com",
            "https://onboard-demo.auth.eu-west-1.amazoncognito.com/path",
            "javascript:alert(1)",
            "http://127.0.0.1",
            "http://10.0.0.1:8080",
        ] {
            let mut bad = request();
            bad.stage_variables
                .insert("authUrl".to_owned(), auth_url.to_owned());
            assert_eq!(sign_in_page(&bad).status_code, 500, "{auth_url}");
        }
    }

    #[test]
    fn on_loopback_the_page_and_the_hosted_ui_may_be_plain_http() {
        let mut local = request();
        local
            .stage_variables
            .insert("authUrl".to_owned(), "http://127.0.0.1:4001/".to_owned());
        local.request_context.domain_name = Some("127.0.0.1:4000".to_owned());
        local.request_context.path = Some("/".to_owned());
        local
            .headers
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
        let response = sign_in_page(&local);
        let page = body(&response);
        assert!(
            page.contains(r#"data-auth-url="http://127.0.0.1:4001""#),
            "{page}"
        );
        assert!(page.contains(r#"data-redirect-uri="http://127.0.0.1:4000/""#));
        assert!(policy(&response).contains("connect-src 'self' http://127.0.0.1:4001;"));

        // Plain HTTP anywhere else is refused.
        local.request_context.domain_name = Some("example.org:80".to_owned());
        assert_eq!(sign_in_page(&local).status_code, 500);
    }

    #[test]
    fn a_stage_without_the_hosted_ui_settings_answers_500() {
        let mut unconfigured = request();
        unconfigured.stage_variables.clear();
        let response = sign_in_page(&unconfigured);
        assert_eq!(response.status_code, 500);
        assert_eq!(
            body(&response),
            r#"{"message":"The sign-in page is not configured"}"#
        );
    }
}
