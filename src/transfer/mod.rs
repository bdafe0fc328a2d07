//! The export format (contract section 13): what `fixpath export` writes,
//! `fixpath import` reads and `fixpath migrate` copies and compares, in
//! one place.
//!
//! A file is JSON Lines: a header `{"kind":"fixpath-export","format":1,
//! "rollups":…}`, then one line per row, `{"kind": KIND, field: value, …}`,
//! a kind's rows together and in a fixed order. A kind is a table, its
//! fields are the table's columns, so a line holds everything needed to
//! rebuild its row. The kinds and their fields are described once, below
//! ([`KINDS`]): export, import, migrate, the CSV columns and the content
//! hash all read that description, and the SQL behind them
//! (`store::transfer`) is the same text on both backends.
//!
//! Values are written one way whatever the backend keeps: times (INTEGER
//! milliseconds in SQLite, `timestamptz` in PostgreSQL) as RFC 3339 UTC
//! with milliseconds, `2026-03-02T09:00:10.000Z`; flags as `true`/`false`;
//! numbers as numbers; the JSON documents (session state, trail entries,
//! case records, webhook bodies) as strings holding their stored text byte
//! for byte (a webhook body must stay what was signed, and both backends
//! keep the documents as text, so nothing needs re-serialising). Rows come
//! in their primary key's order (text compared byte by byte), and the
//! tables whose ties are broken by arrival (sessions, cases, the outbox) in
//! arrival order, which a copy keeps. So two exports of the same data are
//! byte-identical, from SQLite or PostgreSQL.

mod line;
pub mod load;

pub use line::{Header, LineError, ParsedLine, parse_line, render_header, render_row};

use time::OffsetDateTime;

/// The version of the format in the header; an import refuses others.
pub const FORMAT: u32 = 1;

/// The header line's kind.
pub const HEADER_KIND: &str = "fixpath-export";

/// The longest line an import reads (a case with many notes and messages is
/// the largest row; 64 MiB is far beyond any the server writes).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    Int,
    /// A flag (PostgreSQL `boolean`, SQLite 0/1).
    Bool,
    /// A time (PostgreSQL `timestamptz`, SQLite milliseconds).
    Time,
}

#[derive(Debug)]
pub struct Field {
    /// Its name in a line (and a CSV header).
    pub name: &'static str,
    /// Its column (the name, but for `feedback.kind`: a line's `kind` is
    /// its kind).
    pub column: &'static str,
    pub ty: Ty,
    /// May be absent (NULL).
    pub null: bool,
    /// Written only with `--with-secrets` (a password hash).
    pub secret: bool,
}

/// The `--what` groups of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    Sessions,
    Cases,
    Feedback,
    Users,
    /// Everything above, and (without dates) the outbox and the rollups:
    /// all a server needs to go on.
    All,
}

/// Which rows of a kind `--since`/`--until` keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dated {
    /// The sessions themselves, by their start.
    Start,
    /// Rows of a session (this column names it) started in the range.
    Session(&'static str),
    /// Rows of a case (this column names it) whose session started in the
    /// range.
    Case(&'static str),
    /// Not tied to a session: every row (script versions, users).
    Every,
    /// Not tied to sessions and not divisible by them (the outbox, the
    /// rollups): only in an export without dates.
    Undated,
}

#[derive(Debug)]
pub struct Kind {
    /// The `kind` of its lines.
    pub name: &'static str,
    pub table: &'static str,
    pub what: What,
    pub fields: &'static [Field],
    /// The primary key (fields' names): the order of the rows, unless
    /// `arrival`.
    pub key: &'static [&'static str],
    /// Ordered by arrival (SQLite's rowid, PostgreSQL's `arrival`), which
    /// breaks ties between equal times in the server's queries.
    pub arrival: bool,
    /// The whole kind is written only with `--with-secrets` (tokens).
    pub secret: bool,
    pub dated: Dated,
}

/// Kinds are the entries of [`KINDS`]: one is another when the names are.
impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.name == other.name
    }
}

impl Kind {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

const fn text(name: &'static str) -> Field {
    Field {
        name,
        column: name,
        ty: Ty::Text,
        null: false,
        secret: false,
    }
}

const fn opt(f: Field) -> Field {
    Field { null: true, ..f }
}

const fn int(name: &'static str) -> Field {
    Field {
        ty: Ty::Int,
        ..text(name)
    }
}

const fn time(name: &'static str) -> Field {
    Field {
        ty: Ty::Time,
        ..text(name)
    }
}

const fn flag(name: &'static str) -> Field {
    Field {
        ty: Ty::Bool,
        ..text(name)
    }
}

const fn kind(
    name: &'static str,
    table: &'static str,
    what: What,
    fields: &'static [Field],
    key: &'static [&'static str],
    dated: Dated,
) -> Kind {
    Kind {
        name,
        table,
        what,
        fields,
        key,
        arrival: false,
        secret: false,
        dated,
    }
}

