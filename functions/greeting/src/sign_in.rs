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
/// The page's one script: the app, then the presigner it calls on a click.
const SIGN_IN_SCRIPT: &str = concat!(include_str!("sign-in.js"), "\n", include_str!("presign.js"));

/// Where the page gets a person's own credentials and their archive
/// object: the stage variables `identityPoolId`, `identityUrl` (the
/// identity pool's endpoint, an origin), `archiveUrl` (the bucket's
/// endpoint: an origin, and on an emulator the bucket as its one path
/// segment) and `region`. All four, or the page offers no such download.
struct OwnCredentials {
    identity_pool_id: String,
    identity_url: String,
    archive_url: String,
    region: String,
}

impl OwnCredentials {
    fn from_stage<'r>(stage_variable: impl Fn(&str) -> Option<&'r str>) -> Option<Self> {
        let identity_pool_id = stage_variable("identityPoolId").filter(|id| {
            let (region, uuid) = id.split_once(':').unwrap_or_default();
            is_region(region)
                && uuid.len() == 36
                && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        })?;
        let region = stage_variable("region").filter(|r| is_region(r))?;
        Some(Self {
            identity_pool_id: identity_pool_id.to_owned(),
            identity_url: stage_variable("identityUrl").and_then(origin)?,
            archive_url: stage_variable("archiveUrl").and_then(archive_url)?,
            region: region.to_owned(),
        })
    }
}

/// An AWS region's name (`eu-west-1`).
fn is_region(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The bucket's endpoint: an origin, optionally followed by one path
/// segment that is a bucket name (path-style, on an emulator).
fn archive_url(value: &str) -> Option<String> {
    let value = value.strip_suffix('/').unwrap_or(value);
    let scheme_end = value.find("://")? + 3;
    let (origin_part, bucket) = match value[scheme_end..].find('/') {
        Some(at) => value.split_at(scheme_end + at),
        None => (value, ""),
    };
    let origin = origin(origin_part)?;
    let bucket = bucket.strip_prefix('/').unwrap_or(bucket);
    let bucket_ok = bucket.is_empty()
        || (bucket.len() >= 3
            && bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
    bucket_ok.then(|| {
        if bucket.is_empty() {
            origin
        } else {
            format!("{origin}/{bucket}")
        }
    })
}

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
    let own = OwnCredentials::from_stage(stage_variable);
    let attribute = |value: &str| html_escape::encode_double_quoted_attribute(value).into_owned();
    let own_field = |field: fn(&OwnCredentials) -> &str| own.as_ref().map_or("", field);
    let body = SIGN_IN_HTML
        .replace("{{AUTH_URL}}", &attribute(&auth_url))
        .replace("{{CLIENT_ID}}", &attribute(client_id))
        .replace("{{REDIRECT_URI}}", &attribute(&redirect_uri))
        .replace(
            "{{IDENTITY_POOL_ID}}",
            &attribute(own_field(|o| &o.identity_pool_id)),
        )
        .replace(
            "{{IDENTITY_URL}}",
            &attribute(own_field(|o| &o.identity_url)),
        )
        .replace("{{ARCHIVE_URL}}", &attribute(own_field(|o| &o.archive_url)))
        .replace("{{REGION}}", &attribute(own_field(|o| &o.region)))
        .replace("{{SCRIPT}}", SIGN_IN_SCRIPT);
    let mut page = response(200, "text/html; charset=utf-8", body);
    // The identity pool is fetched; the archive object is a navigation (a
    // presigned link), which connect-src does not govern.
    let identity = own
        .as_ref()
        .map_or(String::new(), |o| format!(" {}", o.identity_url));
    let policy = format!(
        "default-src 'none'; script-src '{}'; style-src 'unsafe-inline'; connect-src 'self' {auth_url}{identity}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
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

    fn with_own_credentials(archive_url: &str, identity_url: &str) -> ApiGatewayProxyRequest {
        let mut request = request();
        for (name, value) in [
            (
                "identityPoolId",
                "eu-west-1:6f1c2d3e-4a5b-4c6d-8e7f-901234567890",
            ),
            ("identityUrl", identity_url),
            ("archiveUrl", archive_url),
            ("region", "eu-west-1"),
        ] {
            request
                .stage_variables
                .insert(name.to_owned(), value.to_owned());
        }
        request
    }

    #[test]
    fn the_page_offers_the_archive_with_one_s_own_credentials_when_the_stage_says_where() {
        let response = sign_in_page(&with_own_credentials(
            "https://onboard-archive.s3.eu-west-1.amazonaws.com",
            "https://cognito-identity.eu-west-1.amazonaws.com",
        ));
        let page = body(&response);
        assert!(
            page.contains(
                r#"data-identity-pool-id="eu-west-1:6f1c2d3e-4a5b-4c6d-8e7f-901234567890""#
            )
        );
        assert!(
            page.contains(
                r#"data-archive-url="https://onboard-archive.s3.eu-west-1.amazonaws.com""#
            )
        );
        assert!(page.contains(r#"data-region="eu-west-1""#));
        // The identity pool is fetched; S3 is only navigated to.
        let policy = policy(&response);
        assert!(policy.contains(
            "connect-src 'self' https://onboard-demo.auth.eu-west-1.amazoncognito.com https://cognito-identity.eu-west-1.amazonaws.com;"
        ), "{policy}");
        assert!(!policy.contains("s3."), "{policy}");
        // Path-style on an emulator: the bucket as the one path segment.
        let local = sign_in_page(&with_own_credentials(
            "http://127.0.0.1:5000/onboard-archive/",
            "http://127.0.0.1:5000",
        ));
        let local = body(&local);
        assert!(local.contains(r#"data-archive-url="http://127.0.0.1:5000/onboard-archive""#));
    }

    #[test]
    fn a_stage_that_points_the_download_elsewhere_gets_no_download() {
        for (archive, identity) in [
            (
                "https://onboard-archive.s3.eu-west-1.amazonaws.com/a/b",
                "https://cognito-identity.eu-west-1.amazonaws.com",
            ),
            (
                "http://evil.example/onboard-archive",
                "https://cognito-identity.eu-west-1.amazonaws.com",
            ),
            (
                "https://onboard-archive.s3.eu-west-1.amazonaws.com",
                "https://x.example/path",
            ),
            (
                "https://onboard-archive.s3.eu-west-1.amazonaws.com\"><script>",
                "https://cognito-identity.eu-west-1.amazonaws.com",
            ),
        ] {
            let response = sign_in_page(&with_own_credentials(archive, identity));
            let page = body(&response);
            assert!(
                page.contains(r#"data-identity-pool-id="""#),
                "{archive} {identity}"
            );
            assert!(policy(&response).contains("amazoncognito.com; base-uri"));
        }
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
