//! The admins' page `/admin/users` (contract section 13): what `fixpath
//! user list` shows, and the forms that do what `user add`, `passwd`,
//! `token`, `revoke`, `disable` and `enable` do, on the same store calls.
//!
//! Every form is a CSRF-checked post ([`Form`]). A change that shows no
//! secret redirects back to the list (post-redirect-get) with a one-time
//! confirmation carried in a short-lived cookie of this page's path, worded
//! when the list is read, in the reader's language. A new API token (of a
//! new user, or another one) is the exception: it is shown on the page that
//! answers the post, never stored, never logged, and never shown again.
//!
//! An admin cannot disable or revoke their own account here: the page
//! offers no such button on their row and refuses the post (409), naming
//! the other ways (another admin, the CLI on the server). Locking oneself
//! out by a misclick has no undo on this page; doing it to someone else
//! has one (enable, a new token). Setting one's own password keeps this
//! browser signed in with a fresh sign-in (the old ones end, as for
//! everyone).

use super::Pages;
use super::csrf::Form;
use super::signin::{Admins, Staff, open_sign_in};
use super::{Chrome, PageError, PageResult, cookies, i18n, render_status, respond, see_other};
use crate::http::AppState;
use crate::http::auth::{STAFF_PREFIX, hash_password, mint_token};
use crate::http::error::ApiError;
use crate::http::limits;
use crate::logtext::shown;
use crate::store::{NameProblem, NewUser, Role, StoreError, User, UserName};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The page's address; every form's answer shows it (and its language
/// links point at it, not at the post's address).
const PAGE: &str = "/admin/users";

/// The confirmation's cookie (path [`PAGE`]), read once.
const FLASH: &str = "fp_flash";
/// Long enough to follow a redirect on a slow link, short enough that an
/// unread one does not greet the admin tomorrow.
const FLASH_SECONDS: i64 = 120;

/// The shortest password the page sets. The CLI leaves this to the
/// operator at the server; a form in a browser is where short ones are
/// typed in a hurry.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounded like every field a browser sends.
pub const MAX_PASSWORD_CHARS: usize = 1000;

pub fn routes() -> Pages {
    Pages::default()
        .get(PAGE, list)
        .post(PAGE, add)
        .post("/admin/users/password", password)
        .post("/admin/users/token", token)
        .post("/admin/users/revoke", revoke)
        .post("/admin/users/disable", disable)
        .post("/admin/users/enable", enable)
}

/// A user as the list shows them: `user list`'s columns.
#[derive(Serialize)]
struct Row {
    name: String,
    role: &'static str,
    /// Only for those who work at a tier (agents and specialists).
    tier: Option<u8>,
    password: bool,
    tokens: u64,
    disabled: bool,
    /// The admin reading the page.
    me: bool,
}

/// A problem with a form, pointing at its field (`add-…`, or `users` for
/// the forms in the list).
#[derive(Serialize)]
struct Problem {
    field: &'static str,
    text: String,
}

/// What the add form held, shown again when it is refused (never the
/// password).
#[derive(Serialize, Default)]
struct Kept {
    name: String,
    role: String,
    tier: String,
}

/// A token to show once.
#[derive(Serialize)]
struct NewToken {
    name: String,
    token: String,
}

/// What the list shows besides the users.
struct Shown {
    status: StatusCode,
    problems: Vec<Problem>,
    /// The user a list form's problem is about (shown at their row).
    problem_user: Option<String>,
    done: Option<String>,
    token: Option<NewToken>,
    kept: Kept,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            status: StatusCode::OK,
            problems: Vec::new(),
            problem_user: None,
            done: None,
            token: None,
            kept: Kept::default(),
        }
    }
}

impl Shown {
    /// A list form refused: `key`'s words (with `{name}`) at `name`'s row.
    fn refused(chrome: &Chrome, status: StatusCode, key: &str, name: &str) -> Shown {
        Shown {
            status,
            problems: vec![Problem {
                field: "row-problem",
                text: words(chrome, key, name),
            }],
            problem_user: Some(name.to_owned()),
            ..Shown::default()
        }
    }
}

