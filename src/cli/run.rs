//! `fixpath run SCRIPT-OR-ID`: steps through a script in the terminal, with
//! numbered answers, `b` for back and `e` to escalate with a note. With a
//! non-terminal stdin it reads one answer per line, so it can be scripted.

use super::exit;
use crate::engine::{self, Channel, Ending, Reply, StartOptions};
use crate::escalation::Record;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A script file, or the id of a script in --scripts
    pub script: String,
    /// Language of the session (default: the script's first)
    #[arg(long)]
    pub language: Option<String>,
    /// Who is stepping through it: an agent sees `help`, a customer does not
    #[arg(long, value_enum, default_value = "agent")]
    pub channel: ChannelArg,
    /// A parameter of the session, e.g. `--param customer=Ann` (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub params: Vec<(String, String)>,
    /// Where to find scripts by id, and the sub-flows a script uses
    #[arg(long, env = "FIXPATH_SCRIPTS", default_value = "scripts")]
    pub scripts: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelArg {
    Agent,
    Customer,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

pub(super) fn run(
    args: Args,
    input: &mut dyn BufRead,
    echo: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let (comp, id) = super::graph::load(&args.script, &args.scripts)?;
    let program = &comp.program;
    let channel = match args.channel {
        ChannelArg::Agent => Channel::Agent,
        ChannelArg::Customer => Channel::Customer,
    };
    let actor = match channel {
        Channel::Customer => "customer".to_owned(),
        _ => std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "agent".into()),
    };
    let params: BTreeMap<String, serde_json::Value> = args
        .params
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let mut opts = StartOptions::new(id.clone(), channel);
    opts.language = args.language;
    opts.params = params;
    let (mut s, _) = engine::start(program, opts, now())?;
    let words = Words::of(&s.language);
    if let Some((_, sc)) = program.get(&id) {
        let lang = sc.language_index(&s.language).unwrap_or(0);
        writeln!(
            out,
            "== {} ({}, {} {}) ==",
            program.templates.source(sc.title, lang),
            sc.id,
            words.version,
            sc.version
        )?;
    }
    let mut line = String::new();
    while let Some(step) = engine::view(program, &s)? {
        writeln!(out)?;
        if let Some(say) = &step.say {
            writeln!(out, "{say}")?;
        }
        writeln!(out, "[{}] {}", step.node, step.text)?;
        if let Some(h) = &step.help {
            writeln!(out, "  {}: {h}", words.help)?;
        }
        let numbered: Vec<_> = step
            .answers
            .iter()
            .filter(|a| a.id != engine::ANSWER_ESCALATE)
            .collect();
        if step.kind == "say" {
            writeln!(out, "  ({})", words.press_enter)?;
        } else if let Some(i) = &step.input {
            let pat = i
                .pattern
                .as_ref()
                .map(|p| format!(", {} {p}", words.matching))
                .unwrap_or_default();
            let optional = if i.required {
                String::new()
            } else {
                format!(", {}", words.optional)
            };
            writeln!(
                out,
                "  ({}: {}{pat}{optional})",
                words.type_value,
                words.kind(&i.kind)
            )?;
        } else {
            for (n, a) in numbered.iter().enumerate() {
                writeln!(out, "  {}) {}", n + 1, a.label)?;
            }
        }
        let esc = step
            .answers
            .iter()
            .find(|a| a.id == engine::ANSWER_ESCALATE)
            .map(|a| a.label.as_str())
            .unwrap_or(words.escalate);
        if step.can_go_back {
            writeln!(out, "  e) {esc}   b) {}", words.back)?;
        } else {
            writeln!(out, "  e) {esc}")?;
        }
        write!(out, "> ")?;
        out.flush()?;
        line.clear();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            writeln!(
                err,
                "error: the input ended before the session did (at `{}`)",
                step.node
            )?;
            return Ok(exit::PROBLEMS);
        }
        let given = line.trim_end_matches(['\r', '\n']).trim();
        if echo {
            // Piped input: show what was answered, so the transcript reads as a dialogue.
            writeln!(out, "{given}")?;
        }
        let now = now();
        let result = match given {
            "b" => engine::back(program, &mut s, &actor, now).map(|_| ()),
            "e" => {
                write!(out, "{}: ", words.note)?;
                out.flush()?;
                let mut note = String::new();
                input.read_line(&mut note)?;
                let note = note.trim().to_owned();
                if echo {
                    writeln!(out, "{note}")?;
                }
                engine::escalate_now(
                    program,
                    &mut s,
                    Some(note).filter(|n| !n.is_empty()),
                    &actor,
                    now,
                )
                .map(|_| ())
            }
            _ => {
                let reply = if step.kind == "say" {
                    Reply::Answer(engine::ANSWER_DONE.into())
                } else if step.input.is_some() {
                    Reply::Value(given.to_owned())
                } else {
                    match given.parse::<usize>() {
                        Ok(n) if n >= 1 && n <= numbered.len() => {
                            Reply::Answer(numbered[n - 1].id.to_string())
                        }
                        _ => Reply::Answer(given.to_owned()),
                    }
                };
                engine::answer(program, &mut s, reply, &actor, now).map(|_| ())
            }
        };
        if let Err(e) = result {
            writeln!(out, "  ! {e}")?;
        }
    }
    writeln!(out)?;
    match s.ending.as_deref() {
        Some(Ending::Resolved { text, .. }) => writeln!(out, "{}: {text}", words.resolved)?,
        Some(Ending::Escalated { .. }) => {
            let now = now();
            if let Some(r) = Record::from_session(program, &s, "local", "local", now) {
                writeln!(out, "{}", r.to_text()?)?;
            }
        }
        None => {}
    }
    Ok(exit::OK)
}

