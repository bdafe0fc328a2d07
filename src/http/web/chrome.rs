//! What every page needs before it renders its own part: the language of
//! the page chrome, the CSRF token for its forms, who is signed in, and the
//! cookies to set on the way out.
//!
//! The chrome's language is, in order: a `?lang=` the reader just picked
//! (remembered in a cookie), the cookie, the browser's `Accept-Language`,
//! English. A wizard session's pages speak the session's language instead.
//!
//! On a customer page (marked by [`super::CustomerPage`]) the chrome wears
//! the `[brand]`, and `?embed=1` shows the page without header and footer,
//! for another site's frame; every address the page leads to keeps the
//! flag ([`Chrome::href`], [`super::see_other`]).

use super::brand::Brand;
use super::cookies;
use super::i18n;
use crate::http::AppState;
use crate::http::auth::{self, STAFF_PREFIX};
use crate::store::User;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;

/// A language the reader can switch to, as the switcher shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LangChoice {
    pub code: String,
    /// The language's own name (`Nederlands`, `Eesti`).
    pub name: &'static str,
    pub current: bool,
}

pub struct Chrome {
    /// The chrome's language (one of [`i18n::LANGUAGES`]).
    pub lang: String,
    /// The language of the page's content (`<html lang>`).
    pub page_lang: String,
    pub csrf: String,
    pub user: Option<User>,
    /// Serve cookies with `Secure`.
    pub secure: bool,
    /// The browser's languages, most wanted first (primary subtags).
    pub accept: Vec<String>,
    /// The page's path (for the language links and "sign in, then back").
    pub path: String,
    /// The languages the switcher offers; the chrome's five by default.
    pub switcher: Vec<String>,
    /// Set when the switcher changes the session's language by a form post
    /// to this address instead of by a link.
    pub switch_action: Option<String>,
    /// The brand of a customer page; `None` on staff pages (fixpath's own).
    pub brand: Option<Arc<Brand>>,
    /// A customer page asked for with `?embed=1`: no header or footer.
    pub embed: bool,
    /// Write cookies that work in another site's frame (embedded, and
    /// some site may frame us): see [`cookies::set_cross_site`].
    pub cross_site: bool,
    cookies: Vec<String>,
}

impl Chrome {
    /// What the templates read as `chrome`.
    pub fn view(&self) -> minijinja::Value {
        let langs: Vec<LangChoice> = self
            .switcher
            .iter()
            .map(|code| LangChoice {
                code: code.clone(),
                name: i18n::native_name(code),
                current: *code == self.page_lang,
            })
            .collect();
        minijinja::context! {
            lang => self.lang,
            page_lang => self.page_lang,
            csrf => self.csrf,
            user => self.user,
            path => self.path,
            languages => langs,
            switch_action => self.switch_action,
            brand => self.brand.as_ref().map(|b| b.view()),
            embed => self.embed,
            embed_q => if self.embed { "?embed=1" } else { "" },
        }
    }

    /// An address of ours as this page links to it: with `embed=1` when
    /// the page is embedded, so the next page is too.
    pub fn href(&self, to: &str) -> String {
        if !self.embed {
            return to.to_owned();
        }
        let (path, fragment) = match to.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (to, None),
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = format!("{path}{sep}embed=1");
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }

    /// A `Set-Cookie` value for this page's response: one that works in a
    /// frame when the page is embedded.
    pub fn cookie(&self, name: &str, value: &str, path: &str, max_age: Option<i64>) -> String {
        if self.cross_site {
            cookies::set_cross_site(name, value, path, max_age)
        } else {
            cookies::set(name, value, path, max_age, self.secure)
        }
    }

    /// A chrome for a page shown before the request was read (an error of
    /// an extractor): English, no forms, no cookies.
    pub fn plain() -> Chrome {
        Chrome {
            lang: "en".into(),
            page_lang: "en".into(),
            csrf: String::new(),
            user: None,
            secure: false,
            accept: Vec::new(),
            path: "/".into(),
            switcher: Vec::new(),
            switch_action: None,
            brand: None,
            embed: false,
            cross_site: false,
            cookies: Vec::new(),
        }
    }

    /// Adds a `Set-Cookie` to the response this chrome finishes.
    pub fn set_cookie(&mut self, cookie: String) {
        self.cookies.push(cookie);
    }

    /// Makes the page speak a session's language: the chrome too where it
    /// has words for it (else it keeps the reader's). `offered` is what the
    /// switcher shows; `action` the address its form posts to.
    pub fn speak(&mut self, lang: &str, offered: Vec<String>, action: Option<String>) {
        if let Some(l) = i18n::supported(lang) {
            self.lang = l.to_owned();
        }
        self.page_lang = lang.to_owned();
        self.switcher = offered;
        self.switch_action = action;
    }