/// A catalogue entry with the user's name in it (cut: a name nobody has
/// can be anything a form sent).
fn words(chrome: &Chrome, key: &str, name: &str) -> String {
    let name: String = name.chars().take(UserName::MAX_CHARS).collect();
    i18n::text(&chrome.lang, key).replace("{name}", &name)
}

fn role_tier(u: &User) -> Option<u8> {
    match u.role {
        Role::Agent | Role::Specialist => Some(u.tier),
        Role::Author | Role::Admin => None,
    }
}

/// The page: every user, and what `shown` adds.
async fn page(state: &AppState, chrome: &Chrome, me: &User, shown: Shown) -> PageResult {
    let users = state.store.list_users(state.clock.now()).await?;
    let rows: Vec<Row> = users
        .into_iter()
        .map(|u| Row {
            tier: role_tier(&u.user),
            role: u.user.role.as_str(),
            me: u.user.name == me.name,
            name: u.user.name,
            password: u.password,
            tokens: u.tokens,
            disabled: u.disabled,
        })
        .collect();
    Ok(render_status(
        chrome,
        shown.status,
        "admin/users.html.j2",
        minijinja::context! {
            users => rows,
            errors => shown.problems,
            problem_user => shown.problem_user,
            done => shown.done,
            token => shown.token,
            add => shown.kept,
            min_password => MIN_PASSWORD_CHARS,
            roles => ["agent", "specialist", "author", "admin"],
        },
    ))
}

// ---------------------------------------------------------------------------
// The one-time confirmation.

/// What a redirected change did, as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    Password,
    Disabled,
    Enabled,
    Revoked(u64),
}

/// `kind.count.name` with the name in base64url: only cookie-safe bytes.
fn flash_value(done: &Done, name: &str) -> String {
    let (kind, n) = match done {
        Done::Password => ("password", 0),
        Done::Disabled => ("disabled", 0),
        Done::Enabled => ("enabled", 0),
        Done::Revoked(n) => ("revoked", *n),
    };
    format!("{kind}.{n}.{}", URL_SAFE_NO_PAD.encode(name))
}

/// The cookie read back; anything else (an old or hand-made value) is
/// nothing to confirm.
fn read_flash(value: &str) -> Option<(Done, String)> {
    let mut parts = value.splitn(3, '.');
    let (kind, n, name) = (parts.next()?, parts.next()?, parts.next()?);
    let n: u64 = n.parse().ok()?;
    let name = String::from_utf8(URL_SAFE_NO_PAD.decode(name).ok()?).ok()?;
    let done = match kind {
        "password" => Done::Password,
        "disabled" => Done::Disabled,
        "enabled" => Done::Enabled,
        "revoked" => Done::Revoked(n),
        _ => return None,
    };
    Some((done, name))
}

fn done_words(chrome: &Chrome, done: &Done, name: &str) -> String {
    match done {
        Done::Password => words(chrome, "admin_done_password", name),
        Done::Disabled => words(chrome, "admin_done_disabled", name),
        Done::Enabled => words(chrome, "admin_done_enabled", name),
        Done::Revoked(n) => {
            i18n::count(&chrome.lang, "admin_done_revoked", *n).replace("{name}", name)
        }
    }
}

/// Back to the list, which confirms `done` once.
fn redirect_done(chrome: &mut Chrome, done: &Done, name: &str) -> Response {
    chrome.set_cookie(cookies::set(
        FLASH,
        &flash_value(done, name),
        PAGE,
        Some(FLASH_SECONDS),
        chrome.secure,
    ));
    see_other(chrome, PAGE)
}

// ---------------------------------------------------------------------------
// The handlers.