/// Every kind, in the order of a file: a row comes after the rows it
/// refers to (a trail entry after its session, a token after its user).
pub const KINDS: &[Kind] = &[
    kind(
        "script_version",
        "script_versions",
        What::Sessions,
        &[
            text("id"),
            text("version"),
            text("path"),
            text("source"),
            time("created_at"),
        ],
        &["id", "version"],
        Dated::Every,
    ),
    Kind {
        arrival: true,
        ..kind(
            "session",
            "sessions",
            What::Sessions,
            &[
                text("id"),
                text("token_hash"),
                opt(text("owner")),
                opt(text("reference")),
                text("script"),
                text("status"),
                int("seq"),
                text("state"),
                time("created_at"),
                time("updated_at"),
                opt(text("version")),
                opt(text("channel")),
                opt(text("outcome")),
                opt(time("ended_at")),
                int("rolled"),
                opt(time("erased_at")),
            ],
            &["id"],
            Dated::Start,
        )
    },
    kind(
        "trail_entry",
        "trail_entries",
        What::Sessions,
        &[
            text("session_id"),
            int("seq"),
            text("entry"),
            flag("retracted"),
            opt(text("retraction")),
        ],
        &["session_id", "seq"],
        Dated::Session("session_id"),
    ),
    kind(
        "session_link",
        "session_links",
        What::Sessions,
        &[text("token_hash"), text("session_id"), time("created_at")],
        &["token_hash"],
        Dated::Session("session_id"),
    ),
    Kind {
        arrival: true,
        ..kind(
            "case",
            "escalations",
            What::Cases,
            &[
                text("id"),
                text("session_id"),
                int("tier"),
                opt(text("queue")),
                text("status"),
                opt(text("claimed_by")),
                text("record"),
                time("created_at"),
                time("updated_at"),
                opt(text("reference")),
                opt(text("reference_norm")),
                opt(text("email")),
                opt(time("due_response")),
                opt(time("due_resolution")),
                opt(time("due_next")),
                opt(text("case_doc")),
                opt(time("first_response_at")),
                opt(time("resolved_at")),
                int("reopened"),
                int("breached_response"),
                int("breached_resolution"),
                opt(text("script")),
                opt(text("version")),
                opt(text("channel")),
                opt(time("started_at")),
                opt(time("erased_at")),
            ],
            &["id"],
            Dated::Session("session_id"),
        )
    },
    kind(
        "ticket_link",
        "ticket_links",
        What::Cases,
        &[
            text("escalation_id"),
            text("connector"),
            opt(text("external_id")),
            opt(text("url")),
            opt(text("creator")),
            int("pushed"),
            int("seen"),
            int("open"),
            opt(text("poll_owner")),
            opt(time("poll_until")),
            time("updated_at"),
        ],
        &["escalation_id", "connector"],
        Dated::Case("escalation_id"),
    ),
    kind(
        "feedback",
        "feedback",
        What::Feedback,
        &[
            text("session_id"),
            Field {
                column: "kind",
                ..text("feedback_kind")
            },
            int("score"),
            opt(text("comment")),
            time("created_at"),
            opt(text("script")),
            opt(text("version")),
            opt(text("channel")),
            opt(time("started_at")),
        ],
        &["session_id", "feedback_kind"],
        Dated::Session("session_id"),
    ),
    kind(
        "user",
        "users",
        What::Users,
        &[
            text("name"),
            text("role"),
            int("tier"),
            Field {
                secret: true,
                ..opt(text("password_hash"))
            },
            int("disabled"),
        ],
        &["name"],
        Dated::Every,
    ),
    Kind {
        secret: true,
        ..kind(
            "token",
            "tokens",
            What::Users,
            &[
                text("token_hash"),
                text("user_name"),
                opt(time("expires_at")),
            ],
            &["token_hash"],
            Dated::Every,
        )
    },
    Kind {
        secret: true,
        ..kind(
            "signin_failure",
            "signin_failures",
            What::Users,
            &[text("name"), int("failures"), time("since")],
            &["name"],
            Dated::Every,
        )
    },
    Kind {
        arrival: true,
        ..kind(
            "outbox",
            "outbox",
            What::All,
            &[
                text("id"),
                text("event_type"),
                text("payload"),
                int("attempts"),
                time("next_attempt_at"),
                text("delivered_to"),
                opt(text("lease_owner")),
                opt(time("lease_until")),
                opt(time("delivered_at")),
                opt(text("last_error")),
                time("created_at"),
            ],
            &["id"],
            Dated::Undated,
        )
    },
    kind(
        "stats_outcome",
        "stats_outcomes",
        What::All,
        &[
            text("script"),
            text("version"),
            text("channel"),
            text("day"),
            text("outcome"),
            int("seconds"),
            int("sessions"),
        ],
        &["day", "script", "version", "channel", "outcome", "seconds"],
        Dated::Undated,
    ),
    kind(
        "stats_node",
        "stats_nodes",
        What::All,
        &[
            text("script"),
            text("version"),
            text("channel"),
            text("day"),
            text("node"),
            int("entered"),
            int("abandoned"),
            int("escalated"),
        ],
        &["day", "script", "version", "channel", "node"],
        Dated::Undated,
    ),
    kind(
        "stats_answer",
        "stats_answers",
        What::All,
        &[
            text("script"),
            text("version"),
            text("channel"),
            text("day"),
            text("node"),
            text("answer"),
            int("n"),
        ],
        &["day", "script", "version", "channel", "node", "answer"],
        Dated::Undated,
    ),
    kind(
        "stats_dwell",
        "stats_dwell",
        What::All,
        &[
            text("script"),
            text("version"),
            text("channel"),
            text("day"),
            text("node"),
            int("seconds"),
            int("n"),
        ],
        &["day", "script", "version", "channel", "node", "seconds"],
        Dated::Undated,
    ),
];

