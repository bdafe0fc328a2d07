//! `[brand]` and `frame_ancestors` (contract section 13) over HTTP: the
//! security headers of every kind of page with and without the list, the
//! branded customer pages in two languages beside a staff page that keeps
//! fixpath's chrome, the embedded wizard (`?embed=1`) that keeps its flag
//! and writes cookies a frame can use, the logo and stylesheet with their
//! caching, and `fixpath serve` reading the table (and refusing a bad one).

use crate::common::{self, TestApp, staff};
use crate::serve::{Server, TempDir, fixpath};
use crate::web::{Browser, Page, redact, session_of};

use fixpath::http::HttpConfig;
use fixpath::http::web::brand::{Brand, Colour, Logo};
use fixpath::store::Role;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, SET_COOKIE,
    X_FRAME_OPTIONS,
};
use std::path::Path;
use std::sync::Arc;

pub(crate) const LOGO_PNG: &[u8] = include_bytes!("../fixtures/brand/logo.png");
pub(crate) const LOGO_SVG: &[u8] = include_bytes!("../fixtures/brand/logo.svg");
const ALLOWED: &[&str] = &["https://support.example.com", "http://localhost:8081"];

pub(crate) fn brand(logo: &[u8], ancestors: &[&str]) -> Brand {
    Brand {
        name: Some("Acme Support".into()),
        logo: Some(Logo::from_bytes(logo.to_vec()).expect("the test logo is fine")),
        colour: Some(Colour::parse("#aa3300").unwrap()),
        support_url: Some("https://acme.example/contact?from=help".into()),
        frame_ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
    }
}

async fn app_with(brand: Brand) -> TestApp {
    let mut scripts: Vec<_> = common::SCRIPTS.to_vec();
    scripts.push(common::PRINTER);
    let config = HttpConfig {
        brand: Arc::new(brand),
        ..HttpConfig::default()
    };
    TestApp::start_with_scripts(config, &scripts, |r, _| r).await
}

/// A page's text with the slashes minijinja escapes in attributes back.
fn plain(page: &Page) -> String {
    page.body.replace("&#x2f;", "/")
}

#[track_caller]
fn assert_on(page: &Page, texts: &[&str]) {
    let body = plain(page);
    for text in texts {
        assert!(body.contains(text), "`{text}` not on the page:\n{body}");
    }
}

fn header<'a>(page: &'a Page, name: &reqwest::header::HeaderName) -> Option<&'a str> {
    page.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Someone signed in as an admin, to see the staff pages' own headers.
async fn admin(app: &TestApp) -> Browser {
    staff(app, "ada", Role::Admin, "pw-ada-123456").await;
    let mut b = Browser::new(app);
    b.get("/signin").await;
    b.post("/signin", &[("name", "ada"), ("password", "pw-ada-123456")])
        .await;
    b
}

/// The customer pages of a started session: the step and its check page.
async fn customer_paths(app: &TestApp) -> Vec<String> {
    let mut b = Browser::new(app);
    b.get("/").await;
    let step = b.post("/start", &[("script", "printer")]).await;
    step.assert_status(200);
    // Redirects are followed by hand; the last address is in no header, so
    // the session comes from the page's forms.
    let id = session_of(&step.body);
    vec![format!("/s/{id}"), format!("/s/{id}/check")]
}

const STAFF_PATHS: &[&str] = &[
    "/signin",
    "/agent",
    "/queue",
    "/author",
    "/static/style.css",
    "/brand/logo",
    "/api/v1/scripts",
    "/no-such-page",
    "/api/v1/no-such-route",
];

