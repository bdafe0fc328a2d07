//! What both backends share of cases: how a case becomes columns and comes
//! back (cases stored before section 10 included), the queue's listing with
//! its cursor, the rules applied to a change and what it writes, and those
//! writes themselves, once, generic over the backend (SQLite takes
//! PostgreSQL's `$N` parameters). The backends only read the row to change
//! their own way (`BEGIN IMMEDIATE`, `FOR UPDATE`).

use super::codec::{DbTime, NewMessage, clamp_limit, db, decode, duplicate_or_db, encode};
use super::{
    Changed, Compact, Cursor, Escalation, EscalationChange, EscalationFilter, EscalationStatus,
    MailLink, NewCase, Page, Result, Sort, StoreError,
};
use crate::case::mail::{MailJob, MailKind};
use crate::case::{self, Breach, Case, Rules, reference};
use crate::escalation::Record;
use sqlx::{Database, Encode, Executor, IntoArguments, Type};
use time::OffsetDateTime;

// ---------------------------------------------------------------- reading

pub(super) const ESCALATION_COLUMNS: &str =
    "id, status, claimed_by, record, updated_at, reference, case_doc";

/// `id, status, claimed_by, record, updated_at, reference, case_doc`.
pub(super) type EscalationRow<T> = (
    String,
    String,
    Option<String>,
    String,
    T,
    Option<String>,
    Option<String>,
);

/// A case as stored. A row written before cases had a document of their
/// own (`case_doc` NULL) reads back as [`Case::from_legacy`] makes it, with
/// the reference the migration gave it.
pub(super) fn escalation_from_row<T: DbTime>(row: EscalationRow<T>) -> Result<Escalation> {
    let (id, status, claimed_by, record, updated_at, reference, case_doc) = row;
    let status = EscalationStatus::parse(&status).ok_or_else(|| {
        StoreError::corrupt(format!("escalation {id}: unknown status `{status}`"))
    })?;
    let record: Record = decode(&format!("record of escalation {id}"), &record)?;
    if record.id != id {
        return Err(StoreError::corrupt(format!(
            "escalation {id} holds the record of `{}`",
            record.id
        )));
    }
    let updated_at = updated_at.to_time(&|| format!("updated_at of escalation {id}"))?;
    let case = match case_doc {
        Some(doc) => decode(&format!("case of escalation {id}"), &doc)?,
        None => {
            let mut c = Case::from_legacy(
                &record,
                reference.unwrap_or_default(),
                status,
                claimed_by,
                updated_at,
            );
            c.ticket_text = ticket_text(&record);
            c
        }
    };
    Ok(Escalation {
        record,
        case,
        updated_at,
    })
}

/// The readable ticket of a record.
pub(super) fn ticket_text(record: &Record) -> String {
    record.to_text().unwrap_or_else(|e| {
        tracing::error!(error = %e, escalation = %record.id, "the ticket text did not render");
        String::new()
    })
}

