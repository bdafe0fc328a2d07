//! Case references: the code a customer reads out on the phone or types
//! into `/status`, and the one form lookups compare.

/// A reference a customer can read out on the phone: 8 characters from an
/// alphabet without look-alikes (no 0/O, 1/I/L), as `XXXX-XXXX`.
pub fn new_reference() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    let mut out = String::with_capacity(9);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            out.push('-');
        }
        out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
    }
    Ok(out)
}

/// The form lookups compare: ASCII letters in upper case, without dashes
/// and spaces, so `auk2gpa2`, `AUK2 GPA2` and `AUK2-GPA2` are one
/// reference. (The migration that filled this in for older cases does the
/// same in SQL, which is why only ASCII letters change case.)
pub fn normalise(reference: &str) -> String {
    reference
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_readable_and_normalise() {
        let r = new_reference().unwrap();
        assert_eq!(r.len(), 9);
        assert_eq!(&r[4..5], "-");
        assert!(!r.contains(['0', 'O', '1', 'I', 'L']), "{r}");
        assert_eq!(normalise("auk2-gpa2"), "AUK2GPA2");
        assert_eq!(normalise(" AUK2 GPA2 "), "AUK2GPA2");
        assert_eq!(normalise(&r), r.replace('-', ""));
    }
}
