//! The admins' page in real browsers (issue 17): a specialist works the
//! queue in one Chromium; an admin in another adds a user (their first API
//! token shown once), then revokes the specialist on `/admin/users`. The
//! specialist's next click lands on the sign-in page, and their API token
//! is refused at once. Screenshots: `admin-users.png` (English, the new
//! token), `admin-users-revoked.png` (the confirmation), `admin-users-de.png`,
//! `admin-users-phone.png`.

use super::case_pages::page_shot;
use super::{Driver, browser_available, shots, sign_in};
use crate::common::{TestApp, staff};

use anyhow::{Context, Result, ensure};
use fixpath::http::HttpConfig;
use fixpath::store::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_a_specialist_who_is_signed_in_elsewhere() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let shots = shots();
    let app =
        TestApp::start_with_scripts(HttpConfig::default(), crate::common::SCRIPTS, |r, _| r).await;
    staff(&app, "sam", Role::Specialist, "correct horse battery").await;
    staff(&app, "ada", Role::Admin, "pw-ada-123").await;
    // `staff` gives each user this API token.
    let sam_api = "fps_sam-api";
    let base = app.base.clone();
    let mut driver = Driver::start().await?;
    let sam = driver.session().await?;
    let ada = driver.session().await?;
    sam.set_window(1200, 900).await?;
    ada.set_window(1200, 900).await?;

    // (1) The specialist works the queue; their API token works too.
    sign_in(&sam, &base, "/queue", "sam", "correct horse battery").await?;
    sam.wait_for("css selector", "h1", "Escalations").await?;
    ensure!(
        app.get("/api/v1/escalations", Some(sam_api))
            .await
            .status
            .as_u16()
            == 200,
        "sam's token opens the API"
    );

    // (2) The admin finds the page in the staff header and adds a user.
    sign_in(&ada, &base, "/agent", "ada", "pw-ada-123").await?;
    ada.click(
        &ada.wait_for("css selector", "nav.top-nav a", "Users")
            .await?,
    )
    .await?;
    ada.wait_for("css selector", "h1", "Users").await?;
    ada.type_into(&ada.css("input#add-name").await?, "kim")
        .await?;
    ada.click(
        &ada.css("select#add-role option[value='specialist']")
            .await?,
    )
    .await?;
    ada.click(&ada.css("select#add-tier option[value='3']").await?)
        .await?;
    ada.type_into(&ada.css("input#add-password").await?, "kim-password-1")
        .await?;
    ada.click(&ada.css("form.add-user button[type=submit]").await?)
        .await?;
    ada.wait_for("css selector", "#token-title", "New API token for kim")
        .await?;
    let token = ada
        .run_js("return document.getElementById('new-token').value;")
        .await?;
    let token = token.as_str().context("the token's field")?.to_owned();
    ensure!(token.starts_with("fps_"), "a staff token: {token}");
    ensure!(
        app.get("/api/v1/escalations", Some(&token))
            .await
            .status
            .as_u16()
            == 200,
        "the new token opens the API"
    );
    page_shot(&ada, &shots, "admin-users.png").await?;

    // (3) The admin revokes the specialist from their row.
    ada.click(
        &ada.css("tr[data-user='sam'] form[action='/admin/users/revoke'] button")
            .await?,
    )
    .await?;
    let done = ada
        .wait_for(
            "css selector",
            "p.notice",
            "Revoked 2 tokens and sign-ins of sam",
        )
        .await?;
    let said = ada.text(&done).await?;
    ensure!(said.contains("none of them opens anything"), "{said}");
    // The list shows it, and the token shown before is not there any more.
    let row = ada.css("tr[data-user='sam']").await?;
    let row_text = ada.text(&row).await?;
    ensure!(row_text.contains("Specialist"), "{row_text}");
    let source = ada.get("/source").await?;
    ensure!(
        !source.as_str().unwrap_or_default().contains(&token),
        "the token is shown only once"
    );
    page_shot(&ada, &shots, "admin-users-revoked.png").await?;

    // (4) The specialist's next request is refused: sent to sign in.
    sam.goto(&format!("{base}/queue")).await?;
    sam.wait_for("css selector", "h1", "Sign in").await?;
    let url = sam.current_url().await?;
    ensure!(url.contains("/signin?next=/queue"), "{url}");
    let api = app.get("/api/v1/escalations", Some(sam_api)).await;
    ensure!(api.status.as_u16() == 401, "sam's API token: {}", api.text);

    // (5) The page in German: the confirmation is gone, the words are German.
    ada.goto(&format!("{base}/admin/users?lang=de")).await?;
    ada.wait_for("css selector", "h2#add-title", "Benutzer anlegen")
        .await?;
    ensure!(
        ada.find_all("css selector", "p.notice").await?.is_empty(),
        "the confirmation is shown once"
    );
    let header = ada.text(&ada.css("table.users thead").await?).await?;
    ensure!(header.contains("Web-Anmeldung"), "{header}");
    page_shot(&ada, &shots, "admin-users-de.png").await?;
    // On a phone each user is a block of its own, the forms at its foot.
    ada.set_window(420, 1600).await?;
    ada.screenshot(&shots, "admin-users-phone.png").await?;
    Ok(())
}