#[tokio::test]
async fn every_page_refuses_frames_by_default() {
    let app = app_with(Brand::default()).await;
    let mut paths: Vec<String> = ["/", "/?embed=1", "/status", "/s/ses_unknown"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    paths.extend(customer_paths(&app).await);
    paths.extend(STAFF_PATHS.iter().map(|s| (*s).to_owned()));
    let mut b = admin(&app).await;
    for path in &paths {
        let page = b.get(path).await;
        assert_eq!(header(&page, &X_FRAME_OPTIONS), Some("DENY"), "{path}");
        let csp = header(&page, &CONTENT_SECURITY_POLICY).unwrap_or_default();
        assert!(csp.ends_with("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn listed_sites_may_frame_the_customer_pages_and_nothing_else() {
    let app = app_with(brand(LOGO_PNG, ALLOWED)).await;
    let mut customer: Vec<String> = ["/", "/?embed=1", "/status", "/s/ses_unknown"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    customer.extend(customer_paths(&app).await);
    let mut b = admin(&app).await;
    for path in &customer {
        let page = b.get(path).await;
        assert_eq!(header(&page, &X_FRAME_OPTIONS), None, "{path}");
        let csp = header(&page, &CONTENT_SECURITY_POLICY).unwrap_or_default();
        assert!(
            csp.ends_with("frame-ancestors https://support.example.com http://localhost:8081"),
            "{path}: {csp}"
        );
        // The rest of the pages' policy is unchanged.
        assert!(csp.starts_with("default-src 'none'; style-src 'self'; script-src 'self'"));
    }
    // Sign-in, the staff pages, the API and anything unknown: never.
    for path in STAFF_PATHS {
        let page = b.get(path).await;
        assert_eq!(header(&page, &X_FRAME_OPTIONS), Some("DENY"), "{path}");
        let csp = header(&page, &CONTENT_SECURITY_POLICY).unwrap_or_default();
        assert!(csp.ends_with("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("support.example.com"), "{path}: {csp}");
    }
    // Also after a post to a customer page that answered with an error.
    let refused = b.post_raw("/start", &[("script", "printer")]).await;
    refused.assert_status(403);
    assert_eq!(header(&refused, &X_FRAME_OPTIONS), None);
}

#[tokio::test]
async fn the_customer_pages_wear_the_brand_in_every_language_and_staff_pages_do_not() {
    let app = app_with(brand(LOGO_PNG, &[])).await;
    let mut b = Browser::new(&app);
    let en = b.get("/").await;
    en.assert_status(200);
    assert_on(
        &en,
        &[
            "<title>What do you need help with? · Acme Support</title>",
            "<link rel=\"stylesheet\" href=\"/brand/style.css?v=aa3300\">",
            "<img class=\"brand-logo\" src=\"/brand/logo?v=",
            "<a class=\"brand\" href=\"/\"><img",
            "alt=\"\">Acme Support <span class=\"brand-sub\">Help</span></a>",
            "<a href=\"https://acme.example/contact?from=help\">Contact support</a>",
        ],
    );
    assert!(!en.body.contains("fixpath"), "{}", en.body);
    insta::assert_snapshot!("brand_list_en", redact(&en.body));

    let de = b.get("/?lang=de").await;
    de.assert_has("Acme Support · Hilfe bei Störungen")
        .assert_has(">Support kontaktieren</a>");
    assert!(!de.body.contains("fixpath"), "{}", de.body);
    let step = b.post("/start", &[("script", "printer")]).await;
    step.assert_status(200).assert_has("Acme Support");
    insta::assert_snapshot!("brand_step_de", redact(&step.body));

    // Staff pages keep fixpath's chrome.
    let signin = b.get("/signin").await;
    signin.assert_has("· fixpath</title>");
    assert!(!signin.body.contains("Acme") && !signin.body.contains("/brand/"));
}

#[tokio::test]
async fn an_embedded_wizard_has_no_header_or_footer_and_keeps_the_flag() {
    let app = app_with(brand(LOGO_PNG, ALLOWED)).await;
    let mut b = Browser::new(&app);
    let list = b.get("/?embed=1").await;
    list.assert_status(200);
    assert_on(
        &list,
        &[
            "<body class=\" embedded\">",
            "action=\"/start?embed=1\"",
            "<input type=\"hidden\" name=\"embed\" value=\"1\">",
            "href=\"/status?embed=1\"",
            "href=\"/?lang=de&amp;embed=1\"",
        ],
    );
    assert!(!list.body.contains("<header") && !list.body.contains("<footer"));
    insta::assert_snapshot!("embed_list", redact(&list.body));

    // The cookies work in another site's frame: SameSite=None, Secure and
    // partitioned by the embedding site (so the prefixed names).
    let cookie = list
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-fp_csrf="))
        .unwrap_or_else(|| panic!("no frame cookie: {:?}", list.headers));
    assert!(
        cookie.contains("SameSite=None")
            && cookie.contains("Secure")
            && cookie.contains("Partitioned"),
        "{cookie}"
    );

    // Starting and answering stays embedded, by the redirects too.
    let csrf = b.jar["__Host-fp_csrf"].clone();
    let req = b
        .client
        .post(format!("{}/start?embed=1", b.base))
        .form(&[("csrf", csrf.as_str()), ("script", "printer")]);
    let started = b.send(req).await;
    assert_eq!(started.status.as_u16(), 303);
    let to = started.location().unwrap();
    assert!(to.ends_with("?embed=1"), "{to}");
    let session_cookie = started
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Secure-fp_session="))
        .expect("the session's cookie works in a frame");
    assert!(session_cookie.contains("Partitioned"), "{session_cookie}");
    let step = b.get(&to).await;
    step.assert_status(200);
    assert_on(
        &step,
        &[
            "Is there paper in the tray?",
            "/answer?embed=1\"",
            "/language?embed=1\"",
            "/check?embed=1\"",
        ],
    );
    assert!(!step.body.contains("<header"));
    let id = session_of(&to);
    let seq = step.field("seq");
    let req = b
        .client
        .post(format!("{}/s/{id}/answer?embed=1", b.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("seq", seq.as_str()),
            ("answer", "yes"),
        ]);
    let answered = b.send(req).await;
    assert_eq!(
        answered.location().as_deref(),
        Some(&*format!("/s/{id}?embed=1"))
    );
    let next = b.get(&format!("/s/{id}?embed=1")).await;
    assert_on(
        &next,
        &[
            "What is the model name?",
            &format!("/s/{id}/back?embed=1\""),
        ],
    );
    insta::assert_snapshot!("embed_step", redact(&next.body));

    // Handed over to a person: the case page is embedded too, and its
    // forms and links keep the flag.
    let seq = next.field("seq");
    let req = b
        .client
        .post(format!("{}/s/{id}/escalate?embed=1", b.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("seq", seq.as_str()),
            ("note", "It beeps"),
        ]);
    let escalated = b.send(req).await;
    let to = escalated.location().unwrap_or_default();
    assert!(to.ends_with("?embed=1"), "{to}: {}", escalated.body);
    let case = b.get(&to).await;
    case.assert_status(200);
    assert_on(&case, &[&format!("action=\"/s/{id}/message?embed=1\"")]);
    assert!(!case.body.contains("<header") && !case.body.contains("<footer"));

    // Without the flag the same session has its header and footer.
    let full = b.get(&format!("/s/{id}")).await;
    full.assert_has("<header class=\"top\">")
        .assert_has("<footer");
}

#[tokio::test]
async fn without_a_list_embed_drops_the_chrome_but_not_the_cookies_guard() {
    let app = app_with(Brand::default()).await;
    let mut b = Browser::new(&app);
    let list = b.get("/?embed=1").await;
    assert!(!list.body.contains("<header"));
    let csrf = header(&list, &SET_COOKIE).unwrap_or_default();
    assert!(
        csrf.starts_with("fp_csrf=") && csrf.contains("SameSite=Lax"),
        "{csrf}"
    );
    // Staff pages never take the flag.
    let signin = b.get("/signin?embed=1").await;
    signin.assert_has("<header class=\"top\">");
}

#[tokio::test]
async fn the_logo_and_the_colour_are_served_with_a_long_cache() {
    let app = app_with(brand(LOGO_PNG, &[])).await;
    let mut b = Browser::new(&app);
    let logo = b.get("/brand/logo").await;
    logo.assert_status(200);
    assert_eq!(header(&logo, &CONTENT_TYPE), Some("image/png"));
    assert_eq!(
        header(&logo, &CACHE_CONTROL),
        Some("public, max-age=31536000, immutable")
    );
    let etag = header(&logo, &ETAG).unwrap().to_owned();
    let list = b.get("/").await;
    assert_on(
        &list,
        &[&format!("/brand/logo?v={}", etag.trim_matches('"'))],
    );
    let req = b
        .client
        .get(format!("{}/brand/logo", b.base))
        .header(IF_NONE_MATCH, &etag);
    let again = b.send(req).await;
    assert_eq!(again.status.as_u16(), 304);
    assert!(again.body.is_empty());

    let css = b.get("/brand/style.css?v=aa3300").await;
    assert_eq!(header(&css, &CONTENT_TYPE), Some("text/css; charset=utf-8"));
    css.assert_has("--brand: #aa3300;")
        .assert_has("--brand-ink: #ffffff;");

    // An SVG logo cannot run anything, even opened on its own.
    let app = app_with(brand(LOGO_SVG, &[])).await;
    let mut b = Browser::new(&app);
    let svg = b.get("/brand/logo").await;
    assert_eq!(header(&svg, &CONTENT_TYPE), Some("image/svg+xml"));
    let csp = header(&svg, &CONTENT_SECURITY_POLICY).unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );

    // No brand: nothing there, and the pages link to neither.
    let app = app_with(Brand::default()).await;
    let mut b = Browser::new(&app);
    b.get("/brand/logo").await.assert_status(404);
    b.get("/brand/style.css").await.assert_status(404);
    let list = b.get("/").await;
    assert!(!list.body.contains("/brand/") && list.body.contains("· fixpath</title>"));
}

/// `fixpath serve --config` with a `[brand]` beside its logo.
fn config(dir: &TempDir, text: &str) -> std::path::PathBuf {
    std::fs::write(dir.path().join("logo.svg"), LOGO_SVG).unwrap();
    std::fs::write(dir.path().join("big.png"), {
        let mut big = LOGO_PNG.to_vec();
        big.resize(600 * 1024, 0);
        big
    })
    .unwrap();
    let path = dir.path().join("fixpath.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn fixpath_serve_reads_the_brand_and_refuses_a_bad_one() {
    let dir = TempDir::with_scripts("brand");
    let path = config(
        &dir,
        "frame_ancestors = [\"https://support.example.com\"]\n\
         [brand]\nname = \"Acme Support\"\nlogo = \"logo.svg\"\ncolour = \"#aa3300\"\n\
         support_url = \"https://acme.example/contact\"\n",
    );
    let server = Server::start(&dir, &["--config", path.to_str().unwrap()]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (csp, xfo, body) = rt.block_on(async {
        let res = reqwest::get(server.url("/")).await.unwrap();
        let h = res.headers().clone();
        let text = res.text().await.unwrap();
        (
            h.get(CONTENT_SECURITY_POLICY)
                .map(|v| v.to_str().unwrap().to_owned()),
            h.get(X_FRAME_OPTIONS)
                .map(|v| v.to_str().unwrap().to_owned()),
            text,
        )
    });
    assert!(
        csp.unwrap_or_default()
            .ends_with("frame-ancestors https://support.example.com")
    );
    assert_eq!(xfo, None);
    let body = body.replace("&#x2f;", "/");
    assert!(
        body.contains("· Acme Support</title>")
            && body.contains("href=\"https://acme.example/contact\""),
        "{body}"
    );
    let (status, _) = server.stop();
    assert_eq!(status.code(), Some(0));

    for (text, key, says) in [
        (
            "[brand]\ncolour = \"orange\"",
            "`brand.colour`",
            "is not a colour",
        ),
        (
            "[brand]\nlogo = \"nowhere.png\"",
            "`brand.logo`",
            "cannot read the logo",
        ),
        (
            "[brand]\nlogo = \"big.png\"",
            "`brand.logo`",
            "more than the 512 KiB allowed",
        ),
        (
            "frame_ancestors = [\"support.example.com\"]",
            "`frame_ancestors`",
            "is not an origin",
        ),
    ] {
        let path = config(&dir, text);
        let out = fixpath(dir.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--db",
                &dir.db(),
                "--config",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(key) && err.contains(says), "{text}: {err}");
        assert!(Path::new(&path).exists());
    }
}