async fn list(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    headers: HeaderMap,
) -> Response {
    let mut shown = Shown::default();
    if let Some(value) = cookies::get(&headers, FLASH) {
        shown.done = read_flash(value).map(|(done, name)| done_words(&chrome, &done, &name));
        chrome.set_cookie(cookies::clear(FLASH, PAGE, chrome.secure));
    }
    let r = page(&state, &chrome, &user, shown).await;
    respond(&chrome, r)
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// What is wrong with a password typed for the page, in words.
fn password_problem(chrome: &Chrome, password: &str) -> Option<String> {
    let chars = password.chars().count();
    let key = if password.is_empty() {
        "admin_error_password_empty"
    } else if chars < MIN_PASSWORD_CHARS {
        "admin_error_password_short"
    } else if chars > MAX_PASSWORD_CHARS {
        "admin_error_password_long"
    } else {
        return None;
    };
    Some(
        i18n::text(&chrome.lang, key)
            .replace("{min}", &MIN_PASSWORD_CHARS.to_string())
            .replace("{max}", &MAX_PASSWORD_CHARS.to_string()),
    )
}

fn name_problem(chrome: &Chrome, problem: &NameProblem) -> String {
    let key = match problem {
        NameProblem::Empty => "admin_error_name_empty",
        NameProblem::Spaces(_) => "admin_error_name_spaces",
        NameProblem::Reserved(_) => "admin_error_name_reserved",
        NameProblem::TooLong { .. } => "admin_error_name_long",
    };
    let name = match problem {
        NameProblem::Reserved(n) => n.as_str(),
        _ => "",
    };
    words(chrome, key, name).replace("{max}", &UserName::MAX_CHARS.to_string())
}

/// The password's Argon2id hash, through the server's hash slots (as a
/// sign-in's check goes): a page answering "busy" when they are full.
async fn hashed(state: &AppState, chrome: &Chrome, password: String) -> Result<String, Response> {
    let busy = |too_many| {
        limits::with_retry_after(
            PageError::new(StatusCode::TOO_MANY_REQUESTS, "admin_error_busy").page(chrome),
            too_many,
        )
    };
    match state
        .guards
        .hashes
        .run(move || hash_password(&password))
        .await
    {
        Ok(Ok(hash)) => Ok(hash),
        Ok(Err(e)) => Err(PageError::from(ApiError::internal(e)).page(chrome)),
        Err(too_many) => Err(busy(too_many)),
    }
}

/// `user add`: a new user with a password, and their first API token shown
/// on this answer only.
async fn add(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    form: Result<Form<AddForm>, PageError>,
) -> Response {
    chrome.path = PAGE.into();
    let r = async {
        let Form(form) = form?;
        let kept = Kept {
            name: form.name.trim().chars().take(200).collect(),
            role: form.role.trim().chars().take(20).collect(),
            tier: form.tier.trim().chars().take(5).collect(),
        };
        let mut problems = Vec::new();
        let name = UserName::parse(&kept.name)
            .map_err(|p| {
                problems.push(Problem {
                    field: "add-name",
                    text: name_problem(&chrome, &p),
                })
            })
            .ok();
        let role = Role::parse(&kept.role);
        if role.is_none() {
            problems.push(Problem {
                field: "add-role",
                text: i18n::text(&chrome.lang, "admin_error_role"),
            });
        }
        let tier = match kept.tier.as_str() {
            "" => None,
            t => match t.parse::<u8>() {
                Ok(n) if (1..=4).contains(&n) => Some(n),
                _ => {
                    problems.push(Problem {
                        field: "add-tier",
                        text: i18n::text(&chrome.lang, "admin_error_tier"),
                    });
                    None
                }
            },
        };
        if let Some(text) = password_problem(&chrome, &form.password) {
            problems.push(Problem {
                field: "add-password",
                text,
            });
        }
        let (Some(name), Some(role), true) = (name, role, problems.is_empty()) else {
            let shown = Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                problems,
                kept,
                ..Shown::default()
            };
            return page(&state, &chrome, &user, shown).await;
        };
        // As `user add`: specialists work at tier 2 unless told.
        let tier = tier.unwrap_or(if role == Role::Specialist { 2 } else { 1 });
        let hash = match hashed(&state, &chrome, form.password).await {
            Ok(h) => h,
            Err(res) => return Ok(res),
        };
        let token = mint_token(STAFF_PREFIX).map_err(ApiError::internal)?;
        let new = NewUser {
            user: User {
                name: name.as_str().to_owned(),
                role,
                tier,
            },
            password_hash: Some(hash),
            token_hash: token.hash,
        };
        match state.store.create_user(&new).await {
            Err(StoreError::Duplicate(_)) => {
                let shown = Shown {
                    status: StatusCode::CONFLICT,
                    problems: vec![Problem {
                        field: "add-name",
                        text: words(&chrome, "admin_error_name_taken", name.as_str()),
                    }],
                    kept,
                    ..Shown::default()
                };
                page(&state, &chrome, &user, shown).await
            }
            Err(e) => Err(e.into()),
            Ok(()) => {
                tracing::info!(admin = %shown(&user.name), user = %shown(name.as_str()), role = role.as_str(), "an admin added a user");
                let shown = Shown {
                    done: Some(words(&chrome, "admin_done_added", name.as_str())),
                    token: Some(NewToken {
                        name: name.as_str().to_owned(),
                        token: token.plain,
                    }),
                    ..Shown::default()
                };
                page(&state, &chrome, &user, shown).await
            }
        }
    }
    .await;
    respond(&chrome, r)
}