/// The clock, to the second: trails read better without nanoseconds.
fn now() -> OffsetDateTime {
    let t = crate::clock::Clock::system().now();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The terminal's own words around a script's texts, in the five languages
/// of the product (en, nl, de, et, ru). The keys to type
/// (`e`, `b`, numbers) stay the same in every language.
struct Words {
    version: &'static str,
    help: &'static str,
    press_enter: &'static str,
    type_value: &'static str,
    /// text, number, email, phone
    kinds: [&'static str; 4],
    matching: &'static str,
    optional: &'static str,
    escalate: &'static str,
    back: &'static str,
    note: &'static str,
    resolved: &'static str,
}

impl Words {
    /// The words of `lang`; English for a language the terminal does not speak.
    fn of(lang: &str) -> &'static Words {
        let i = ["en", "nl", "de", "et", "ru"]
            .iter()
            .position(|l| *l == lang)
            .unwrap_or(0);
        &WORDS[i]
    }

    /// The name of an input kind; an unknown one as it is.
    fn kind<'a>(&self, kind: &'a str) -> &'a str {
        match kind {
            "text" => self.kinds[0],
            "number" => self.kinds[1],
            "email" => self.kinds[2],
            "phone" => self.kinds[3],
            other => other,
        }
    }
}

const WORDS: [Words; 5] = [
    Words {
        version: "version",
        help: "help",
        press_enter: "press Enter when done",
        type_value: "type the value",
        kinds: ["text", "number", "email address", "phone number"],
        matching: "matching",
        optional: "optional",
        escalate: "Escalate",
        back: "back",
        note: "note for the next tier (optional)",
        resolved: "RESOLVED",
    },
    Words {
        version: "versie",
        help: "hulp",
        press_enter: "druk op Enter als u klaar bent",
        type_value: "typ de waarde",
        kinds: ["tekst", "getal", "e-mailadres", "telefoonnummer"],
        matching: "volgens het patroon",
        optional: "niet verplicht",
        escalate: "Escaleren",
        back: "terug",
        note: "notitie voor de volgende lijn (niet verplicht)",
        resolved: "OPGELOST",
    },
    Words {
        version: "Version",
        help: "Hilfe",
        press_enter: "Eingabetaste drücken, wenn erledigt",
        type_value: "Wert eingeben",
        kinds: ["Text", "Zahl", "E-Mail-Adresse", "Telefonnummer"],
        matching: "passend zum Muster",
        optional: "freiwillig",
        escalate: "Eskalieren",
        back: "zurück",
        note: "Notiz für die nächste Stufe (freiwillig)",
        resolved: "GELÖST",
    },
    Words {
        version: "versioon",
        help: "abi",
        press_enter: "vajuta Enter, kui oled valmis",
        type_value: "sisesta väärtus",
        kinds: ["tekst", "arv", "e-posti aadress", "telefoninumber"],
        matching: "mustri järgi",
        optional: "pole kohustuslik",
        escalate: "Eskaleeri",
        back: "tagasi",
        note: "märkus järgmisele tasandile (pole kohustuslik)",
        resolved: "LAHENDATUD",
    },
    Words {
        version: "версия",
        help: "подсказка",
        press_enter: "нажмите Enter, когда закончите",
        type_value: "введите значение",
        kinds: ["текст", "число", "адрес эл. почты", "номер телефона"],
        matching: "по шаблону",
        optional: "необязательно",
        escalate: "Эскалировать",
        back: "назад",
        note: "заметка для следующей линии (необязательно)",
        resolved: "РЕШЕНО",
    },
];
