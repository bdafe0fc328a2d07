//! The customer pages' own look (`[brand]`, contract section 13): a name,
//! a logo, a colour and a support link in place of fixpath's, and the sites
//! that may show the wizard in a frame.
//!
//! Every value is checked once at start ([`Colour::parse`],
//! [`Logo::from_bytes`], [`parse_origin`], [`parse_support_url`]) and only
//! the checked form reaches a page: the colour goes into a stylesheet of its
//! own (`/brand/style.css`, the pages' CSP allows no inline style) as six
//! hex digits, never as the operator's text. Staff pages keep fixpath's
//! chrome: nobody mistakes the queue for a customer page.
//!
//! The logo is served from `/brand/logo` with its content hash as ETag and
//! in the address (`?v=`), so browsers keep it for a year and a new logo is
//! seen on the next page. An SVG may carry script: it is served under a CSP
//! of its own that forbids script and sandboxes it (opened on its own, it
//! runs nothing in our origin; in an `<img>` a browser never runs it).

use super::Pages;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::fmt;

/// The largest logo accepted: a header image, not a photo.
pub const MAX_LOGO: usize = 512 * 1024;

/// The brand of the customer pages; the default is fixpath's own.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    /// Replaces "fixpath" in the header, the title and the footer.
    pub name: Option<String>,
    pub logo: Option<Logo>,
    pub colour: Option<Colour>,
    /// Shown as "Contact support" under every customer page.
    pub support_url: Option<String>,
    /// Origins (`https://support.example.com`) that may frame the customer
    /// pages; empty: no site may.
    pub frame_ancestors: Vec<String>,
}

impl Brand {
    /// May another site frame the customer pages?
    pub fn framable(&self) -> bool {
        !self.frame_ancestors.is_empty()
    }

    /// Anything to show beyond fixpath's own chrome?
    fn shows(&self) -> bool {
        self.name.is_some()
            || self.logo.is_some()
            || self.colour.is_some()
            || self.support_url.is_some()
    }

    /// What the templates read as `chrome.brand`: `none` without a brand.
    pub fn view(&self) -> minijinja::Value {
        if !self.shows() {
            return minijinja::Value::from(());
        }
        minijinja::context! {
            name => self.name,
            logo => self.logo.as_ref().map(|l| format!("/brand/logo?v={}", l.etag)),
            style => self.colour.map(|c| format!("/brand/style.css?v={}", c.hex().trim_start_matches('#'))),
            support_url => self.support_url,
        }
    }

    /// The stylesheet that puts the colour on the header and the buttons.
    pub fn stylesheet(&self) -> Option<String> {
        self.colour.map(|c| c.stylesheet())
    }

    /// The `Content-Security-Policy` of the customer pages: the pages' own
    /// ([`PAGE_CSP`]) with the frame ancestors allowed.
    pub fn customer_csp(&self) -> String {
        if self.framable() {
            format!(
                "{}; frame-ancestors {}",
                PAGE_CSP_BASE,
                self.frame_ancestors.join(" ")
            )
        } else {
            PAGE_CSP.to_owned()
        }
    }
}

/// The pages' policy without its `frame-ancestors`: our own stylesheet and
/// script only, no inline script or style, images from us.
const PAGE_CSP_BASE: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self' data:; form-action 'self'; base-uri 'none'";

/// The pages' policy: [`PAGE_CSP_BASE`], and no site frames them.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// ---------------------------------------------------------------------------
// The colour.

/// A colour as `#rrggbb`; nothing else reaches a stylesheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour([u8; 3]);

impl Colour {
    /// `#rrggbb` or `#rgb` (hex digits, either case); no names, no
    /// functions: what is not one of these is refused, not guessed.
    pub fn parse(s: &str) -> Result<Colour, String> {
        let bad = || format!("`{s}` is not a colour such as #1d70b8 or #17b");
        let hex = s.trim().strip_prefix('#').ok_or_else(bad)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let digit = |i: usize, n: usize| u8::from_str_radix(&hex[i..i + n], 16).map_err(|_| bad());
        match hex.len() {
            6 => Ok(Colour([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?])),
            3 => {
                let d = |i| digit(i, 1).map(|v| v * 17);
                Ok(Colour([d(0)?, d(1)?, d(2)?]))
            }
            _ => Err(bad()),
        }
    }

    pub fn hex(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// This colour mixed with black: `keep` of 1.0 is the colour itself.
    fn darker(self, keep: f64) -> Colour {
        Colour(self.0.map(|c| (f64::from(c) * keep).round() as u8))
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    }

    /// White or near-black, whichever reads better on this colour (by the
    /// WCAG contrast ratio): a pale brand colour gets dark text.
    fn ink(self) -> &'static str {
        let l = self.luminance();
        let on_white = 1.05 / (l + 0.05);
        let on_black = (l + 0.05) / (INK_DARK_LUMINANCE + 0.05);
        if on_white >= on_black {
            "#ffffff"
        } else {
            "#0b0c0c"
        }
    }