/// The kind whose lines are called `name`.
pub fn kind_named(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Whether a kind holds the rollups: imported only with the sessions they
/// counted (see `cli::import`).
pub fn is_rollup(k: &Kind) -> bool {
    k.table.starts_with("stats_")
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Time(OffsetDateTime),
}

/// A row: one value per field of its kind, in the fields' order.
pub type Row = Vec<Value>;

/// Which rows an export holds.
#[derive(Debug, Clone, Default)]
pub struct Range {
    /// Sessions started at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Sessions started before this time.
    pub until: Option<OffsetDateTime>,
}

impl Range {
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }
}

/// The kinds `what` exports: with a date range the undated ones (outbox,
/// rollups) are left out, and the secret ones without secrets.
pub fn kinds_of(what: What, range: &Range, secrets: bool) -> Vec<&'static Kind> {
    KINDS
        .iter()
        .filter(|k| what == What::All || k.what == what)
        .filter(|k| range.is_all() || k.dated != Dated::Undated)
        .filter(|k| secrets || !k.secret)
        .collect()
}

/// The one kind a CSV export of `what` writes (its main table), `None` for
/// `all`: a CSV file has one header, so it holds one kind.
pub fn csv_kind(what: What) -> Option<&'static Kind> {
    let name = match what {
        What::Sessions => "session",
        What::Cases => "case",
        What::Feedback => "feedback",
        What::Users => "user",
        What::All => return None,
    };
    kind_named(name)
}

/// A time as every export writes it: RFC 3339, UTC, milliseconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Counts and a content hash per kind: what `fixpath migrate` compares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Digest {
    /// `(kind, rows, SHA-256 of its lines)`, in [`KINDS`]' order.
    pub kinds: Vec<(&'static str, u64, String)>,
}

/// Builds a [`Digest`] row by row.
#[derive(Default)]
pub struct Digester {
    current: Option<(&'static str, u64, sha2::Sha256)>,
    done: Digest,
}

impl Digester {
    /// Starts a kind (every kind is started, empty ones too, so a table
    /// missing on one side shows).
    pub fn start(&mut self, kind: &'static Kind) {
        use sha2::Digest as _;
        self.finish_kind();
        self.current = Some((kind.name, 0, sha2::Sha256::new()));
    }

    /// Adds a row of the kind started last: its line with secrets, so
    /// every value counts.
    pub fn add(&mut self, kind: &'static Kind, row: &Row) {
        use sha2::Digest as _;
        if let Some((_, n, h)) = self.current.as_mut() {
            *n += 1;
            h.update(render_row(kind, row, true).as_bytes());
            h.update(b"\n");
        }
    }

    fn finish_kind(&mut self) {
        use sha2::Digest as _;
        if let Some((name, n, h)) = self.current.take() {
            let hex = h
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            self.done.kinds.push((name, n, hex));
        }
    }

    pub fn finish(mut self) -> Digest {
        self.finish_kind();
        self.done
    }
}

/// One kind as two databases hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    pub kind: &'static str,
    pub from: (u64, String),
    pub to: (u64, String),
}

impl Compared {
    pub fn same(&self) -> bool {
        self.from == self.to
    }
}

/// Both digests side by side, kind by kind (a kind on one side only
/// compares with nothing: 0 rows, no hash).
pub fn compare(from: &Digest, to: &Digest) -> Vec<Compared> {
    let find = |d: &Digest, k: &str| {
        d.kinds
            .iter()
            .find(|(n, _, _)| *n == k)
            .map(|(_, n, h)| (*n, h.clone()))
            .unwrap_or((0, String::new()))
    };
    let mut names: Vec<&'static str> = from.kinds.iter().map(|(n, _, _)| *n).collect();
    for (n, _, _) in &to.kinds {
        if !names.contains(n) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .map(|kind| Compared {
            kind,
            from: find(from, kind),
            to: find(to, kind),
        })
        .collect()
}

#[cfg(test)]
mod tests;