/// A page of the queue: the filters, the tier rule and the cursor, each
/// value bound (`push_bind`) so each backend gets its own placeholders.
/// One more row than the page is read: it says whether there is a next.
pub(super) fn escalations_query<'a, DB, T>(
    f: &'a EscalationFilter,
    limit: i64,
) -> sqlx::QueryBuilder<'a, DB>
where
    DB: Database,
    T: DbTime + Encode<'a, DB> + Type<DB> + 'a,
    &'a str: Encode<'a, DB> + Type<DB>,
    i16: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE 1 = 1"
    ));
    if let Some(s) = f.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    if f.unresolved {
        q.push(" AND status <> ")
            .push_bind(EscalationStatus::Resolved.as_str());
    }
    if let Some(t) = f.tier {
        q.push(" AND tier = ").push_bind(i16::from(t));
    }
    if let Some(t) = f.max_tier {
        q.push(" AND tier <= ").push_bind(i16::from(t));
    }
    if let Some(queue) = &f.queue {
        q.push(" AND queue = ").push_bind(queue.as_str());
    }
    if let Some(c) = &f.after {
        // (created_at, id) after the cursor's, in the listing's order.
        let after_created = |q: &mut sqlx::QueryBuilder<'a, DB>| {
            q.push("(created_at > ")
                .push_bind(T::to_db(c.created))
                .push(" OR (created_at = ")
                .push_bind(T::to_db(c.created))
                .push(" AND id > ")
                .push_bind(c.id.as_str())
                .push("))");
        };
        match (f.sort, c.due) {
            (Sort::Created, _) => {
                q.push(" AND ");
                after_created(&mut q);
            }
            (Sort::Due, Some(due)) => {
                q.push(" AND (due_next IS NULL OR due_next > ")
                    .push_bind(T::to_db(due))
                    .push(" OR (due_next = ")
                    .push_bind(T::to_db(due))
                    .push(" AND ");
                after_created(&mut q);
                q.push("))");
            }
            (Sort::Due, None) => {
                q.push(" AND due_next IS NULL AND ");
                after_created(&mut q);
            }
        }
    }
    q.push(match f.sort {
        // A queue is worked oldest first.
        Sort::Created => " ORDER BY created_at, id LIMIT ",
        // Overdue and earliest first; without a due time last. Exactly the
        // expressions of the `escalations_due_order` index, so the first
        // page is read from it, not sorted from every open case.
        Sort::Due => " ORDER BY (due_next IS NULL), due_next, created_at, id LIMIT ",
    })
    .push_bind(limit + 1);
    q
}

/// The page size asked for, within bounds.
pub(super) fn page_limit(f: &EscalationFilter) -> i64 {
    clamp_limit(f.limit)
}

/// The rows of a listing as a page: at most `limit`, and the cursor after
/// the last when there were more.
pub(super) fn page_of<T: DbTime>(
    rows: Vec<EscalationRow<T>>,
    f: &EscalationFilter,
    limit: i64,
) -> Result<Page> {
    let mut items = rows
        .into_iter()
        .map(escalation_from_row)
        .collect::<Result<Vec<_>>>()?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match items.last() {
        Some(last) if more => Some(Cursor::after(
            f.sort,
            last.case.next_due(),
            last.record.created_at,
            &last.record.id,
        )),
        _ => None,
    };
    Ok(Page { items, next })
}

// ---------------------------------------------------------------- encoding

/// A case's columns as written: the query copies of the case (status,
/// holder, reference, address, due times) beside the two documents.
pub(super) struct CaseColumns<T> {
    pub(super) tier: i16,
    pub(super) queue: Option<String>,
    pub(super) status: &'static str,
    pub(super) claimed_by: Option<String>,
    pub(super) record: String,
    pub(super) case_doc: String,
    pub(super) reference: String,
    pub(super) reference_norm: String,
    pub(super) email: Option<String>,
    pub(super) due_response: Option<T>,
    pub(super) due_resolution: Option<T>,
    pub(super) due_next: Option<T>,
    pub(super) updated_at: T,
    /// The figures' copies of the document's times and flags (section 11).
    pub(super) first_response_at: Option<T>,
    /// Only while resolved: a reopened case is not resolved.
    pub(super) resolved_at: Option<T>,
    pub(super) reopened: i16,
    pub(super) breached_response: i16,
    pub(super) breached_resolution: i16,
}

