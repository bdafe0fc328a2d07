//! The admins' page `/admin/users` (contract section 13) as a browser
//! without JavaScript uses it: only admins open it; it lists what `fixpath
//! user list` lists; each form changes the store as the CLI's command does
//! (read back through the store, the API and the sign-in page; on SQLite
//! and PostgreSQL); a form without its CSRF token changes nothing;
//! refusals are worded in the admin's language; a new API token is shown
//! once, and neither it nor a password reaches the log.

use crate::common;
use crate::web::{Browser, Page, redact};

use common::pg::TestDb;
use common::{TestApp, logs, staff};
use fixpath::http::auth::hash_token;
use fixpath::store::postgres::PgStore;
use fixpath::store::{Role, Store, UserSummary};
use regex::Regex;
use std::sync::Arc;

/// An admin, signed in, reading pages in `language`.
async fn signed_in(app: &TestApp, name: &str, password: &str, language: &str) -> Browser {
    let mut b = Browser::new(app);
    b.language = Some(language.to_owned());
    b.get("/signin").await;
    b.post(
        "/signin",
        &[("name", name), ("password", password), ("next", "")],
    )
    .await;
    assert!(b.jar.contains_key("fp_staff"), "{name} is signed in");
    b
}

async fn admin(app: &TestApp, language: &str) -> Browser {
    staff(app, "ada", Role::Admin, "pw-ada-123").await;
    signed_in(app, "ada", "pw-ada-123", language).await
}

/// The user `name` as `user list` reads them.
async fn listed(app: &TestApp, name: &str) -> Option<UserSummary> {
    let now = app.state.clock.now();
    app.store
        .list_users(now)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.user.name == name)
}

/// Does `token` open the API (a specialist's list of escalations)?
async fn opens_api(app: &TestApp, token: &str) -> bool {
    let res = app.get("/api/v1/escalations", Some(token)).await;
    match res.status.as_u16() {
        200 => true,
        401 => false,
        other => panic!("GET /api/v1/escalations: {other}: {}", res.text),
    }
}

