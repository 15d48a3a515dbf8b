//! The stand-in's pages: its forms and its error page, every value escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Authorize;
use super::codes::form_urlencoded;

fn escape(value: &str) -> String {
    html_escape::encode_double_quoted_attribute(value).into_owned()
}

fn hidden_authorize(request: &Authorize) -> String {
    request
        .pairs()
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{name}" value="{}">"#,
                escape(value)
            )
        })
        .collect()
}

fn error_line(error: &str) -> String {
    if error.is_empty() {
        String::new()
    } else {
        format!(r#"<p id="error" role="alert">{}</p>"#, escape(error))
    }
}

fn note_line(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(r#"<p id="note" role="status">{}</p>"#, escape(note))
    }
}

pub(super) fn signup_body(
    request: &Authorize,
    email: &str,
    name: &str,
    rules: &str,
    error: &str,
) -> String {
    format!(
        r#"<h1>Sign up</h1>{}<form method="post" action="/signup">{}
<label>Email <input id="email" name="email" type="email" required value="{}"></label>
<label>Name <input id="name" name="name" required value="{}"></label>
<label>Password <input id="password" name="password" type="password" required aria-describedby="rules"></label>
<p id="rules">{}</p>
<button id="submit" type="submit">Sign up</button></form>
<p>Have an account? <a href="/login?{}">Sign in</a></p>"#,
        error_line(error),
        hidden_authorize(request),
        escape(email),
        escape(name),
        escape(rules),
        escape(&authorize_query(request)),
    )
}

pub(super) fn forgot_body(request: &Authorize, error: &str) -> String {
    format!(
        r#"<h1>Forgot your password?</h1>{}<p>We will send a code to your email to reset it.</p>
<form method="post" action="/forgotPassword">{}
<label>Email <input id="email" name="email" type="email" required></label>
<button id="submit" type="submit">Send a code</button></form>
<p><a href="/login?{}">Back to sign-in</a></p>"#,
        error_line(error),
        hidden_authorize(request),
        escape(&authorize_query(request)),
    )
}

pub(super) fn reset_body(session: &str, rules: &str, message: &str) -> String {
    let line = if message == super::words::CODE_SENT {
        note_line(message)
    } else {
        error_line(message)
    };
    format!(
        r#"<h1>Choose a new password</h1>{line}
<form method="post" action="/confirmForgotPassword"><input type="hidden" name="session" value="{}">
<label>Code <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
<label>New password <input id="password" name="password" type="password" required aria-describedby="rules"></label>
<p id="rules">{}</p>
<button id="submit" type="submit">Change the password</button></form>"#,
        escape(session),
        escape(rules),
    )
}

pub(super) fn login_body(request: &Authorize, email: &str, error: &str) -> String {
    format!(
        r#"<h1>Sign in</h1>{}<form method="post" action="/login">{}
<label>Email <input id="email" name="email" type="email" required value="{}"></label>
<label>Password <input id="password" name="password" type="password" required></label>
<button id="submit" type="submit">Sign in</button></form>
<p><a id="forgot" href="/forgotPassword?{query}">Forgot your password?</a></p>
<p>Need an account? <a href="/signup?{query}">Sign up</a></p>"#,
        error_line(error),
        hidden_authorize(request),
        escape(email),
        query = escape(&authorize_query(request)),
    )
}

/// The code form; `message` is an error, or a note when it starts with
/// "This account" or "We sent".
pub(super) fn confirm_body(session: &str, message: &str) -> String {
    let line = if message.starts_with("We sent") || message.starts_with("This account") {
        note_line(message)
    } else {
        error_line(message)
    };
    format!(
        r#"<h1>Confirm your account</h1>{line}
<p>We sent a code by email. (Here, on this machine: it is printed where <code>onboard serve</code> runs.)</p>
<form method="post" action="/confirmUser"><input type="hidden" name="session" value="{session}">
<label>Verification code <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
<button id="submit" type="submit">Confirm account</button></form>
<form method="post" action="/resendCode"><input type="hidden" name="session" value="{session}">
<button id="resend" type="submit">Send a new code</button></form>"#,
        session = escape(session),
    )
}

fn authorize_query(request: &Authorize) -> String {
    form_urlencoded(&request.pairs())
}

pub(super) fn page(page_origin: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · onboard (local hosted UI)</title>\n\
         <style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.6rem 0}}input{{display:block;width:100%;font:inherit}}#error{{color:#a11}}</style></head>\n\
         <body>{body}</body></html>\n"
    );
    // Forms post here, and the answers redirect back to the page.
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {}; frame-ancestors 'none'",
        page_origin
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// An error page, as the hosted UI shows for a request it will not serve:
/// no redirect, so a bad callback never receives anything.
pub(super) fn refused(reason: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error · onboard (local hosted UI)</title></head>\n\
         <body><h1>An error was encountered with the requested page.</h1><p id=\"error\" role=\"alert\">{}</p></body></html>\n",
        escape(reason)
    );
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        html,
    )
        .into_response()
}
