//! Back from Request Tracker: the open linked tickets' histories, read every
//! `poll`, turned into acts on their cases. Each ticket is leased to one
//! reader at a time (several instances may run), and every act carries the
//! transaction it came from, so a transaction is taken once even when the
//! reader stops between the act and its bookkeeping.

use super::mirror::{self, Transaction};
use super::rt::RtClient;
use super::{ConnectError, RtConfig};
use crate::case::Refusal;
use crate::clock::Clock;
use crate::http::AppState;
use crate::http::cases::{NotDone, try_act_via};
use crate::store::TicketLink;
use std::time::Duration;
use tokio::sync::watch;

/// Tickets read per round; a full round starts the next one at once.
const BATCH: u32 = 50;
/// The longest text taken over from a message: fixpath's own cap on notes
/// and replies.
const MAX_TEXT: usize = crate::http::caps::MAX_NOTE;

/// Reads one linked ticket's new transactions and acts on them.
pub async fn poll_ticket(
    state: &AppState,
    rt: &RtClient,
    mut link: TicketLink,
) -> Result<(), ConnectError> {
    let Some(ticket) = link.external_id.clone() else {
        return Ok(());
    };
    let txns = rt.history(&ticket, link.seen).await?;
    for t in txns {
        let mine = link.creator.as_deref() == Some(t.creator.as_str())
            || matches!(&rt.config().auth, super::RtAuth::Basic { user, .. } if *user == t.creator);
        if !mine {
            take(state, rt, &link, &t).await?;
        }
        link.seen = t.id;
        state
            .store
            .save_ticket_link(&link, Clock::system().now())
            .await?;
    }
    Ok(())
}

/// Acts on the case for one transaction made by someone else.
async fn take(
    state: &AppState,
    rt: &RtClient,
    link: &TicketLink,
    t: &Transaction,
) -> Result<(), ConnectError> {
    let via = format!("{}#{}", rt.config().name, t.id);
    let Some(e) = state.store.escalation(&link.escalation).await? else {
        return Ok(());
    };
    if e.case
        .events
        .iter()
        .any(|ev| ev.via.as_deref() == Some(via.as_str()))
    {
        return Ok(());
    }
    let text = if t.has_text() {
        let mut s = rt.text(t.id).await?;
        if s.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        Some(s)
    } else {
        None
    };
    let resolved = crate::http::web::i18n::text(&e.record.language, "case_resolved_elsewhere");
    let Some((actor, act)) = mirror::act_of(t, text.as_deref(), &e.case, &resolved) else {
        return Ok(());
    };
    match try_act_via(state, actor, &link.escalation, act, None, Some(via)).await {
        Ok(_) => {
            metrics::counter!("fixpath_connector_imported_total").increment(1);
            Ok(())
        }
        // What the case cannot take any more (resolved here already, closed
        // for the customer) is passed over: the ticket went on without it.
        Err(NotDone::Refused(_, why)) => {
            if !matches!(why, Refusal::Resolved | Refusal::Closed) {
                tracing::info!(escalation = %link.escalation, transaction = t.id, ?why, "a ticket's transaction was not taken");
            }
            Ok(())
        }
        Err(NotDone::Failed(e)) => Err(ConnectError::new(format!(
            "acting on the case: {}",
            e.public_message()
        ))),
    }
}

/// Reads back one RT connector's tickets every `poll` until `shutdown`.
pub async fn run(state: AppState, cfg: RtConfig, mut shutdown: watch::Receiver<bool>) {
    let rt = match RtClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the Request Tracker reader could not start");
            return;
        }
    };
    let poll = rt.config().poll;
    let mut id = [0u8; 8];
    let _ = getrandom::fill(&mut id);
    let owner = format!(
        "poll-{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Clock::system().now();
        let until = now + poll;
        let mut full = false;
        match state
            .store
            .lease_ticket_links(&rt.config().name, &owner, now, until, BATCH)
            .await
        {
            Ok(links) => {
                full = links.len() >= BATCH as usize;
                for link in links {
                    let esc = link.escalation.clone();
                    if let Err(e) = poll_ticket(&state, &rt, link).await {
                        tracing::warn!(escalation = %esc, connector = %rt.config().name, error = %e, "could not read a ticket back; will try at the next poll");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the linked tickets; will try again")
            }
        }
        let wait = if full {
            Duration::ZERO
        } else {
            poll.min(Duration::from_secs(5))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