impl<T: DbTime> CaseColumns<T> {
    fn of(e: &Escalation) -> Result<CaseColumns<T>> {
        // The breach timer's columns: what it still waits for. `due_next`
        // keeps a breached due time (the queue sorts overdue cases first).
        let response = e.case.unbreached_due(Breach::Response);
        let resolution = e.case.unbreached_due(Breach::Resolution);
        Ok(CaseColumns {
            tier: i16::from(e.record.tier),
            queue: e.record.queue.clone(),
            status: e.case.status.as_str(),
            claimed_by: e.case.claimed_by.clone(),
            record: encode("escalation record", &e.record)?,
            case_doc: encode("case", &e.case)?,
            reference: e.case.reference.clone(),
            reference_norm: reference::normalise(&e.case.reference),
            email: e.case.email.clone(),
            due_response: response.map(T::to_db),
            due_resolution: resolution.map(T::to_db),
            due_next: e.case.next_due().map(T::to_db),
            updated_at: T::to_db(e.updated_at),
            first_response_at: e.case.first_response_at.map(T::to_db),
            resolved_at: (e.case.status == crate::case::Status::Resolved)
                .then_some(e.case.resolved_at)
                .flatten()
                .map(T::to_db),
            reopened: i16::from(
                e.case
                    .events
                    .iter()
                    .any(|ev| ev.kind == crate::case::EventType::Reopened),
            ),
            breached_response: i16::from(e.case.breached.iter().any(|b| b == "response")),
            breached_resolution: i16::from(e.case.breached.iter().any(|b| b == "resolution")),
        })
    }
}

/// A link token written with a mail.
pub(super) struct NewLink<T> {
    pub(super) token_hash: String,
    pub(super) session_id: String,
    pub(super) at: T,
}

/// A new case, its `escalation.created` message, and its mail (with the
/// mail's link token), encoded.
pub(super) struct NewEscalation<T> {
    pub(super) id: String,
    pub(super) session: String,
    pub(super) created_at: T,
    pub(super) columns: CaseColumns<T>,
    pub(super) messages: Vec<NewMessage<T>>,
    pub(super) link: Option<NewLink<T>>,
}

impl<T: DbTime> NewEscalation<T> {
    /// `now` is the step's time (the case's `updated_at`).
    pub(super) fn new(c: &NewCase, now: OffsetDateTime) -> Result<NewEscalation<T>> {
        let mut e = c.escalation.clone();
        e.updated_at = now;
        e.case.ticket_text = ticket_text(&e.record);
        let mut messages = vec![NewMessage::new("escalation.created", &e, now)?];
        if c.mirror {
            messages.push(sync_message("escalation.created", &e.record.id, now)?);
        }
        let mut link = None;
        if let Some(m) = &c.mail
            && let Some((message, l)) = mail(&e, MailKind::Received, None, m, now)?
        {
            messages.push(message);
            link = Some(l);
        }
        Ok(NewEscalation {
            id: e.record.id.clone(),
            session: e.record.session.clone(),
            created_at: T::to_db(e.record.created_at),
            columns: CaseColumns::of(&e)?,
            messages,
            link,
        })
    }
}

/// The connectors' message of a change: the event and the case's id. The
/// connectors read the case as it stands when they deliver (a retry an
/// hour later sends what the case is then, and events in between are not
/// sent out of order).
fn sync_message<T: DbTime>(event: &str, id: &str, now: OffsetDateTime) -> Result<NewMessage<T>> {
    let payload = encode(
        "connector event",
        &serde_json::json!({ "event": event, "escalation": id }),
    )?;
    NewMessage::raw(format!("{}{event}", super::SYNC_PREFIX), payload, now)
}

/// The `mail.*` message of a change and its link token, when the case has
/// an address.
fn mail<T: DbTime>(
    e: &Escalation,
    kind: MailKind,
    text: Option<String>,
    link: &MailLink,
    now: OffsetDateTime,
) -> Result<Option<(NewMessage<T>, NewLink<T>)>> {
    let Some(to) = &e.case.email else {
        return Ok(None);
    };
    let job = MailJob {
        kind,
        to: to.clone(),
        language: e.record.language.clone(),
        reference: e.case.reference.clone(),
        script_title: e.record.script.title.clone(),
        link: format!(
            "{}/s/{}?t={}",
            link.base_url.trim_end_matches('/'),
            e.record.session,
            link.token
        ),
        text,
    };
    let message = NewMessage::raw(kind.event_type(), encode("mail", &job)?, now)?;
    Ok(Some((
        message,
        NewLink {
            token_hash: link.token_hash.clone(),
            session_id: e.record.session.clone(),
            at: T::to_db(now),
        },
    )))
}

