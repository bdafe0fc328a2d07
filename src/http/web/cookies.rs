//! Reading the `Cookie` header and writing `Set-Cookie`. Every cookie we
//! set is `HttpOnly` (no script reads it), `SameSite=Lax` (a form on another
//! site cannot post with it) and `Secure` when the page was served over TLS
//! (directly, or behind a proxy that says `X-Forwarded-Proto: https`) —
//! except on a customer page embedded in a listed site's frame, where only
//! a `SameSite=None; Secure; Partitioned` cookie works ([`set_cross_site`]).
//!
//! A `Secure` cookie carries a prefix the browser enforces: `__Host-` for
//! the cookies of the whole site (path `/`: only this host, over TLS, can
//! set it, so a neighbouring subdomain or a plain-HTTP page cannot plant a
//! CSRF token or a sign-in), `__Secure-` for a customer's session cookie
//! (scoped to its session's path, which `__Host-` does not allow). A
//! request known to come over TLS is read only by the prefixed names.

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST};

/// The staff member's sign-in (a staff token).
pub const STAFF: &str = "fp_staff";
/// The double-submit CSRF token.
pub const CSRF: &str = "fp_csrf";
/// The chrome language someone picked.
pub const LANG: &str = "fp_lang";
/// A customer's session token, scoped to that session's pages.
pub const WIZARD: &str = "fp_session";

/// The name a cookie is written under: with the prefix a browser enforces
/// when it is `Secure`.
pub fn full_name(name: &str, path: &str, secure: bool) -> String {
    match (secure, path == "/") {
        (false, _) => name.to_owned(),
        (true, true) => format!("__Host-{name}"),
        (true, false) => format!("__Secure-{name}"),
    }
}

/// The value of cookie `name`, if the request has one: under its prefixed
/// names first, and under the bare name only when the request is not known
/// to have come over TLS (there the bare one may be a plant).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let prefixed = [format!("__Host-{name}"), format!("__Secure-{name}")];
    prefixed
        .iter()
        .find_map(|n| get_exact(headers, n))
        .or_else(|| {
            if is_https(headers) {
                None
            } else {
                get_exact(headers, name)
            }
        })
}

fn get_exact<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Was the request served over TLS (as far as a proxy in front tells)?
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The host the browser asked for (for the same-origin check and the
/// resume link).
pub fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(HOST).and_then(|v| v.to_str().ok())
}

/// A `Set-Cookie` value. `max_age` in seconds; `None` ends with the browser.
pub fn set(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> String {
    let name = full_name(name, path, secure);
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear(name: &str, path: &str, secure: bool) -> String {
    set(name, "", path, Some(0), secure)
}

/// A `Set-Cookie` value for a page shown in another site's frame
/// (`[brand] frame_ancestors`, `?embed=1`): there a `SameSite=Lax` cookie
/// is neither kept nor sent, so the wizard could not post a form. The
/// cookie is `SameSite=None` (the CSRF token and the origin check still
/// guard every form), `Secure` (which `None` requires) and `Partitioned`:
/// the browser keeps it for this embedding site only, apart from the
/// cookies of our own pages and of any other site's frame, and keeps it
/// even where it blocks third-party cookies.
pub fn set_cross_site(name: &str, value: &str, path: &str, max_age: Option<i64>) -> String {
    let name = full_name(name, path, true);
    let mut c =
        format!("{name}={value}; Path={path}; HttpOnly; SameSite=None; Secure; Partitioned");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; fp_csrf=xyz ; b=2"));
        assert_eq!(get(&h, "fp_csrf"), Some("xyz"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "c"), None);
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let c = set("fp_csrf", "v", "/", None, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!set("x", "v", "/", Some(5), false).contains("Secure"));
    }

    #[test]
    fn secure_cookies_carry_the_prefix_the_browser_enforces() {
        let site = set(CSRF, "v", "/", None, true);
        assert!(site.starts_with("__Host-fp_csrf=v; Path=/;"), "{site}");
        assert!(!site.contains("Domain"), "{site}");
        let session = set(WIZARD, "t", "/s/ses_1", Some(60), true);
        assert!(session.starts_with("__Secure-fp_session=t;"), "{session}");
        assert!(set(CSRF, "v", "/", None, false).starts_with("fp_csrf=v;"));
    }

    #[test]
    fn over_tls_only_the_prefixed_cookie_counts() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("fp_csrf=planted"));
        assert_eq!(
            get(&h, CSRF),
            Some("planted"),
            "plain HTTP reads the bare name"
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(get(&h, CSRF), None, "over TLS a bare cookie may be a plant");
        h.insert(
            COOKIE,
            HeaderValue::from_static("fp_csrf=planted; __Host-fp_csrf=real"),
        );
        assert_eq!(get(&h, CSRF), Some("real"));
    }
}
