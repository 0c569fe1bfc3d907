//! Redis Cluster's key slots: which of the 16,384 slots a key hashes to (CRC16 of the key, or of its `{hash tag}`).
//! The engine spreads its shards over the slots with it, and the memory store refuses, as a cluster does, a script
//! call whose keys span slots.

/// How many slots a Redis Cluster has.
pub(crate) const SLOTS: u16 = 16_384;

/// CRC16/XMODEM, the checksum Redis Cluster hashes keys with.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &byte| {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
        crc
    })
}

/// The slot of a key: only the part between the first `{` and the next `}` counts when it is not empty.
pub(crate) fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = key.find('{').and_then(|open| {
        let close = key[open + 1..].find('}')? + open + 1;
        (close > open + 1).then(|| &bytes[open + 1..close])
    });
    crc16(tagged.unwrap_or(bytes)) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::slot_of;

    #[test]
    fn slots_match_redis_cluster() {
        // the values `CLUSTER KEYSLOT` gives
        assert_eq!(slot_of("foo"), 12182);
        assert_eq!(slot_of("bar"), 5061);
        assert_eq!(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
        assert_eq!(slot_of("{user1000}.following"), slot_of("user1000"));
        assert_eq!(slot_of("foo{}{bar}"), slot_of("foo{}{bar}"), "an empty tag hashes the whole key");
        assert_ne!(slot_of("foo{}{bar}"), slot_of("bar"));
        assert_eq!(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    }
}