/// A change to write: the case's new columns, conditional on the status
/// read, and its messages.
pub(super) struct CaseUpdate<T> {
    pub(super) id: String,
    pub(super) expected_status: &'static str,
    pub(super) columns: CaseColumns<T>,
    pub(super) messages: Vec<NewMessage<T>>,
    pub(super) link: Option<NewLink<T>>,
}

/// A change planned: the escalation before and after it, and what to write;
/// or, when there is nothing to write, the answer at once.
pub(super) type Planned<T> = std::result::Result<(Escalation, Escalation, CaseUpdate<T>), Changed>;

/// What `change` comes to on the escalation read as `row`, by the rules of
/// [`case::apply`]; the backend writes it conditionally on the status read.
pub(super) fn plan_change<T: DbTime>(
    row: Option<EscalationRow<T>>,
    change: &EscalationChange,
    now: OffsetDateTime,
) -> Result<Planned<T>> {
    let Some(row) = row else {
        return Ok(Err(Changed::NotFound));
    };
    let current = escalation_from_row(row)?;
    let mut next = current.clone();
    let rules = Rules {
        now,
        reopen_within: change.reopen_within,
        due_times: &*change.due_times,
    };
    let applied = match case::apply(
        &mut next.record,
        &mut next.case,
        &change.actor,
        &change.act,
        &rules,
    ) {
        Ok(Some(applied)) => applied,
        Ok(None) => return Ok(Err(Changed::Unchanged(current))),
        Err(refusal) => return Ok(Err(Changed::Refused(current, refusal))),
    };
    next.updated_at = now;
    if let Some(via) = &change.via {
        for ev in &mut next.case.events[current.case.events.len()..] {
            ev.via = Some(via.clone());
        }
    }
    // The ticket is the record as read: most acts (a claim, a reply, a
    // message) leave the record as it was, and its text with it.
    if next.record != current.record {
        next.case.ticket_text = ticket_text(&next.record);
    }
    let event = applied.webhook;
    let announce = match event {
        "escalation.note_added" => NewMessage::new(event, &Compact::new(&next, true), now)?,
        "escalation.replied" | "escalation.customer_message" => {
            NewMessage::new(event, &Compact::new(&next, false), now)?
        }
        _ => NewMessage::new(event, &next, now)?,
    };
    let mut messages = vec![announce];
    if change.mirror {
        messages.push(sync_message(event, &next.record.id, now)?);
    }
    let mut link = None;
    if let (Some(kind), Some(m)) = (applied.mail, &change.mail)
        && let Some((message, l)) = mail(&next, kind, applied.mail_text, m, now)?
    {
        messages.push(message);
        link = Some(l);
    }
    let update = CaseUpdate {
        id: current.record.id.clone(),
        expected_status: current.case.status.as_str(),
        columns: CaseColumns::of(&next)?,
        messages,
        link,
    };
    Ok(Ok((current, next, update)))
}

// ---------------------------------------------------------------- writing

/// The case's status was not the one read when the change was written:
/// the lock each backend takes makes this impossible; said, not assumed.
pub(super) fn changed_underneath(current: &Escalation) -> StoreError {
    StoreError::database(format!(
        "escalation {} changed while a change to it was written; nothing was saved",
        current.record.id
    ))
}

