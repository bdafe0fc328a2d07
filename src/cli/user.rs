//! `fixpath user add NAME --role ROLE [--tier N] [--password-stdin] [--db URL]`
//! (contract section 9): creates a staff user and prints its API token as
//! the last line of stdout, the only time the token is shown; the store keeps
//! its SHA-256. With `--password-stdin` the first line of stdin becomes the
//! password for the web pages, kept as an Argon2id hash.

use super::{DbArgs, exit, on_store};
use crate::http::auth::{STAFF_PREFIX, hash_password, mint_token};
use crate::server::config::{ConfigFile, resolve_db};
use crate::store::{NewUser, Role, StoreError, User, UserName};
use std::io::BufRead;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user and print its API token (last line of stdout)
    Add(AddArgs),
    /// List the users: role, tier, web sign-in, tokens in use
    List(DbArgs),
    /// Give a user a new API token (printed as the last line of stdout)
    Token(NamedArgs),
    /// Stop every API token and web sign-in of a user, at once
    Revoke(NamedArgs),
    /// Disable a user: their tokens and sign-ins open nothing, and they cannot sign in
    Disable(NamedArgs),
    /// Enable a disabled user again (their tokens work again)
    Enable(NamedArgs),
    /// Set a user's password for the web pages (their web sign-ins end)
    Passwd(PasswdArgs),
}

#[derive(Debug, clap::Args)]
pub struct PasswdArgs {
    /// The user's name
    pub name: String,
    /// Read the password from the first line of stdin; on a terminal it is asked for twice and
    /// not shown as it is typed
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct NamedArgs {
    /// The user's name
    pub name: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The user's name: no spaces, at most 64 characters
    pub name: String,
    /// What the user may do
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The tier a specialist works at, 1-4 [default: 2 for specialists, else 1]
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub tier: Option<u8>,
    /// Read a password for the web pages from the first line of stdin; on a terminal it is
    /// asked for twice and not shown as it is typed
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Steps customers through scripts (the agent console)
    Agent,
    /// Works the escalation queue of their tier
    Specialist,
    /// Writes scripts (the authors' pages)
    Author,
    /// Everything
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Agent => Role::Agent,
            RoleArg::Specialist => Role::Specialist,
            RoleArg::Author => Role::Author,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// `terminal`: stdin is a terminal, where a password is typed unseen.
pub(super) fn run(
    args: Args,
    input: &mut dyn BufRead,
    terminal: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    match args.command {
        Command::Add(a) => add(a, input, terminal, out, err),
        Command::List(a) => list(a, out, err),
        Command::Token(a) => token(a, out, err),
        Command::Revoke(a) => revoke(a, out, err),
        Command::Disable(a) => set_disabled(a, true, out, err),
        Command::Enable(a) => set_disabled(a, false, out, err),
        Command::Passwd(a) => passwd(a, input, terminal, out, err),
    }
}

fn add(
    args: AddArgs,
    input: &mut dyn BufRead,
    terminal: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let name = match UserName::parse(&args.name) {
        Ok(n) => n,
        Err(problem) => {
            writeln!(err, "error: {problem}")?;
            return Ok(exit::USAGE);
        }
    };
    let file = match args.db.config.as_deref().map(ConfigFile::load).transpose() {
        Ok(f) => f,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(exit::USAGE);
        }
    };
    let db = match resolve_db(args.db.db.as_deref(), file.as_ref()) {
        Ok(d) => d,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(exit::USAGE);
        }
    };
    let role = Role::from(args.role);
    let tier = args
        .tier
        .unwrap_or(if role == Role::Specialist { 2 } else { 1 });

    let password_hash = if args.password_stdin {
        match read_password(input, terminal, name.as_str(), err)? {
            Some(p) => Some(hash_password(&p)?),
            None => return Ok(exit::USAGE),
        }
    } else {
        None
    };

    let token = mint_token(STAFF_PREFIX)
        .map_err(|e| anyhow::anyhow!("no random numbers for a token: {e}"))?;
    let new = NewUser {
        user: User {
            name: name.as_str().to_owned(),
            role,
            tier,
        },
        password_hash,
        token_hash: token.hash,
    };