/// The user a list form acts on (its hidden field), as sign-in reads a
/// name: without the spaces around it.
fn named(form_name: &str) -> String {
    form_name.trim().to_owned()
}

/// `user passwd`: the user's web sign-ins end, their API tokens stay.
async fn password(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    form: Result<Form<PasswordForm>, PageError>,
) -> Response {
    chrome.path = PAGE.into();
    let r = async {
        let Form(form) = form?;
        let name = named(&form.name);
        if let Some(text) = password_problem(&chrome, &form.password) {
            let shown = Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                problems: vec![Problem {
                    field: "row-problem",
                    text,
                }],
                problem_user: Some(name),
                ..Shown::default()
            };
            return page(&state, &chrome, &user, shown).await;
        }
        let hash = match hashed(&state, &chrome, form.password).await {
            Ok(h) => h,
            Err(res) => return Ok(res),
        };
        if !state.store.set_password(&name, &hash).await? {
            let shown = Shown::refused(
                &chrome,
                StatusCode::NOT_FOUND,
                "admin_error_unknown_user",
                &name,
            );
            return page(&state, &chrome, &user, shown).await;
        }
        tracing::info!(admin = %shown(&user.name), user = %shown(&name), "an admin set a user's password");
        // Their own sign-ins ended with the rest; this browser goes on.
        if name == user.name {
            open_sign_in(&state, &mut chrome, &name).await?;
        }
        Ok(redirect_done(&mut chrome, &Done::Password, &name))
    }
    .await;
    respond(&chrome, r)
}

/// `user token`: a new API token, shown on this answer only; the user's
/// other tokens keep working.
async fn token(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    form: Result<Form<NameForm>, PageError>,
) -> Response {
    chrome.path = PAGE.into();
    let r = async {
        let Form(form) = form?;
        let name = named(&form.name);
        let token = mint_token(STAFF_PREFIX).map_err(ApiError::internal)?;
        match state.store.add_token(&name, &token.hash).await {
            Err(StoreError::NotFound(_)) => {
                let shown = Shown::refused(
                    &chrome,
                    StatusCode::NOT_FOUND,
                    "admin_error_unknown_user",
                    &name,
                );
                page(&state, &chrome, &user, shown).await
            }
            Err(e) => Err(e.into()),
            Ok(()) => {
                tracing::info!(admin = %shown(&user.name), user = %shown(&name), "an admin gave a user a new API token");
                let shown = Shown {
                    done: Some(words(&chrome, "admin_done_token", &name)),
                    token: Some(NewToken {
                        name,
                        token: token.plain,
                    }),
                    ..Shown::default()
                };
                page(&state, &chrome, &user, shown).await
            }
        }
    }
    .await;
    respond(&chrome, r)
}