    /// Of `offered` (a script's languages), the one this reader prefers.
    pub fn prefer(&self, offered: &[String]) -> Option<String> {
        std::iter::once(&self.lang)
            .chain(self.accept.iter())
            .find(|l| offered.contains(l))
            .cloned()
    }

    /// Adds the cookies this request decided on (a new CSRF token, a picked
    /// language, a sign-in) to the response.
    pub fn finish(&self, mut res: Response) -> Response {
        for c in &self.cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// The browser's languages, most wanted first, by `q` (primary subtags,
/// lowercase, without repeats).
pub fn accept_languages(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let mut weighted: Vec<(f32, usize, String)> = value
        .split(',')
        .take(32)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut bits = part.split(';');
            let tag = bits.next()?.trim();
            let primary = tag.split('-').next()?.trim().to_ascii_lowercase();
            if primary.is_empty()
                || primary == "*"
                || !primary.bytes().all(|b| b.is_ascii_alphabetic())
            {
                return None;
            }
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, i, primary))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, _, l) in weighted {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // Without randomness no form can be protected: such a page has an empty
    // token, and its post is refused (the check never accepts an empty one).
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of `key` in a query string.
fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `lang=xx` in a query string.
fn lang_query(query: Option<&str>) -> Option<String> {
    query_value(query, "lang").map(str::to_ascii_lowercase)
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let headers = &parts.headers;
        let secure = state.config.secure_cookies || cookies::is_https(headers);
        let brand = parts
            .extensions
            .get::<super::CustomerPage>()
            .map(|_| state.config.brand.clone());
        let embed = brand.is_some() && query_value(parts.uri.query(), "embed") == Some("1");
        let mut chrome = Chrome {
            lang: String::new(),
            page_lang: String::new(),
            csrf: String::new(),
            user: None,
            secure,
            accept: accept_languages(headers),
            path: parts.uri.path().to_owned(),
            switcher: i18n::LANGUAGES.iter().map(|l| (*l).to_owned()).collect(),
            switch_action: None,
            cross_site: embed && brand.as_ref().is_some_and(|b| b.framable()),
            brand,
            embed,
            cookies: Vec::new(),
        };
        chrome.csrf = match cookies::get(headers, cookies::CSRF) {
            Some(t) if t.len() >= 32 && t.len() <= 64 => t.to_owned(),
            _ => {
                let t = new_token();
                chrome.set_cookie(chrome.cookie(cookies::CSRF, &t, "/", None));
                t
            }
        };
        let picked = lang_query(parts.uri.query()).and_then(|l| i18n::supported(&l));
        if let Some(l) = picked {
            chrome.set_cookie(chrome.cookie(cookies::LANG, l, "/", Some(365 * 24 * 3600)));
        }
        let lang = picked
            .or_else(|| cookies::get(headers, cookies::LANG).and_then(i18n::supported))
            .or_else(|| chrome.accept.iter().find_map(|l| i18n::supported(l)))
            .unwrap_or("en")
            .to_owned();
        chrome.user = match cookies::get(headers, cookies::STAFF) {
            Some(token) if token.starts_with(STAFF_PREFIX) && token.len() < 128 => state
                .store
                .user_by_token(&auth::hash_token(token), state.clock.now())
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        chrome.page_lang = lang.clone();
        chrome.lang = lang;
        Ok(chrome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_ordered_by_weight() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-CH;q=0.5, nl-BE, en;q=0.8, *;q=0.1, de;q=0.4, fr;q=0"),
        );
        assert_eq!(accept_languages(&h), vec!["nl", "en", "de"]);
    }

    #[test]
    fn a_picked_language_comes_from_the_query() {
        assert_eq!(lang_query(Some("a=1&lang=NL")), Some("nl".into()));
        assert_eq!(lang_query(Some("language=nl")), None);
        assert_eq!(lang_query(None), None);
    }

    #[test]
    fn an_embedded_page_links_to_embedded_pages() {
        let mut c = Chrome::plain();
        assert_eq!(c.href("/s/ses_1"), "/s/ses_1");
        c.embed = true;
        assert_eq!(c.href("/s/ses_1"), "/s/ses_1?embed=1");
        assert_eq!(
            c.href("/s/ses_1/check?why=none"),
            "/s/ses_1/check?why=none&embed=1"
        );
        assert_eq!(c.href("/s/ses_1#messages"), "/s/ses_1?embed=1#messages");
    }
}