    let new = &new;
    let Some(created) = on_store(
        &db,
        err,
        |store| async move { store.create_user(new).await },
    )?
    else {
        return Ok(exit::PROBLEMS);
    };
    match created {
        Err(StoreError::Duplicate(_)) => {
            writeln!(
                err,
                "error: a user named `{}` already exists in {db}\n  hint: pick another name",
                name.as_str()
            )?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: could not create the user: {e}")?;
            Ok(exit::PROBLEMS)
        }
        Ok(()) => {
            let with_password = if new.password_hash.is_some() {
                ", with a password for the web pages"
            } else {
                ""
            };
            // Only those who work at a tier are shown one.
            let at_tier = match role {
                Role::Agent | Role::Specialist => format!(" (tier {tier})"),
                Role::Author | Role::Admin => String::new(),
            };
            writeln!(
                out,
                "created {} `{}`{at_tier}{with_password} in {db}",
                role.as_str(),
                name.as_str()
            )?;
            writeln!(
                out,
                "API token (shown only this once; send it as `Authorization: Bearer TOKEN`):"
            )?;
            writeln!(out, "{}", token.plain)?;
            Ok(exit::OK)
        }
    }
}

/// `fixpath user token NAME`: a new API token, shown only this once.
fn token(
    args: NamedArgs,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(db) = args.db.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let token = mint_token(STAFF_PREFIX)
        .map_err(|e| anyhow::anyhow!("no random numbers for a token: {e}"))?;
    let name = args.name.as_str();
    let Some(added) = on_store(&db, err, |store| async move {
        store.add_token(name, &token.hash).await
    })?
    else {
        return Ok(exit::PROBLEMS);
    };
    match added {
        Ok(()) => {
            writeln!(
                out,
                "a new API token for `{}` (shown only this once; the user's other tokens keep working until `fixpath user revoke`):",
                args.name
            )?;
            writeln!(out, "{}", token.plain)?;
            Ok(exit::OK)
        }
        Err(StoreError::NotFound(_)) => {
            writeln!(err, "error: there is no user named `{}` in {db}", args.name)?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: could not add the token: {e}")?;
            Ok(exit::PROBLEMS)
        }
    }
}