/// Refuses a change to the admin's own account (see the module's words).
async fn not_yourself(
    state: &AppState,
    chrome: &Chrome,
    me: &User,
    name: &str,
    key: &str,
) -> Option<PageResult> {
    if name != me.name {
        return None;
    }
    let shown = Shown::refused(chrome, StatusCode::CONFLICT, key, name);
    Some(page(state, chrome, me, shown).await)
}

/// `user revoke`: every token and web sign-in of the user stops at once.
async fn revoke(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    form: Result<Form<NameForm>, PageError>,
) -> Response {
    chrome.path = PAGE.into();
    let r = async {
        let Form(form) = form?;
        let name = named(&form.name);
        if let Some(r) = not_yourself(&state, &chrome, &user, &name, "admin_error_self_revoke").await
        {
            return r;
        }
        // A disabled user is revoked too (`user_by_name` would not find
        // them), as `user revoke` does.
        let users = state.store.list_users(state.clock.now()).await?;
        if !users.iter().any(|u| u.user.name == name) {
            let shown = Shown::refused(
                &chrome,
                StatusCode::NOT_FOUND,
                "admin_error_unknown_user",
                &name,
            );
            return page(&state, &chrome, &user, shown).await;
        }
        let n = state.store.revoke_tokens(&name).await?;
        tracing::info!(admin = %shown(&user.name), user = %shown(&name), tokens = n, "an admin revoked a user's tokens and sign-ins");
        Ok(redirect_done(&mut chrome, &Done::Revoked(n), &name))
    }
    .await;
    respond(&chrome, r)
}

async fn disable(
    state: State<AppState>,
    staff: Staff<Admins>,
    form: Result<Form<NameForm>, PageError>,
) -> Response {
    set_disabled(state, staff, form, true).await
}

async fn enable(
    state: State<AppState>,
    staff: Staff<Admins>,
    form: Result<Form<NameForm>, PageError>,
) -> Response {
    set_disabled(state, staff, form, false).await
}

/// `user disable` and `user enable`.
async fn set_disabled(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Admins>,
    form: Result<Form<NameForm>, PageError>,
    disabled: bool,
) -> Response {
    chrome.path = PAGE.into();
    let r = async {
        let Form(form) = form?;
        let name = named(&form.name);
        if disabled
            && let Some(r) =
                not_yourself(&state, &chrome, &user, &name, "admin_error_self_disable").await
        {
            return r;
        }
        if !state.store.set_disabled(&name, disabled).await? {
            let shown = Shown::refused(
                &chrome,
                StatusCode::NOT_FOUND,
                "admin_error_unknown_user",
                &name,
            );
            return page(&state, &chrome, &user, shown).await;
        }
        let (done, what) = if disabled {
            (Done::Disabled, "an admin disabled a user")
        } else {
            (Done::Enabled, "an admin enabled a user")
        };
        tracing::info!(admin = %shown(&user.name), user = %shown(&name), "{what}");
        Ok(redirect_done(&mut chrome, &done, &name))
    }
    .await;
    respond(&chrome, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_survives_its_cookie() {
        for done in [
            Done::Password,
            Done::Disabled,
            Done::Enabled,
            Done::Revoked(3),
        ] {
            let v = flash_value(&done, "ann;\"=é");
            assert!(
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{v}"
            );
            assert_eq!(read_flash(&v), Some((done, "ann;\"=é".to_owned())));
        }
        assert_eq!(read_flash("deleted.0.YW5u"), None);
        assert_eq!(read_flash("revoked.x.YW5u"), None);
        assert_eq!(read_flash("revoked.1.***"), None);
    }
}