/// Inserts a new case, its messages and its link token on `conn` (inside
/// the caller's transaction).
pub(super) async fn insert_case<DB, T>(
    conn: &mut DB::Connection,
    e: &NewEscalation<T>,
) -> Result<()>
where
    DB: Database,
    for<'r> (String,): sqlx::FromRow<'r, DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i16: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
    for<'q> Option<T>: Encode<'q, DB> + Type<DB>,
{
    let c = &e.columns;
    // The session's script, version, channel and start go with the case,
    // so the figures count cases without reading the sessions.
    let inserted = sqlx::query_as::<DB, (String,)>(
        "INSERT INTO escalations (id, session_id, tier, queue, status, claimed_by, record, \
             created_at, updated_at, reference, reference_norm, email, due_response, \
             due_resolution, due_next, case_doc, first_response_at, resolved_at, reopened, \
             breached_response, breached_resolution, script, version, channel, started_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, s.script, s.version, s.channel, s.created_at \
         FROM sessions s WHERE s.id = $2 RETURNING id",
    )
    .bind(e.id.as_str())
    .bind(e.session.as_str())
    .bind(c.tier)
    .bind(c.queue.as_deref())
    .bind(c.status)
    .bind(c.claimed_by.as_deref())
    .bind(c.record.as_str())
    .bind(e.created_at)
    .bind(c.updated_at)
    .bind(c.reference.as_str())
    .bind(c.reference_norm.as_str())
    .bind(c.email.as_deref())
    .bind(c.due_response)
    .bind(c.due_resolution)
    .bind(c.due_next)
    .bind(c.case_doc.as_str())
    .bind(c.first_response_at)
    .bind(c.resolved_at)
    .bind(c.reopened)
    .bind(c.breached_response)
    .bind(c.breached_resolution)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|err| duplicate_or_db(err, || format!("escalation `{}`", e.id)))?;
    if inserted.is_none() {
        return Err(StoreError::NotFound(format!(
            "session `{}` of escalation `{}`",
            e.session, e.id
        )));
    }
    insert_messages::<DB, T>(conn, &e.messages, e.link.as_ref()).await
}

/// Writes a planned change on `conn` (inside the caller's transaction):
/// `false` when the case's status was no longer the one read (nothing
/// written).
pub(super) async fn update_case<DB, T>(conn: &mut DB::Connection, u: &CaseUpdate<T>) -> Result<bool>
where
    DB: Database,
    for<'r> (String,): sqlx::FromRow<'r, DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i16: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
    for<'q> Option<T>: Encode<'q, DB> + Type<DB>,
{
    let c = &u.columns;
    let updated = sqlx::query_as::<DB, (String,)>(
        "UPDATE escalations SET tier = $1, queue = $2, status = $3, claimed_by = $4, record = $5, \
             updated_at = $6, reference = $7, reference_norm = $8, email = $9, due_response = $10, \
             due_resolution = $11, due_next = $12, case_doc = $13, first_response_at = $16, \
             resolved_at = $17, reopened = $18, breached_response = $19, breached_resolution = $20 \
         WHERE id = $14 AND status = $15 RETURNING id",
    )
    .bind(c.tier)
    .bind(c.queue.as_deref())
    .bind(c.status)
    .bind(c.claimed_by.as_deref())
    .bind(c.record.as_str())
    .bind(c.updated_at)
    .bind(c.reference.as_str())
    .bind(c.reference_norm.as_str())
    .bind(c.email.as_deref())
    .bind(c.due_response)
    .bind(c.due_resolution)
    .bind(c.due_next)
    .bind(c.case_doc.as_str())
    .bind(u.id.as_str())
    .bind(u.expected_status)
    .bind(c.first_response_at)
    .bind(c.resolved_at)
    .bind(c.reopened)
    .bind(c.breached_response)
    .bind(c.breached_resolution)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if updated.is_none() {
        return Ok(false);
    }
    insert_messages::<DB, T>(conn, &u.messages, u.link.as_ref()).await?;
    Ok(true)
}

async fn insert_messages<DB, T>(
    conn: &mut DB::Connection,
    messages: &[NewMessage<T>],
    link: Option<&NewLink<T>>,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
{
    for m in messages {
        sqlx::query::<DB>(
            "INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(m.id.as_str())
        .bind(m.event_type.as_ref())
        .bind(m.payload.as_str())
        .bind(m.at)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if let Some(l) = link {
        sqlx::query::<DB>(
            "INSERT INTO session_links (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(l.token_hash.as_str())
        .bind(l.session_id.as_str())
        .bind(l.at)
        .execute(&mut *conn)
        .await
        .map_err(|e| duplicate_or_db(e, || "link token".into()))?;
    }
    Ok(())
}