/// `fixpath user revoke NAME`: every token and web sign-in of the user
/// stops working at once.
fn revoke(
    args: NamedArgs,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(db) = args.db.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let name = args.name.as_str();
    let Some(done) = on_store(&db, err, |store| async move {
        // A disabled user is revoked too: `user_by_name` would not find them.
        let now = crate::clock::Clock::system().now();
        match store.list_users(now).await {
            Ok(users) if users.iter().any(|u| u.user.name == name) => {
                store.revoke_tokens(name).await.map(Some)
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    })?
    else {
        return Ok(exit::PROBLEMS);
    };
    match done {
        Ok(Some(n)) => {
            writeln!(
                out,
                "revoked {n} token(s) and sign-in(s) of `{}`: none of them opens anything any more; \
                 `fixpath user token {}` gives a new one",
                args.name, args.name
            )?;
            Ok(exit::OK)
        }
        Ok(None) => {
            writeln!(err, "error: there is no user named `{}` in {db}", args.name)?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: could not revoke: {e}")?;
            Ok(exit::PROBLEMS)
        }
    }
}

/// `fixpath user disable NAME` and `enable NAME`.
fn set_disabled(
    args: NamedArgs,
    disabled: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(db) = args.db.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let name = args.name.as_str();
    let Some(done) = on_store(&db, err, |store| async move {
        store.set_disabled(name, disabled).await
    })?
    else {
        return Ok(exit::PROBLEMS);
    };
    match done {
        Ok(true) if disabled => {
            writeln!(
                out,
                "disabled `{}`: their tokens and sign-ins open nothing and they cannot sign in, \
                 until `fixpath user enable {}`",
                args.name, args.name
            )?;
            Ok(exit::OK)
        }
        Ok(true) => {
            writeln!(out, "enabled `{}`: their tokens work again", args.name)?;
            Ok(exit::OK)
        }
        Ok(false) => {
            writeln!(err, "error: there is no user named `{}` in {db}", args.name)?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: could not change the user: {e}")?;
            Ok(exit::PROBLEMS)
        }
    }
}

/// The password of `--password-stdin`: typed twice unseen on a terminal,
/// else the first line of stdin. `None` once the reason it cannot be used
/// was written to `err`.
fn read_password(
    input: &mut dyn BufRead,
    terminal: bool,
    name: &str,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Option<String>> {
    let line = if terminal {
        let first = read_unseen(input, &format!("Password for `{name}` (not shown): "), err)?;
        let again = read_unseen(input, "The same password again: ", err)?;
        if first != again {
            writeln!(err, "error: the two passwords differ; nothing was changed")?;
            return Ok(None);
        }
        first
    } else {
        let mut line = String::new();
        input.read_line(&mut line)?;
        line
    };
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        writeln!(
            err,
            "error: --password-stdin read an empty password\n  hint: e.g. `printf '%s\\n' \"$PASSWORD\" | fixpath user ...`"
        )?;
        return Ok(None);
    }
    Ok(Some(password.to_owned()))
}

/// `fixpath user passwd NAME --password-stdin`: a new password for the web
/// pages; the user's web sign-ins end (their API tokens stay).
fn passwd(
    args: PasswdArgs,
    input: &mut dyn BufRead,
    terminal: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(db) = args.db.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let Some(password) = read_password(input, terminal, &args.name, err)? else {
        return Ok(exit::USAGE);
    };
    let hash = hash_password(&password)?;
    let name = args.name.as_str();
    let Some(done) = on_store(&db, err, |store| async move {
        store.set_password(name, &hash).await
    })?
    else {
        return Ok(exit::PROBLEMS);
    };
    match done {
        Ok(true) => {
            writeln!(
                out,
                "set a new password for `{}`; their web sign-ins have ended, their API tokens still work",
                args.name
            )?;
            Ok(exit::OK)
        }
        Ok(false) => {
            writeln!(err, "error: there is no user named `{}` in {db}", args.name)?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: could not set the password: {e}")?;
            Ok(exit::PROBLEMS)
        }
    }
}

/// `fixpath user list`: one line per user, by name.
fn list(
    args: DbArgs,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(db) = args.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let now = crate::clock::Clock::system().now();
    let Some(users) = on_store(&db, err, |store| async move { store.list_users(now).await })?
    else {
        return Ok(exit::PROBLEMS);
    };
    let users = match users {
        Ok(u) => u,
        Err(e) => {
            writeln!(err, "error: could not read the users: {e}")?;
            return Ok(exit::PROBLEMS);
        }
    };
    if users.is_empty() {
        writeln!(
            out,
            "no users in {db}; add one with `fixpath user add NAME --role ROLE`"
        )?;
        return Ok(exit::OK);
    }
    let width = users
        .iter()
        .map(|u| u.user.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:width$}  {:10}  {:4}  {:11}  {:6}  STATE",
        "NAME", "ROLE", "TIER", "WEB SIGN-IN", "TOKENS"
    )?;
    for u in &users {
        let tier = match u.user.role {
            Role::Agent | Role::Specialist => u.user.tier.to_string(),
            Role::Author | Role::Admin => "-".to_owned(),
        };
        writeln!(
            out,
            "{:width$}  {:10}  {:4}  {:11}  {:<6}  {}",
            u.user.name,
            u.user.role.as_str(),
            tier,
            if u.password { "yes" } else { "no" },
            u.tokens,
            if u.disabled { "disabled" } else { "active" }
        )?;
    }
    Ok(exit::OK)
}

/// Prompts on `err` and reads a line from the terminal on stdin with its
/// echo off, so the password does not show on the screen; the echo comes
/// back afterwards, whatever happens.
fn read_unseen(
    input: &mut dyn BufRead,
    prompt: &str,
    err: &mut dyn std::io::Write,
) -> std::io::Result<String> {
    let mut line = String::new();
    {
        // Off before the prompt shows: a terminal echoes what is typed as
        // it arrives, before anyone reads it.
        let _quiet = NoEcho::on_stdin();
        write!(err, "{prompt}")?;
        err.flush()?;
        input.read_line(&mut line)?;
    }
    // The Enter that ended the line was not echoed either.
    writeln!(err)?;
    Ok(line)
}

/// The terminal on stdin with its echo off, until dropped. termios through
/// libc is the one way to it without another crate; the calls are the
/// plain-data ones, each with its reason below.
struct NoEcho {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

#[allow(unsafe_code)]
impl NoEcho {
    fn on_stdin() -> NoEcho {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let fd = std::io::stdin().as_raw_fd();
            // SAFETY: termios is plain data; tcgetattr fills it for a terminal
            // and fails (leaving nothing to restore) for anything else.
            let mut term: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
                return NoEcho { saved: None };
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            // SAFETY: `term` is the terminal's own settings with one flag off.
            if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) } != 0 {
                return NoEcho { saved: None };
            }
            NoEcho { saved: Some(saved) }
        }
        #[cfg(not(unix))]
        NoEcho {}
    }
}

#[allow(unsafe_code)]
impl Drop for NoEcho {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            use std::os::fd::AsRawFd;
            // SAFETY: the settings tcgetattr gave for this same terminal.
            unsafe {
                libc::tcsetattr(std::io::stdin().as_raw_fd(), libc::TCSANOW, saved);
            }
        }
    }
}