    fn stylesheet(self) -> String {
        let c = self.hex();
        let hover = self.darker(0.8).hex();
        let shadow = self.darker(0.45).hex();
        let ink = self.ink();
        // Only hex digits and our own words: nothing here came as text.
        format!(
            "/* The brand's colour (fixpath [brand] colour). */\n\
             :root {{\n  --brand: {c};\n  --primary: {c};\n  --primary-hover: {hover};\n  \
             --primary-shadow: {shadow};\n  --brand-ink: {ink};\n}}\n\
             .top {{\n  background: var(--brand);\n  color: var(--brand-ink);\n  \
             border-bottom-color: {shadow};\n}}\n\
             .top a,\n.top a:hover,\n.top .brand:hover,\n.top button.link,\n.top .langs button {{\n  \
             color: var(--brand-ink);\n}}\n\
             .top .brand-sub {{\n  border-left-color: var(--brand-ink);\n}}\n\
             .button,\n.button:link,\n.button:visited,\n.button:hover,\n.button:active {{\n  \
             color: var(--brand-ink);\n}}\n\
             .button.secondary,\n.button.secondary:link,\n.button.secondary:visited,\n\
             .button.secondary:hover,\n.button.secondary:active {{\n  color: var(--text);\n}}\n"
        )
    }
}

/// The luminance of the dark text colour (`#0b0c0c`).
const INK_DARK_LUMINANCE: f64 = 0.003_7;

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

// ---------------------------------------------------------------------------
// The logo.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoKind {
    Png,
    Jpeg,
    Webp,
    Svg,
}

impl LogoKind {
    pub fn content_type(self) -> &'static str {
        match self {
            LogoKind::Png => "image/png",
            LogoKind::Jpeg => "image/jpeg",
            LogoKind::Webp => "image/webp",
            LogoKind::Svg => "image/svg+xml",
        }
    }

    /// The type by the file's first bytes (never by its name).
    fn sniff(bytes: &[u8]) -> Option<LogoKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(LogoKind::Png);
        }
        if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            return Some(LogoKind::Jpeg);
        }
        if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            return Some(LogoKind::Webp);
        }
        // An SVG is UTF-8 text whose first element is `<svg` (after an XML
        // declaration, comments or a doctype).
        let text = std::str::from_utf8(bytes).ok()?;
        let text = text.trim_start_matches('\u{feff}');
        let head: String = text.chars().take(4096).collect::<String>().to_lowercase();
        let first_element = head
            .match_indices('<')
            .map(|(i, _)| &head[i..])
            .find(|t| !t.starts_with("<?") && !t.starts_with("<!"))?;
        first_element.starts_with("<svg").then_some(LogoKind::Svg)
    }
}

/// Why a logo file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadLogo {
    Empty,
    TooLarge(usize),
    Unknown,
}

impl fmt::Display for BadLogo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLogo::Empty => f.write_str("the logo file is empty"),
            BadLogo::TooLarge(n) => write!(
                f,
                "the logo is {} KiB, more than the {} KiB allowed",
                n.div_ceil(1024),
                MAX_LOGO / 1024
            ),
            BadLogo::Unknown => f.write_str("the logo is not a PNG, JPEG, WebP or SVG image"),
        }
    }
}

/// A checked logo, kept in memory (it is small) with its hash.
#[derive(Clone)]
pub struct Logo {
    pub bytes: Bytes,
    pub kind: LogoKind,
    /// The first 16 hex digits of the content's SHA-256.
    pub etag: String,
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Logo({:?}, {} bytes, {})",
            self.kind,
            self.bytes.len(),
            self.etag
        )
    }
}

impl Logo {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Logo, BadLogo> {
        if bytes.is_empty() {
            return Err(BadLogo::Empty);
        }
        if bytes.len() > MAX_LOGO {
            return Err(BadLogo::TooLarge(bytes.len()));
        }
        let kind = LogoKind::sniff(&bytes).ok_or(BadLogo::Unknown)?;
        let digest = Sha256::digest(&bytes);
        let etag = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Logo {
            bytes: Bytes::from(bytes),
            kind,
            etag,
        })
    }
}

// ---------------------------------------------------------------------------
// Addresses.

/// An origin that may frame the pages: `scheme://host[:port]` of http or
/// https, nothing after it; kept as the browser writes it (lowercase, the
/// scheme's default port left out), which is what `frame-ancestors` takes.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bad = |why: &str| format!("`{s}` is not an origin ({why})");
    let url = reqwest::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be https or http"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it has a user name"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an origin ends after the host and port"));
    }
    // `*.example.com` and the like parse as hosts; the list names sites.
    let origin = url.origin().ascii_serialization();
    if origin == "null" || origin.contains('*') {
        return Err(bad("name one site"));
    }
    Ok(origin)
}

/// The support link: an absolute http(s) URL with a host.
pub fn parse_support_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let url = reqwest::Url::parse(s).map_err(|e| format!("`{s}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{s}` is not an http(s) URL with a host"));
    }
    Ok(url.to_string())
}

