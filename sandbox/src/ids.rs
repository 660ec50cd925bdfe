//! Identifiers the simulators hand out: GUIDs and random tokens.

/// A random (version 4) GUID, lowercase, as .NET prints `Guid.NewGuid()`.
pub(crate) fn new_guid() -> String {
    const VERSION_MASK: u128 = 0xf << 76;
    const VERSION_4: u128 = 0x4 << 76;
    const VARIANT_MASK: u128 = 0x3 << 62;
    const VARIANT_RFC4122: u128 = 0x2 << 62;
    let n = (fastrand::u128(..) & !VERSION_MASK & !VARIANT_MASK) | VERSION_4 | VARIANT_RFC4122;
    let hex = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Whether `text` is a GUID in its usual form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any
/// casing, optionally in braces as .NET also parses it).
pub(crate) fn is_guid(text: &str) -> bool {
    let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The canonical form of a GUID for lookups: lowercase, without braces.
pub(crate) fn normalize_guid(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text).to_ascii_lowercase()
}

/// `len` random characters from the base64url alphabet.
pub(crate) fn random_segment(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_version_4_and_recognised() {
        let guid = new_guid();
        assert_eq!(guid.len(), 36);
        assert_eq!(&guid[14..15], "4");
        assert!(is_guid(&guid));
        assert!(is_guid("{6F9619FF-8B86-D011-B42D-00CF4FC964FF}"));
        assert!(!is_guid("6F9619FF8B86D011B42D00CF4FC964FF"));
        assert!(!is_guid("6F9619FF-8B86-D011-B42D-00CF4FC964FZ"));
        assert_eq!(
            normalize_guid(" {6F9619FF-8B86-D011-B42D-00CF4FC964FF} "),
            "6f9619ff-8b86-d011-b42d-00cf4fc964ff"
        );
    }

    #[test]
    fn segments_use_the_url_safe_alphabet() {
        let segment = random_segment(64);
        assert_eq!(segment.len(), 64);
        assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
