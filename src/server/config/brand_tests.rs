//! `[brand]` and `frame_ancestors` from a real file beside real logos: what
//! is taken, and a message naming the key for everything that is not.

use super::super::{ConfigFile, ServerConfig, Settings};
use crate::http::web::brand::{LogoKind, MAX_LOGO};
use std::path::{Path, PathBuf};

/// A folder with a config file's neighbours: a PNG, an SVG, a logo one
/// byte too large, a GIF and a folder.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "fixpath-brand-{name}-{}-{:08x}",
            std::process::id(),
            u32::from_le_bytes(bytes)
        ));
        std::fs::create_dir_all(dir.join("folder.png")).unwrap();
        std::fs::write(dir.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
        std::fs::write(
            dir.join("logo.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"/>",
        )
        .unwrap();
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_LOGO + 1, 0);
        std::fs::write(dir.join("big.png"), big).unwrap();
        std::fs::write(dir.join("anim.png"), b"GIF89a\x01\0\x01\0").unwrap();
        Dir(dir)
    }

    fn load(&self, text: &str) -> Result<ServerConfig, super::Problem> {
        let path = self.0.join("fixpath.toml");
        let f = ConfigFile::parse(&path, text)?;
        ServerConfig::resolve(Settings::default(), Some(&f))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_brand_is_read_with_its_logo_beside_the_file() {
    let dir = Dir::new("ok");
    let c = dir
        .load(
            "frame_ancestors = [\"https://Support.Example.com/\", \"http://localhost:8081\", \
             \"https://support.example.com\"]\n\
             [brand]\nname = \"  Acme Support \"\nlogo = \"logo.svg\"\ncolour = \"#A30\"\n\
             support_url = \"https://acme.example/contact\"\n",
        )
        .unwrap();
    let b = &c.brand;
    assert_eq!(b.name.as_deref(), Some("Acme Support"));
    assert_eq!(b.colour.map(|c| c.hex()).as_deref(), Some("#aa3300"));
    assert_eq!(
        b.support_url.as_deref(),
        Some("https://acme.example/contact")
    );
    assert_eq!(b.logo.as_ref().map(|l| l.kind), Some(LogoKind::Svg));
    assert_eq!(
        b.frame_ancestors,
        ["https://support.example.com", "http://localhost:8081"]
    );

    // The list may stand in the table too; nothing at all is fixpath's own.
    let c = dir
        .load("[brand]\nframe_ancestors = [\"https://a.example\"]\nlogo = \"logo.png\"\n")
        .unwrap();
    assert_eq!(c.brand.frame_ancestors, ["https://a.example"]);
    assert_eq!(c.brand.logo.map(|l| l.kind), Some(LogoKind::Png));
    let c = dir.load("").unwrap();
    assert!(c.brand.name.is_none() && !c.brand.framable());
}

#[test]
fn every_brand_error_names_its_key_and_the_fix() {
    let dir = Dir::new("errors");
    let cases = [
        "[brand]\ncolour = \"red\"",
        "[brand]\ncolour = \"#1d70b8; } body { display: none\"",
        "[brand]\ncolour = \"1d70b8\"",
        "[brand]\ncolour = 0x1d70b8",
        "[brand]\ncolor = \"#1d70b8\"",
        "[brand]\nname = \"\"",
        "[brand]\nname = \"Acme\\nSupport\"",
        "[brand]\nlogo = \"missing.png\"",
        "[brand]\nlogo = \"big.png\"",
        "[brand]\nlogo = \"anim.png\"",
        "[brand]\nlogo = \"folder.png\"",
        "[brand]\nsupport_url = \"acme.example/contact\"",
        "[brand]\nsupport_url = \"javascript:alert(1)\"",
        "frame_ancestors = [\"support.example.com\"]",
        "frame_ancestors = [\"https://support.example.com/embed\"]",
        "frame_ancestors = [\"https://*.example.com\"]",
        "frame_ancestors = [\"'self'\"]",
        "frame_ancestors = \"https://support.example.com\"",
        "frame_ancestors = [80]",
        "[brand]\nframe_ancestors = [\"ftp://support.example.com\"]",
        "frame_ancestors = [\"https://a.example\"]\n[brand]\nframe_ancestors = [\"https://b.example\"]",
    ];
    let mut out = String::new();
    for text in cases {
        let e = dir.load(text).unwrap_err();
        let shown = e
            .to_string()
            .replace(&*dir.0.to_string_lossy(), "/etc/fixpath");
        out.push_str(&format!("{text}\n=> {shown}\n\n"));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn a_relative_logo_is_read_from_the_files_folder() {
    let dir = Dir::new("relative");
    // Not from the working directory: the file's own folder.
    assert_ne!(std::env::current_dir().unwrap(), dir.0);
    assert!(
        dir.load("[brand]\nlogo = \"logo.png\"")
            .unwrap()
            .brand
            .logo
            .is_some()
    );
    let abs = dir.0.join("logo.png");
    let text = format!("[brand]\nlogo = {:?}", abs.to_string_lossy());
    assert!(dir.load(&text).unwrap().brand.logo.is_some());
    assert!(Path::new(&abs).is_absolute());
}

#[test]
fn the_brand_names_a_sender_written_without_a_name() {
    let dir = Dir::new("mail");
    let smtp = "smtp = \"smtp://127.0.0.1:2525\"\n";
    let c = dir
        .load(&format!(
            "{smtp}mail_from = \"help@acme.example\"\n[brand]\nname = \"Acme Support\"\n"
        ))
        .unwrap();
    assert_eq!(
        c.mail.unwrap().from().to_string(),
        "Acme Support <help@acme.example>"
    );
    let c = dir
        .load(&format!(
            "{smtp}mail_from = \"Acme Helpdesk <help@acme.example>\"\n[brand]\nname = \"Acme Support\"\n"
        ))
        .unwrap();
    assert_eq!(
        c.mail.unwrap().from().to_string(),
        "Acme Helpdesk <help@acme.example>"
    );
}