/// The brand's name: one line of 1 to [`MAX_NAME`] characters.
pub fn parse_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("the name has a line break or a control character".to_owned());
    }
    let n = name.chars().count();
    if n > MAX_NAME {
        return Err(format!(
            "the name has {n} characters, more than the {MAX_NAME} a header holds"
        ));
    }
    Ok(name.to_owned())
}

pub const MAX_NAME: usize = 60;

// ---------------------------------------------------------------------------
// Serving.

pub fn routes() -> Pages {
    Pages::default()
        .get("/brand/logo", logo)
        .get("/brand/style.css", style)
}

/// A year: the address changes with the content (`?v=`).
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

/// An SVG opened on its own runs nothing and loads nothing.
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

fn cached(headers: &HeaderMap, etag: &str, content_type: &str, body: Bytes) -> Response {
    let tag = format!("\"{etag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(LONG_CACHE));
    if !fresh && let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    res
}

async fn logo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(logo) = &state.config.brand.logo else {
        return super::PageError::not_found().into_response();
    };
    let mut res = cached(
        &headers,
        &logo.etag,
        logo.kind.content_type(),
        logo.bytes.clone(),
    );
    if logo.kind == LogoKind::Svg {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SVG_CSP),
        );
    }
    res
}

async fn style(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(colour) = state.config.brand.colour else {
        return super::PageError::not_found().into_response();
    };
    let css = colour.stylesheet();
    cached(
        &headers,
        colour.hex().trim_start_matches('#'),
        "text/css; charset=utf-8",
        Bytes::from(css),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hex_only() {
        assert_eq!(Colour::parse("#1D70b8").unwrap().hex(), "#1d70b8");
        assert_eq!(Colour::parse(" #17b ").unwrap().hex(), "#1177bb");
        for bad in [
            "red",
            "1d70b8",
            "#1d70b",
            "#1d70b8ff",
            "#gg0000",
            "#fff;}body{x:y",
            "rgb(1,2,3)",
            "#",
            "",
            "#１２３",
        ] {
            assert!(Colour::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn text_on_the_colour_stays_readable() {
        assert_eq!(Colour::parse("#ffdd00").unwrap().ink(), "#0b0c0c");
        assert_eq!(Colour::parse("#1d70b8").unwrap().ink(), "#ffffff");
        assert_eq!(Colour::parse("#000").unwrap().ink(), "#ffffff");
        let css = Colour::parse("#aa3300").unwrap().stylesheet();
        assert!(css.contains("--brand: #aa3300;"), "{css}");
        assert!(css.contains("--primary-hover: #882900;"), "{css}");
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origin("https://Support.Example.com").unwrap(),
            "https://support.example.com"
        );
        assert_eq!(
            parse_origin("https://support.example.com/").unwrap(),
            "https://support.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:8081").unwrap(),
            "http://localhost:8081"
        );
        assert_eq!(
            parse_origin("https://example.com:443").unwrap(),
            "https://example.com"
        );
        for bad in [
            "support.example.com",
            "https://support.example.com/help",
            "https://support.example.com?x=1",
            "ftp://example.com",
            "https://*.example.com",
            "https://user@example.com",
            "'self'",
            "*",
            "https://a.example https://b.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn logos_are_known_by_their_content() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        assert_eq!(Logo::from_bytes(png).unwrap().kind, LogoKind::Png);
        let svg = b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- a logo -->\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec();
        assert_eq!(Logo::from_bytes(svg).unwrap().kind, LogoKind::Svg);
        assert_eq!(
            Logo::from_bytes(b"RIFF\0\0\0\0WEBPVP8 ".to_vec())
                .unwrap()
                .kind,
            LogoKind::Webp
        );
        assert_eq!(
            Logo::from_bytes(vec![0xff, 0xd8, 0xff, 0xe0]).unwrap().kind,
            LogoKind::Jpeg
        );
        assert_eq!(
            Logo::from_bytes(b"<html><svg/></html>".to_vec()).unwrap_err(),
            BadLogo::Unknown
        );
        assert_eq!(
            Logo::from_bytes(b"GIF89a".to_vec()).unwrap_err(),
            BadLogo::Unknown
        );
        assert_eq!(Logo::from_bytes(Vec::new()).unwrap_err(), BadLogo::Empty);
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_LOGO + 1, 0);
        assert_eq!(
            Logo::from_bytes(big).unwrap_err(),
            BadLogo::TooLarge(MAX_LOGO + 1)
        );
    }

    #[test]
    fn the_customer_csp_lists_the_allowed_sites() {
        let mut brand = Brand::default();
        assert!(brand.customer_csp().ends_with("frame-ancestors 'none'"));
        brand.frame_ancestors = vec!["https://a.example".into(), "http://localhost:81".into()];
        assert!(
            brand
                .customer_csp()
                .ends_with("frame-ancestors https://a.example http://localhost:81")
        );
    }
}