/// The API token shown on the page (once).
fn shown_token(page: &Page) -> String {
    Regex::new(r#"id="new-token" type="text" value="(fps_[A-Za-z0-9_-]{43})""#)
        .unwrap()
        .captures(&page.body)
        .unwrap_or_else(|| panic!("no token on the page:\n{}", page.body))[1]
        .to_owned()
}

fn redact_page(html: &str) -> String {
    let staff_token = Regex::new(r"fps_[A-Za-z0-9_-]{43}").unwrap();
    staff_token
        .replace_all(&redact(html), "[staff token]")
        .into_owned()
}

/// The main part of a page (the chrome is snapshotted elsewhere).
fn main_of(html: &str) -> &str {
    let start = html.find("<main").expect("a main");
    let end = html.find("</main>").expect("a main's end");
    &html[start..end + "</main>".len()]
}

#[tokio::test]
async fn only_admins_open_the_users_page_and_its_forms() {
    let app = TestApp::start().await;
    staff(&app, "sam", Role::Specialist, "pw-sam-123").await;
    staff(&app, "ann", Role::Agent, "pw-ann-123").await;
    staff(&app, "aut", Role::Author, "pw-aut-123").await;

    // Not signed in: sent to sign in, and back here afterwards.
    let mut nobody = Browser::new(&app);
    let req = nobody.client.get(format!("{}/admin/users", app.base));
    let gate = nobody.send(req).await;
    assert_eq!(gate.status.as_u16(), 303);
    assert_eq!(
        gate.location().as_deref(),
        Some("/signin?next=/admin/users")
    );
    nobody.get("/signin").await;
    nobody
        .post("/admin/users/disable", &[("name", "sam")])
        .await
        .assert_has("Sign in");

    // Every other role: a friendly 403, on the page and on every form.
    for (name, password) in [
        ("sam", "pw-sam-123"),
        ("ann", "pw-ann-123"),
        ("aut", "pw-aut-123"),
    ] {
        let mut b = signed_in(&app, name, password, "en").await;
        let page = b.get("/admin/users").await;
        page.assert_status(403)
            .assert_has("Your account cannot open this page");
        assert!(!page.body.contains(r#"href="/admin/users""#), "no link");
        for (path, fields) in [
            ("/admin/users/disable", vec![("name", "ann")]),
            ("/admin/users/revoke", vec![("name", "ann")]),
            ("/admin/users/token", vec![("name", name)]),
            (
                "/admin/users/password",
                vec![("name", "ann"), ("password", "new-password-1")],
            ),
            (
                "/admin/users",
                vec![
                    ("name", "eve"),
                    ("role", "admin"),
                    ("password", "eve-password"),
                ],
            ),
        ] {
            b.post(path, &fields).await.assert_status(403);
        }
    }
    // Nothing changed: no new user, nobody disabled, no token added.
    let now = app.state.clock.now();
    let users = app.store.list_users(now).await.unwrap();
    assert_eq!(users.len(), 3);
    for u in &users {
        assert!(!u.disabled, "{}", u.user.name);
        // Their API token and this test's one sign-in.
        assert_eq!(u.tokens, 2, "{}", u.user.name);
    }

    // An admin opens it, from the link in the staff header.
    let mut ada = admin(&app, "en").await;
    let home = ada.get("/agent").await;
    home.assert_has(r#"<a href="/admin/users">Users</a>"#);
    ada.get("/admin/users")
        .await
        .assert_status(200)
        .assert_has("Add a user");
    // Sign-in sends an admin back here when asked to.
    let mut again = Browser::new(&app);
    again.get("/signin?next=/admin/users").await;
    again
        .post(
            "/signin",
            &[
                ("name", "ada"),
                ("password", "pw-ada-123"),
                ("next", "/admin/users"),
            ],
        )
        .await
        .assert_status(200)
        .assert_has("Add a user");
}

#[tokio::test]
async fn the_list_shows_what_user_list_shows_in_english_and_german() {
    let app = TestApp::start().await;
    staff(&app, "sam", Role::Specialist, "pw-sam-123").await;
    staff(&app, "aut", Role::Author, "pw-aut-123").await;
    // An agent at tier 1 with only an API token, and a disabled one.
    app.user("bot", Role::Agent, 1).await;
    app.user("old", Role::Specialist, 3).await;
    app.store.set_disabled("old", true).await.unwrap();
    // A name a page must escape.
    app.user("<b>x</b>", Role::Agent, 2).await;
    let mut ada = admin(&app, "en").await;
    let en = ada.get("/admin/users").await;
    en.assert_status(200);
    assert!(!en.body.contains("<b>x</b>"), "the name is escaped");
    insta::assert_snapshot!("admin_users_en", redact_page(main_of(&en.body)));
    let de = ada.get("/admin/users?lang=de").await;
    de.assert_status(200)
        .assert_has("Benutzer anlegen")
        .assert_has("Gesperrt")
        .assert_has("Nur API");
    insta::assert_snapshot!("admin_users_de", redact_page(main_of(&de.body)));
}

#[tokio::test]
async fn each_form_changes_the_store_as_the_cli_does() {
    each_form_on(TestApp::start().await).await;
}

#[tokio::test]
async fn each_form_changes_the_store_as_the_cli_does_on_postgres() {
    let Some(db) = TestDb::create("admin_page_forms").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(PgStore::open(&db.url, 4).await.unwrap());
    each_form_on(TestApp::start_on(store, |_| {}).await).await;
    drop(db);
}

async fn each_form_on(app: TestApp) {
    let sam_api = app.user("sam", Role::Specialist, 2).await;
    let mut ada = admin(&app, "en").await;

    // add: a specialist with a password, their first token shown once.
    let added = ada
        .post(
            "/admin/users",
            &[
                ("name", "kim"),
                ("role", "specialist"),
                ("tier", "3"),
                ("password", "kim-password-1"),
            ],
        )
        .await;
    added
        .assert_status(200)
        .assert_has("Added kim.")
        .assert_has("New API token for kim");
    let kim_api = shown_token(&added);
    let kim = listed(&app, "kim").await.expect("kim is stored");
    assert_eq!(
        (kim.user.role, kim.user.tier, kim.password, kim.tokens),
        (Role::Specialist, 3, true, 1)
    );
    assert!(opens_api(&app, &kim_api).await);
    let list = ada.get("/admin/users").await;
    assert!(!list.body.contains(&kim_api), "the token is shown once");
    // With the password set, kim signs in.
    let mut kim_browser = signed_in(&app, "kim", "kim-password-1", "en").await;
    kim_browser.get("/queue").await.assert_status(200);
    // Without a tier: 2 for a specialist, 1 for the rest (as `user add`).
    for (name, role, tier) in [("lee", "specialist", 2), ("max", "author", 1)] {
        ada.post(
            "/admin/users",
            &[
                ("name", name),
                ("role", role),
                ("tier", ""),
                ("password", "a-long-password"),
            ],
        )
        .await
        .assert_status(200);
        assert_eq!(listed(&app, name).await.unwrap().user.tier, tier);
    }

    // token: a new one works; the old one keeps working.
    let given = ada.post("/admin/users/token", &[("name", "sam")]).await;
    given
        .assert_status(200)
        .assert_has("Gave sam a new API token.");
    let sam_new = shown_token(&given);
    assert_ne!(sam_new, sam_api);
    assert!(opens_api(&app, &sam_new).await);
    assert!(opens_api(&app, &sam_api).await);
    assert_eq!(listed(&app, "sam").await.unwrap().tokens, 2);

    // passwd: kim's web sign-in ends, the new password works, the API
    // token stays.
    let set = ada
        .post(
            "/admin/users/password",
            &[("name", "kim"), ("password", "kim-password-2")],
        )
        .await;
    set.assert_status(200).assert_has(
        "Set a new password for kim. Their web sign-ins have ended; their API tokens still work.",
    );
    // The confirmation is shown once.
    let again = ada.get("/admin/users").await;
    assert!(!again.body.contains("Set a new password for kim"));
    kim_browser.get("/queue").await.assert_has("Sign in");
    assert!(opens_api(&app, &kim_api).await);
    assert!(
        app.store
            .user_by_name("kim")
            .await
            .unwrap()
            .unwrap()
            .1
            .unwrap()
            .starts_with("$argon2id$")
    );

    // disable: nothing of sam's opens; enable: it all works again.
    ada.post("/admin/users/disable", &[("name", "sam")])
        .await
        .assert_status(200)
        .assert_has("Disabled sam:");
    assert!(listed(&app, "sam").await.unwrap().disabled);
    assert!(!opens_api(&app, &sam_api).await);
    ada.get("/admin/users")
        .await
        .assert_has(r#"action="/admin/users/enable""#);
    ada.post("/admin/users/enable", &[("name", "sam")])
        .await
        .assert_status(200)
        .assert_has("Enabled sam:");
    assert!(!listed(&app, "sam").await.unwrap().disabled);
    assert!(opens_api(&app, &sam_api).await);

    // revoke: every token and sign-in of kim stops, at once (signed in
    // with the new password first).
    let kim_browser = signed_in(&app, "kim", "kim-password-2", "en").await;
    assert_eq!(listed(&app, "kim").await.unwrap().tokens, 2);
    let revoked = ada.post("/admin/users/revoke", &[("name", "kim")]).await;
    revoked
        .assert_status(200)
        .assert_has("Revoked 2 tokens and sign-ins of kim");
    assert_eq!(listed(&app, "kim").await.unwrap().tokens, 0);
    assert!(!opens_api(&app, &kim_api).await);
    let mut kim_browser = kim_browser;
    kim_browser.get("/queue").await.assert_has("Sign in");
    // The others are untouched.
    assert!(opens_api(&app, &sam_api).await);
}

#[tokio::test]
async fn an_admin_who_sets_their_own_password_stays_signed_in() {
    let app = TestApp::start().await;
    let mut ada = admin(&app, "en").await;
    let before = ada.jar["fp_staff"].clone();
    ada.post(
        "/admin/users/password",
        &[("name", "ada"), ("password", "pw-ada-456")],
    )
    .await
    .assert_status(200)
    .assert_has("Set a new password for ada.");
    assert_ne!(ada.jar["fp_staff"], before, "a fresh sign-in");
    ada.get("/admin/users").await.assert_status(200);
    // The old sign-in is gone, as for everyone.
    let now = app.state.clock.now();
    assert!(
        app.store
            .user_by_token(&hash_token(&before), now)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn refusals_are_worded_in_the_admins_language_and_change_nothing() {
    let app = TestApp::start().await;
    let sam_api = app.user("sam", Role::Specialist, 2).await;
    let mut ada = admin(&app, "de").await;

    // An existing name; the form keeps what was typed (not the password).
    let taken = ada
        .post(
            "/admin/users",
            &[
                ("name", "sam"),
                ("role", "agent"),
                ("tier", "1"),
                ("password", "a-long-password"),
            ],
        )
        .await;
    taken
        .assert_status(409)
        .assert_has("Es gibt bereits einen Benutzer namens „sam“.")
        .assert_has(r#"id="add-name" name="name" type="text" value="sam""#);
    assert!(!taken.body.contains("a-long-password"));
    assert_eq!(
        listed(&app, "sam").await.unwrap().user.role,
        Role::Specialist
    );

    // Everything wrong at once: each field says what.
    let wrong = ada
        .post(
            "/admin/users",
            &[
                ("name", "ann smith"),
                ("role", "boss"),
                ("tier", "9"),
                ("password", "short"),
            ],
        )
        .await;
    wrong
        .assert_status(422)
        .assert_has("Ein Benutzername darf keine Leerzeichen enthalten.")
        .assert_has("Wählen Sie eine Rolle.")
        .assert_has("Wählen Sie eine Stufe von 1 bis 4.")
        .assert_has("Das Passwort ist zu kurz: Verwenden Sie mindestens 8 Zeichen.");
    insta::assert_snapshot!("admin_users_refused_de", redact_page(main_of(&wrong.body)));
    let long = "a".repeat(65);
    for (name, text) in [
        ("", "Geben Sie einen Benutzernamen ein."),
        ("system", "„system“ ist für das System reserviert."),
        (long.as_str(), "höchstens 64 Zeichen"),
    ] {
        ada.post(
            "/admin/users",
            &[("name", name), ("role", "agent"), ("password", "")],
        )
        .await
        .assert_status(422)
        .assert_has(text)
        .assert_has("Geben Sie ein Passwort ein.");
    }
    assert_eq!(
        app.store
            .list_users(app.state.clock.now())
            .await
            .unwrap()
            .len(),
        2
    );

    // A password too short for an existing user.
    ada.post(
        "/admin/users/password",
        &[("name", "sam"), ("password", "1234567")],
    )
    .await
    .assert_status(422)
    .assert_has("Das Passwort ist zu kurz");
    assert!(!listed(&app, "sam").await.unwrap().password);

    // An unknown user, on every form.
    for (path, fields) in [
        ("/admin/users/token", vec![("name", "nobody")]),
        ("/admin/users/revoke", vec![("name", "nobody")]),
        ("/admin/users/disable", vec![("name", "nobody")]),
        ("/admin/users/enable", vec![("name", "nobody")]),
        (
            "/admin/users/password",
            vec![("name", "nobody"), ("password", "a-long-password")],
        ),
    ] {
        ada.post(path, &fields)
            .await
            .assert_status(404)
            .assert_has("Es gibt keinen Benutzer namens „nobody“.");
    }

    // Their own account: refused, and the admin stays as they were.
    let own = ada.get("/admin/users").await;
    let row = own
        .body
        .split(r#"data-user="ada""#)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(!row.contains("/admin/users/disable") && !row.contains("/admin/users/revoke"));
    ada.post("/admin/users/disable", &[("name", "ada")])
        .await
        .assert_status(409)
        .assert_has("Sie können Ihr eigenes Konto nicht sperren.");
    ada.post("/admin/users/revoke", &[("name", "ada")])
        .await
        .assert_status(409)
        .assert_has("Ihre eigenen Tokens und Anmeldungen können Sie hier nicht widerrufen.");
    let me = listed(&app, "ada").await.unwrap();
    assert!(!me.disabled);
    assert_eq!(me.tokens, 2);
    ada.get("/admin/users").await.assert_status(200);
    assert!(opens_api(&app, &sam_api).await);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let app = TestApp::start().await;
    let sam_api = app.user("sam", Role::Specialist, 2).await;
    let mut ada = admin(&app, "en").await;
    ada.get("/admin/users").await;
    let before = app.store.list_users(app.state.clock.now()).await.unwrap();
    for (path, fields) in [
        ("/admin/users/disable", vec![("name", "sam")]),
        ("/admin/users/revoke", vec![("name", "sam")]),
        ("/admin/users/token", vec![("name", "sam")]),
        (
            "/admin/users/password",
            vec![("name", "sam"), ("password", "a-long-password")],
        ),
        (
            "/admin/users",
            vec![
                ("name", "eve"),
                ("role", "admin"),
                ("password", "a-long-password"),
            ],
        ),
    ] {
        // No token, then a wrong one.
        let refused = ada.post_raw(path, &fields).await;
        refused
            .assert_status(403)
            .assert_has("This form has expired or did not come from this site.");
        assert!(!refused.body.contains("fps_"), "no token was made");
        let mut forged = fields.clone();
        forged.push(("csrf", "forged-forged-forged-forged-forged-forged"));
        ada.post_raw(path, &forged).await.assert_status(403);
    }
    let after = app.store.list_users(app.state.clock.now()).await.unwrap();
    assert_eq!(before, after);
    assert!(opens_api(&app, &sam_api).await);
}

#[tokio::test]
async fn a_token_revoked_on_the_page_is_refused_at_once() {
    let app = TestApp::start().await;
    app.user("sam", Role::Specialist, 2).await;
    let mut ada = admin(&app, "en").await;
    let given = ada.post("/admin/users/token", &[("name", "sam")]).await;
    let token = shown_token(&given);
    assert!(opens_api(&app, &token).await);
    ada.post("/admin/users/revoke", &[("name", "sam")])
        .await
        .assert_status(200)
        .assert_has("Revoked 2 tokens and sign-ins of sam");
    let refused = app.get("/api/v1/escalations", Some(&token)).await;
    refused.assert_error(401, "unauthorized");
}

// Current-thread: the server's handlers log on this thread, where the
// collecting subscriber is set.
#[tokio::test]
async fn a_new_token_and_a_password_reach_the_page_but_never_the_log_or_a_cache() {
    let app = TestApp::start().await;
    app.user("sam", Role::Specialist, 2).await;
    let mut ada = admin(&app, "en").await;
    let (logs, _guard) = logs::collect();

    let added = ada
        .post(
            "/admin/users",
            &[
                ("name", "kim"),
                ("role", "agent"),
                ("password", "kim-secret-password"),
            ],
        )
        .await;
    let first = shown_token(&added);
    let given = ada.post("/admin/users/token", &[("name", "sam")]).await;
    let second = shown_token(&given);
    ada.post(
        "/admin/users/password",
        &[("name", "sam"), ("password", "sam-secret-password")],
    )
    .await
    .assert_status(200);
    for page in [&added, &given] {
        assert_eq!(page.headers["cache-control"], "no-store");
        for h in fixpath::http::web::SECURITY_HEADERS {
            assert!(page.headers.contains_key(h), "missing {h}");
        }
    }

    let text = logs.text();
    assert!(text.contains("an admin added a user"), "{text}");
    assert!(
        text.contains("an admin gave a user a new API token"),
        "{text}"
    );
    assert!(text.contains("an admin set a user's password"), "{text}");
    for secret in [
        first.as_str(),
        second.as_str(),
        "kim-secret-password",
        "sam-secret-password",
    ] {
        assert!(!text.contains(secret), "the log shows `{secret}`:\n{text}");
    }
}
